"""Home Assistant 2025.4's own `wyoming` integration uses NAILA's server for STT, TTS and chat."""

from __future__ import annotations

import io
import wave
from array import array
from collections.abc import AsyncIterator

from homeassistant.components import conversation, stt, tts
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import intent
from pytest_homeassistant_custom_component.common import MockConfigEntry


def _entity_id(hass: HomeAssistant, domain: str, entry: MockConfigEntry, suffix: str) -> str:
    """The entity the wyoming integration registered for this entry (unique id '<entry>-<suffix>')."""
    entity_id = er.async_get(hass).async_get_entity_id(
        domain, "wyoming", f"{entry.entry_id}-{suffix}"
    )
    assert entity_id is not None, f"no {domain} entity for the NAILA server"
    return entity_id


async def _chunks(pcm: bytes, size: int = 1024) -> AsyncIterator[bytes]:
    for offset in range(0, len(pcm), size):
        yield pcm[offset : offset + size]


async def test_stt_transcribes_spoken_request(
    hass: HomeAssistant, wyoming_entry: MockConfigEntry, spoken_request: bytes
) -> None:
    entity_id = _entity_id(hass, "stt", wyoming_entry, "stt")
    engine = stt.async_get_speech_to_text_entity(hass, entity_id)
    assert engine is not None
    assert "en" in engine.supported_languages
    metadata = stt.SpeechMetadata(
        language="en",
        format=stt.AudioFormats.WAV,
        codec=stt.AudioCodecs.PCM,
        bit_rate=stt.AudioBitRates.BITRATE_16,
        sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
        channel=stt.AudioChannels.CHANNEL_MONO,
    )

    result = await engine.async_process_audio_stream(metadata, _chunks(spoken_request))

    assert result.result is stt.SpeechResultState.SUCCESS
    words = result.text.lower()
    assert "kitchen" in words and "light" in words, result.text


async def test_tts_produces_speech(hass: HomeAssistant, wyoming_entry: MockConfigEntry) -> None:
    entity_id = _entity_id(hass, "tts", wyoming_entry, "tts")
    stream = tts.async_create_stream(hass, entity_id, options={tts.ATTR_PREFERRED_FORMAT: "wav"})
    stream.async_set_message("The kitchen lights are on.")

    data = b"".join([chunk async for chunk in stream.async_stream_result()])

    with wave.open(io.BytesIO(data), "rb") as wav:
        seconds = wav.getnframes() / wav.getframerate()
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        samples = array("h", wav.readframes(wav.getnframes()))
    assert 0.8 < seconds < 10.0, seconds
    assert max(abs(sample) for sample in samples) > 1000, "TTS audio is silent"


async def test_conversation_agent_answers(
    hass: HomeAssistant, wyoming_entry: MockConfigEntry
) -> None:
    agent_id = _entity_id(hass, "conversation", wyoming_entry, "conversation")

    result = await conversation.async_converse(
        hass, "What can you do for me?", None, Context(), language="en", agent_id=agent_id
    )

    assert result.response.response_type is not intent.IntentResponseType.ERROR, (
        result.response.as_dict()
    )
    speech = result.response.speech["plain"]["speech"]
    assert speech.strip(), result.response.as_dict()
