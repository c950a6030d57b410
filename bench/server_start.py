"""AI server cold start by stage: `python -m wyoming_bridge` from exec to the first reply.

Each run starts a fresh server process on free 127.0.0.1 ports and reads, from its own log
lines, when each stage finished (process up, each model loaded and warmed up, engines ready,
audio socket listening), then times a SPEAK request until its first reply audio (the voice
path works). `--baseline-repo` runs the same from another checkout (e.g. `git worktree add
/tmp/base main`) in alternation, so both share the machine's load; ratios compare them.

    python -m bench.server_start --runs 3
    python -m bench.server_start --runs 3 --baseline-repo /tmp/base --vision
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

from naila_demo.children import ChildProcess, free_port
from naila_protocol.framing import Frame, FrameKind, encode_frame, read_frame

REPO = Path(__file__).resolve().parents[1]
STAGES = {
    "first log line": r" INFO ",
    "STT loaded": r"STT loaded",
    "LLM loaded": r"LLM loaded",
    "TTS loaded": r"TTS loaded",
    "STT warm": r"STT warmed up",
    "LLM warm": r"LLM warmed up",
    "TTS warm": r"TTS warmed up",
    "engines ready": r"engines ready",
    "socket listening": r"audio socket listening",
}
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


@dataclass(slots=True)
class StartRun:
    stages: dict[str, float] = field(default_factory=dict)
    """Seconds after exec at which each stage's log line appeared."""
    listening_s: float | None = None
    first_audio_s: float | None = None


def stage_times(log: str, started_wall: float) -> dict[str, float]:
    """First log line of each stage -> seconds after `started_wall` (time.time())."""
    found: dict[str, float] = {}
    for line in log.splitlines():
        stamp = _STAMP.match(line)
        if stamp is None:
            continue
        wall = time.mktime(time.strptime(stamp[1][:19], "%Y-%m-%d %H:%M:%S"))
        wall += int(stamp[1][20:]) / 1000
        for name, pattern in STAGES.items():
            if name not in found and re.search(pattern, line):
                found[name] = wall - started_wall
    return found


async def first_audio(port: int) -> None:
    """A SPEAK request until its first AUDIO frame."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(encode_frame(Frame("start", 16000, "start1", FrameKind.SPEAK, b"Ready.")))
        await writer.drain()
        while True:
            frame = await read_frame(reader)
            if frame is None:
                raise RuntimeError("server closed the audio socket")
            if frame.kind is FrameKind.AUDIO or frame.kind is FrameKind.ERROR:
                return
    finally:
        writer.close()


async def one_start(repo: Path, out: Path, vision: bool, index: int) -> StartRun:
    port = free_port()
    argv = [
        "env", "-C", str(repo), sys.executable, "-m", "wyoming_bridge", "--audio-socket-host", "127.0.0.1",
        "--audio-socket-port", str(port), "--no-wyoming", "--log-level", "INFO",
        *([] if vision else ["--no-vision"]),
    ]  # fmt: skip
    log_path = out / f"server-{repo.name}-{index}.log"
    child = ChildProcess(
        "server",
        argv,
        log_path=log_path,
        env={"PYTHONPATH": str(repo)},
    )
    run = StartRun()
    started_wall, started = time.time(), time.monotonic()
    await child.start()
    try:
        await child.wait_for_port("127.0.0.1", port, 300.0)
        run.listening_s = time.monotonic() - started
        await asyncio.wait_for(first_audio(port), 120.0)
        run.first_audio_s = time.monotonic() - started
    finally:
        await child.stop()
    run.stages = stage_times(log_path.read_text(errors="replace"), started_wall)
    return run


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def report(label: str, runs: list[StartRun]) -> dict[str, float | None]:
    rows: dict[str, float | None] = {}
    for name in STAGES:
        rows[name] = median([r.stages[name] for r in runs if name in r.stages])
    rows["port accepts"] = median([r.listening_s for r in runs if r.listening_s is not None])
    rows["first audio"] = median([r.first_audio_s for r in runs if r.first_audio_s is not None])
    print(f"{label} ({len(runs)} runs, median seconds after exec):")
    for name, value in rows.items():
        if value is not None:
            print(f"  {name:18} {value:6.1f} s")
    return rows


async def main_async(args: argparse.Namespace) -> int:
    repos = [REPO] + ([args.baseline_repo.resolve()] if args.baseline_repo else [])
    runs: dict[Path, list[StartRun]] = {repo: [] for repo in repos}
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        out = args.keep_logs or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for index in range(args.runs):
            for repo in repos:
                runs[repo].append(await one_start(repo, out, args.vision, index))
                print(f"  run {index + 1} {repo}: first audio {runs[repo][-1].first_audio_s:.1f} s")
    print(f"load: {os.getloadavg()[0]:.1f} (1-min average at the end)")
    this = report(f"this checkout ({REPO})", runs[REPO])
    if args.baseline_repo:
        base = report(f"baseline ({repos[1]})", runs[repos[1]])
        for name in ("port accepts", "first audio"):
            mine, theirs = this[name], base[name]
            if mine is not None and theirs:
                print(f"ratio {name}: {mine / theirs:.2f} of the baseline")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server_start", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--vision", action="store_true", help="with vision (default: without)")
    parser.add_argument("--baseline-repo", type=Path, help="another checkout to compare")
    parser.add_argument("--keep-logs", type=Path)
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
