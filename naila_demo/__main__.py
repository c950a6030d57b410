"""`python -m naila_demo` / `naila-demo`: the whole assistant on one machine, one command.

Starts an MQTT broker (a private mosquitto on 127.0.0.1, or --mqtt-host), the AI server with the
bundled models, the gateway, a simulated device that speaks (--wav or --say), listens and saves
each reply as a WAV, and a simulated camera where a person walks in: the AI server's
`person_detected` alert is printed with its zone and confidence. Ctrl-C (or SIGTERM) stops
everything, exit code 130.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

from naila_demo.alerts import AlertWatcher
from naila_demo.camera import camera_device
from naila_demo.conversation import TurnError, TurnResult, run_turn
from naila_demo.speech import SpeechError, load_utterance
from naila_demo.stack import DemoStack, StackSettings
from naila_protocol.topics import DEFAULT_PREFIX, is_valid_device_id
from naila_sim import SimDevice

DEFAULT_SAY = "How many legs does a spider have?"
"""Heard right by the packaged Whisper through the whole path, answered right by the packaged LLM."""
CAMERA_ID = "demo-camera"
EXIT_INTERRUPTED = 130
EXIT_FAILED = 1

_LOGGER = logging.getLogger("naila_demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="naila-demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    talk = parser.add_argument_group("conversation")
    source = talk.add_mutually_exclusive_group()
    source.add_argument("--wav", type=Path, help="16-bit PCM WAV the device speaks")
    source.add_argument(
        "--say", help=f"text the device speaks via espeak-ng (default {DEFAULT_SAY!r})"
    )
    talk.add_argument(
        "--turns", type=int, default=1, help="turns to run; 0 = until Ctrl-C (default 1)"
    )
    talk.add_argument(
        "--out-dir",
        type=Path,
        default=Path("naila-demo-out"),
        help="reply WAVs and child logs go here (default ./naila-demo-out)",
    )
    talk.add_argument("--device-id", default="demo-device", help="simulated device id")
    talk.add_argument(
        "--turn-timeout", type=float, default=90.0, help="seconds to wait for a reply"
    )
    cam = parser.add_argument_group("camera")
    cam.add_argument("--no-camera", action="store_true", help="no simulated camera")
    cam.add_argument(
        "--camera-zone", default="front_door", help="zone of the camera (default front_door)"
    )
    cam.add_argument(
        "--alert-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the camera's person_detected alert (default 120)",
    )
    talk.add_argument(
        "--reply-timeout",
        type=float,
        default=30.0,
        help="the gateway's AI-server reply timeout (its own default is 10 s; first replies "
        "on a slow machine can take longer) (default 30)",
    )
    mqtt = parser.add_argument_group("MQTT")
    mqtt.add_argument("--mqtt-host", help="use this broker instead of a private mosquitto")
    mqtt.add_argument(
        "--mqtt-port", type=int, default=1883, help="port of --mqtt-host (default 1883)"
    )
    mqtt.add_argument("--mqtt-username")
    mqtt.add_argument("--mqtt-password")
    mqtt.add_argument("--mqtt-prefix", default=DEFAULT_PREFIX)
    mqtt.add_argument("--mqtt-tls-ca-file", help="CA certificate of --mqtt-host (turns TLS on)")
    mqtt.add_argument("--mqtt-tls-cert-file", help="client certificate (PEM)")
    mqtt.add_argument("--mqtt-tls-key-file", help="client certificate key (PEM)")
    procs = parser.add_argument_group("processes")
    procs.add_argument(
        "--server-start-timeout",
        type=float,
        default=240.0,
        help="seconds the AI server may take to load its models",
    )
    procs.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="extra argument for `python -m wyoming_bridge` (repeatable)",
    )
    procs.add_argument(
        "--gateway-arg",
        action="append",
        default=[],
        help="extra argument for `python -m naila_gateway` (repeatable)",
    )
    parser.add_argument("--log-level", default="INFO", help="demo and children (default INFO)")
    return parser  # fmt: skip


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.reply_timeout <= 0 or args.turn_timeout <= 0 or args.alert_timeout <= 0:
        parser.error("--reply-timeout, --turn-timeout and --alert-timeout must be positive")
    if args.turns < 0:
        parser.error("--turns must be 0 (until Ctrl-C) or more")
    if not is_valid_device_id(args.device_id):
        parser.error("--device-id: 1-64 characters of letters, digits, _ . : -")
    if args.wav is not None and not args.wav.is_file():
        parser.error(f"--wav: no such file: {args.wav}")
    if args.say is None and args.wav is None:
        args.say = DEFAULT_SAY


def _show_turn(console: Console, turn: TurnResult) -> None:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    console.rule(f"turn {turn.index}")
    console.print(
        f"[bold]transcript:[/bold] {turn.transcript}", markup=True, highlight=False, soft_wrap=True
    )
    console.print(
        f"[bold]reply:[/bold]      {turn.reply}", markup=True, highlight=False, soft_wrap=True
    )
    console.print(
        f"[bold]first audio:[/bold] {ms(turn.first_audio_ms)} at the device "
        f"(gateway: {ms(turn.gateway_first_audio_ms)})",
        markup=True,
        highlight=False,
        soft_wrap=True,
    )
    if turn.timings:
        parts = ", ".join(f"{k} {v:.0f}" for k, v in turn.timings.items())
        console.print(f"server timings (ms): {parts}", highlight=False, soft_wrap=True)
    if turn.reply_wav is not None:
        console.print(
            f"reply audio: {turn.reply_seconds:.1f} s voiced -> {turn.reply_wav}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(f"no reply audio (status {turn.status})", highlight=False, soft_wrap=True)


async def _demo(args: argparse.Namespace, console: Console) -> int:
    speech = await asyncio.to_thread(load_utterance, args.wav, args.say)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    settings = StackSettings(
        out_dir=args.out_dir,
        mqtt_host=args.mqtt_host,
        mqtt_port=args.mqtt_port,
        mqtt_username=args.mqtt_username,
        mqtt_password=args.mqtt_password,
        prefix=args.mqtt_prefix,
        mqtt_tls_ca_file=args.mqtt_tls_ca_file,
        mqtt_tls_cert_file=args.mqtt_tls_cert_file,
        mqtt_tls_key_file=args.mqtt_tls_key_file,
        log_level=args.log_level.upper(),
        server_start_s=args.server_start_timeout,
        server_args=args.server_arg,
        gateway_args=["--reply-timeout", str(args.reply_timeout), *args.gateway_arg],
    )
    async with contextlib.AsyncExitStack() as running:
        stack = await running.enter_async_context(DemoStack(settings))
        pids = ", ".join(f"{c.name} pid {c.pid}" for c in stack.children)
        console.print(
            f"ready: broker {stack.mqtt_host}:{stack.mqtt_port}, audio socket "
            f"127.0.0.1:{stack.audio_port}, {pids}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(f"device page: {stack.page_url}", highlight=False, soft_wrap=True)
        if not args.no_camera:
            alerts = await running.enter_async_context(AlertWatcher(stack.mqtt_settings()))
            camera = await camera_device(stack, CAMERA_ID, args.camera_zone)
            await running.enter_async_context(camera)
            console.print(f"camera {CAMERA_ID} streaming in zone {args.camera_zone}")
            # before the conversation, so detection does not share the CPU with a turn
            alert = await alerts.first(args.alert_timeout)
            if alert is None:
                raise TurnError(f"no alert from the camera within {args.alert_timeout:.0f} s")
            console.print(
                f"[bold]alert:[/bold] {alert.describe()}", highlight=False, soft_wrap=True
            )
        device = await running.enter_async_context(SimDevice(stack.device_config(args.device_id)))
        await device.wait_connected(30.0)
        console.print(f"device {args.device_id} connected; speaking {speech.size / 48000:.1f} s")
        index = 0
        while args.turns == 0 or index < args.turns:
            index += 1
            turn = await run_turn(device, speech, index, args.out_dir, within_s=args.turn_timeout)
            _show_turn(console, turn)
            await asyncio.sleep(0.5)
    console.print("stopped cleanly")
    return 0


async def _main(args: argparse.Namespace, console: Console) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(_demo(args, console))
    interrupted = asyncio.Event()

    def _on_signal(signum: int) -> None:
        if interrupted.is_set():
            _LOGGER.warning("still stopping, please wait")
            return
        _LOGGER.info("%s: stopping", signal.Signals(signum).name)
        interrupted.set()
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _on_signal, signum)
    try:
        return await task
    except asyncio.CancelledError:
        if interrupted.is_set():
            console.print("interrupted: everything stopped", highlight=False, soft_wrap=True)
            return EXIT_INTERRUPTED
        raise
    except (SpeechError, TurnError, RuntimeError, TimeoutError, OSError) as err:
        _LOGGER.error("demo failed: %s", err)
        return EXIT_FAILED


def run(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    _validate(parser, args)
    console = Console()
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    for noisy in ("aioice", "aiortc", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sys.exit(asyncio.run(_main(args, console)))


if __name__ == "__main__":
    run()
