"""Command-line parts the first-audio benches share: the run group, --log-level, checks."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence

from bench.speech import DEFAULT_UTTERANCES, Utterance, make_utterances


def add_run_arguments(
    parser: argparse.ArgumentParser,
    *,
    turns: int,
    turns_help: str,
    warmup: int,
    max_seconds: float,
) -> argparse._ArgumentGroup:
    """The "run" group (--turns, --warmup, --utterance, --max-seconds) and --log-level."""
    run = parser.add_argument_group("run")
    run.add_argument("--turns", type=int, default=turns, help=f"{turns_help} (default %(default)s)")
    run.add_argument(
        "--warmup",
        type=int,
        default=warmup,
        help="unmeasured turns per system (default %(default)s)",
    )
    run.add_argument(
        "--utterance",
        action="append",
        dest="utterances",
        metavar="TEXT",
        help="request spoken by espeak-ng (repeatable; default: bench/speech.py's six)",
    )
    run.add_argument(
        "--max-seconds",
        type=float,
        default=max_seconds,
        help="stop measuring after this long and report what was measured (default %(default)s)",
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="logging level (default %(default)s)"
    )
    return run


def parse_bench_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse, check the run group, and set up logging at --log-level."""
    args = parser.parse_args(argv)
    if args.turns < 1 or args.warmup < 0:
        raise SystemExit("--turns must be >= 1 and --warmup >= 0")
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return args


async def bench_utterances(args: argparse.Namespace) -> list[Utterance]:
    """The --utterance texts (default: DEFAULT_UTTERANCES) spoken by espeak-ng, off the loop."""
    texts = args.utterances or list(DEFAULT_UTTERANCES)
    print(f"synthesizing {len(texts)} utterances with espeak-ng ...", flush=True)
    return await asyncio.to_thread(make_utterances, texts)
