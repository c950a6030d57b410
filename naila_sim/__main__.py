"""`python -m naila_sim`: a simulated device that speaks, listens and reports each turn."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import numpy as np

from naila_protocol.mqtt import DEFAULT_MQTT_PORT
from naila_protocol.process import run_until_stopped
from naila_protocol.topics import DEFAULT_PREFIX
from naila_protocol.vocab import DEFAULT_WAKE_WORD, ListeningMode, WakeWord
from naila_sim.audio import RATE, load_pcm, load_wav, speak_text
from naila_sim.device import SimDevice, SimDeviceConfig
from naila_sim.piper import piper_speech, wake_phrase

_LOGGER = logging.getLogger("naila_sim")


def _report(line: str) -> None:
    """The CLI's own output (per-turn results), on stdout."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="naila-sim", description=__doc__)
    device = parser.add_argument_group("device")
    device.add_argument("--device-id", default="sim_device")
    device.add_argument("--capabilities", default="audio,speaker", help="comma separated")
    device.add_argument(
        "--loopback", action="store_true", help="offer only 127.0.0.1 ICE candidates"
    )
    device.add_argument(
        "--listening-mode",
        type=ListeningMode,
        default=ListeningMode.ALWAYS,
        help=f"{'|'.join(ListeningMode)}, named in the status (default always)",
    )
    device.add_argument(
        "--wake-word",
        type=WakeWord,
        help=f"{'|'.join(WakeWord)}, named in the status (default: the gateway's)",
    )
    mqtt = parser.add_argument_group("MQTT")
    mqtt.add_argument("--mqtt-host", default="127.0.0.1")
    mqtt.add_argument("--mqtt-port", type=int, default=DEFAULT_MQTT_PORT)
    mqtt.add_argument("--mqtt-username")
    mqtt.add_argument("--mqtt-password")
    mqtt.add_argument("--mqtt-prefix", default=DEFAULT_PREFIX)
    mqtt.add_argument("--mqtt-tls-ca-file", help="CA certificate of the broker (turns TLS on)")
    mqtt.add_argument("--mqtt-tls-cert-file", help="client certificate (PEM)")
    mqtt.add_argument("--mqtt-tls-key-file", help="client certificate key (PEM)")
    speech = parser.add_argument_group("what to say (one turn per source, in order)")
    speech.add_argument("--wav", action="append", default=[], help="16-bit WAV file")
    speech.add_argument("--pcm", action="append", default=[], help="raw int16 mono PCM file")
    speech.add_argument("--pcm-rate", type=int, default=16000)
    speech.add_argument("--say", action="append", default=[], help="text spoken with espeak-ng")
    speech.add_argument(
        "--piper", action="store_true", help="speak --say texts with the packaged Piper voice"
    )
    speech.add_argument(
        "--no-wake-phrase",
        action="store_true",
        help="in wake_word mode, do not say the wake word before each turn",
    )
    speech.add_argument("--repeat", type=int, default=1, help="say everything this many times")
    speech.add_argument(
        "--pause", type=float, default=1.0, help="seconds of quiet after each reply"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--out", help="save everything heard to this WAV file")
    out.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a reply")
    parser.add_argument("--log-level", default="WARNING")
    return parser


async def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sources = _sources(args)
    config = SimDeviceConfig(
        args.device_id,
        mqtt_host=args.mqtt_host,
        mqtt_port=args.mqtt_port,
        mqtt_username=args.mqtt_username,
        mqtt_password=args.mqtt_password,
        prefix=args.mqtt_prefix,
        mqtt_tls_ca_file=args.mqtt_tls_ca_file,
        mqtt_tls_cert_file=args.mqtt_tls_cert_file,
        mqtt_tls_key_file=args.mqtt_tls_key_file,
        capabilities=[c.strip() for c in args.capabilities.split(",") if c.strip()],
        loopback=args.loopback,
        listening_mode=args.listening_mode,
        wake_word=args.wake_word,
    )
    try:
        async with SimDevice(config) as device:
            await _converse(device, args, sources)
    except TimeoutError as err:
        _LOGGER.error("%s: %s", args.device_id, err)
        return 1
    except OSError as err:  # the TLS files (read before connecting)
        _LOGGER.error("%s: cannot use the MQTT TLS files: %s", args.device_id, err)
        return 1
    return 0


async def _converse(device: SimDevice, args: argparse.Namespace, sources: list[np.ndarray]) -> None:
    """Speak each source in turn and report it; without sources stay online until stopped."""
    try:
        await device.wait_connected(60)
    except TimeoutError:
        raise TimeoutError("no WebRTC session with the gateway within 60 s") from None
    _report(f"{args.device_id}: connected (session {device.session_id})")
    for number, samples in enumerate(sources * args.repeat, 1):
        try:
            turn = await device.turn(samples, within=args.timeout)
        except TimeoutError:
            raise TimeoutError(f"turn {number}: no reply within {args.timeout:.0f} s") from None
        event = turn.event or {}
        _report(
            f"turn {number}: first audio {turn.first_audio_ms:.0f} ms | "
            f"heard {event.get('transcript', '?')!r} | reply {event.get('reply', '?')!r}"
        )
        try:
            await device.recorder.wait_quiet(turn.first_audio_index or 0, within=args.timeout)
        except TimeoutError:
            raise TimeoutError(
                f"turn {number}: reply still playing after {args.timeout:.0f} s"
            ) from None
        await asyncio.sleep(args.pause)
    if not sources:
        await asyncio.Event().wait()  # just stay online until stopped
    if args.out:
        device.recorder.save_wav(args.out)
        _report(f"saved what was heard to {args.out}")


def _sources(args: argparse.Namespace) -> list[np.ndarray]:
    """What to say, turn by turn; in wake_word mode each turn starts with the wake word."""
    wake = args.listening_mode is ListeningMode.WAKE_WORD and not args.no_wake_phrase
    word = args.wake_word or DEFAULT_WAKE_WORD
    files = [load_wav(p) for p in args.wav] + [load_pcm(p, args.pcm_rate) for p in args.pcm]
    if wake:  # the wake word (Piper), a short pause, then the recording
        gap = np.zeros(RATE * 3 // 10, dtype=np.int16)
        files = [np.concatenate((piper_speech(wake_phrase(word)), gap, f)) for f in files]
    texts = [wake_phrase(word, text) if wake else text for text in args.say]
    spoken = [piper_speech(t) if args.piper or wake else speak_text(t) for t in texts]
    return files + spoken


def run() -> None:
    """SIGINT or SIGTERM stop the device cleanly (offline status published): exit code 0."""
    sys.exit(run_until_stopped(main()) or 0)


if __name__ == "__main__":
    run()
