"""End-of-turn bench set: whole sentences (Piper and espeak-ng), half with a pause inserted.

A pause is made by cutting whole-sentence audio at a word gap (the lowest-energy stretch in
the middle of the speech) and inserting 400-900 ms of silence before the rest: truncated
*text* would be spoken with a sentence-final melody and test nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.speech import espeak_pcm, resample_pcm
from naila_demo.speech import trim_silence

RATE = 48000
SENTENCES = (
    "set the thermostat in the living room to twenty one degrees",
    "turn on the lights in the kitchen and the hallway",
    "what is the weather going to be like tomorrow morning",
    "set a timer for fifteen minutes for the pasta",
    "add milk and eggs to my shopping list",
    "turn off all the lights in the bedroom please",
    "what time does the sun set this evening",
    "close the garage door and lock the front door",
    "dim the lights in the dining room to thirty percent",
    "remind me to call my mother at six o'clock",
    "is the back door locked right now",
    "play some relaxing music in the living room",
    "how long will it take to drive to the airport",
    "turn the heating down to eighteen degrees tonight",
    "what is the temperature outside at the moment",
    "open the blinds in the office halfway",
    "tell me a short story about a brave little dog",
    "switch off the television in the basement",
    "what is on my calendar for tomorrow afternoon",
    "start the robot vacuum in the kitchen after lunch",
    "turn on the porch light when it gets dark",
    "how many minutes are left on the oven timer",
    "set the bedroom lights to a warm white colour",
    "what was the score of the football game last night",
)
ESPEAK_VOICES = ("en-us", "en-gb")
GAP_FRAME = 480
"""10 ms at 48 kHz: the resolution of the word-gap search."""


@dataclass(frozen=True, slots=True)
class TurnSample:
    """One bench utterance at 48 kHz int16, with where its pause (if any) lies."""

    name: str
    text: str
    voice: str
    audio: np.ndarray
    pause_start: float | None
    """Seconds into `audio` where the inserted pause begins (None: spoken in one go)."""
    pause_seconds: float
    speech_end: float
    """Seconds into `audio` of the last spoken sample."""

    @property
    def paused(self) -> bool:
        return self.pause_start is not None


def piper_pcm(text: str) -> np.ndarray:
    """48 kHz int16 of `text` in the packaged Piper voice (joe, medium)."""
    from wyoming_bridge.models import piper_voice_files  # noqa: PLC0415 - heavy
    from wyoming_bridge.tts import TtsEngine, TtsSettings  # noqa: PLC0415

    if not _PIPER:
        model, config = piper_voice_files()
        _PIPER.append(TtsEngine(model, config, TtsSettings()))
    return np.frombuffer(_PIPER[0].synthesize(text, RATE), dtype="<i2").astype(np.int16)


_PIPER: list[Any] = []


def espeak_48k(text: str, voice: str) -> np.ndarray:
    samples, rate = espeak_pcm(text, voice=voice)
    return np.frombuffer(resample_pcm(samples, rate, RATE), dtype="<i2").astype(np.int16)


def word_gap(audio: np.ndarray) -> int:
    """Sample index of the quietest 30 ms stretch between 35 % and 75 % of the speech."""
    frames = audio[: audio.size - audio.size % GAP_FRAME].astype(np.float64).reshape(-1, GAP_FRAME)
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-3
    smoothed = np.convolve(rms, np.ones(3) / 3, mode="same")
    lo, hi = int(0.35 * smoothed.size), int(0.75 * smoothed.size)
    return (lo + int(np.argmin(smoothed[lo:hi]))) * GAP_FRAME + GAP_FRAME // 2


def build_set(seed: int = 9, limit: int | None = None) -> list[TurnSample]:
    """Each sentence by Piper and by espeak-ng; one of the two gets a pause (alternating)."""
    rng = random.Random(seed)
    samples: list[TurnSample] = []
    for index, text in enumerate(SENTENCES[:limit]):
        espeak_voice = ESPEAK_VOICES[index % len(ESPEAK_VOICES)]
        voices = (("piper", piper_pcm(text)), (espeak_voice, espeak_48k(text, espeak_voice)))
        for number, (voice, raw) in enumerate(voices):
            speech = trim_silence(raw)
            pause = rng.uniform(0.4, 0.9)
            if (index + number) % 2 == 0:
                cut = word_gap(speech)
                gap = np.zeros(int(pause * RATE), dtype=np.int16)
                audio = np.concatenate((speech[:cut], gap, speech[cut:]))
                start: float | None = cut / RATE
            else:
                audio, start, pause = speech, None, 0.0
            name = f"{index:02d}-{voice}-{'paused' if start is not None else 'whole'}"
            samples.append(TurnSample(name, text, voice, audio, start, pause, audio.size / RATE))
    return samples
