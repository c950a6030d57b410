"""Conversation memory without cost: KV state reuse, shifting, saving, trimming (real SmolLM2)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from wyoming_bridge import kv_state
from wyoming_bridge.chat_prompt import PromptTooLongError, ReplyCopyGuard
from wyoming_bridge.kv_state import KvStateStore, SavedState, plan_reuse
from wyoming_bridge.llm import LlmEngine, LlmSettings, build_messages
from wyoming_bridge.models import llm_model_file

QUESTIONS = (
    "what time is it",
    "turn on the kitchen lights",
    "what's the weather like tomorrow",
    "set a timer for ten minutes",
    "tell me a joke about cats",
)


def test_plan_reuse_finds_the_dropped_exchange() -> None:
    system, header = [1, 2, 3], [7, 8]
    turn_a, turn_b, turn_c = [*header, 20, 21, 22], [*header, 30, 31], [*header, 40, 41, 42]
    evaluated = system + turn_a + turn_b + turn_c + [50, 51]
    prompt = system + turn_b + turn_c + header + [60]
    plan = plan_reuse(evaluated, prompt, min_gain=2)
    assert (plan.keep, plan.drop) == (3, len(turn_a))  # the block starts at the message boundary
    assert plan.reused == len(system + turn_b + turn_c)
    shifted = evaluated[: plan.keep] + evaluated[plan.keep + plan.drop :]
    assert shifted[: plan.reused] == prompt[: plan.reused]


def test_plan_reuse_keeps_a_plain_prefix() -> None:
    assert plan_reuse([1, 2, 3, 4], [1, 2, 3, 4, 5]).reused == 4
    assert plan_reuse([1, 2, 9, 9], [1, 2, 3]) == plan_reuse([1, 2], [1, 2, 3])
    assert plan_reuse([], [1, 2]).reused == 0


def test_store_is_lru_and_byte_capped() -> None:
    def state(size: int) -> SavedState:
        return SavedState(np.zeros(1, dtype=np.intc), bytes(size))

    store = KvStateStore(max_states=2, max_bytes=1000)
    assert store.put("a", state(100)) and store.put("b", state(100)) and store.put("c", state(100))
    assert "a" not in store and len(store) == 2  # least recently used dropped
    assert store.put("d", state(800))
    assert "b" not in store and store.nbytes <= 1000
    assert not store.put("huge", state(5000))  # over the cap alone: not kept
    assert "huge" not in store and store.take("c") is not None and store.take("c") is None


def test_copy_guard_bans_the_token_that_completes_a_copied_run() -> None:
    guard = ReplyCopyGuard(previous=[1, 2, 3, 4, 5], prompt_length=2, n=3)
    scores = np.zeros(8, dtype=np.float32)
    assert guard(np.array([9, 9, 1, 2]), scores.copy())[3] == -np.inf
    assert np.isfinite(guard(np.array([9, 9, 7, 2]), scores.copy())).all()
    assert np.isfinite(guard(np.array([9, 9, 1]), scores.copy())).all()  # too short yet


def make_engine(**overrides: Any) -> LlmEngine:
    fields: dict[str, Any] = {"max_tokens": 16, "temperature": 0.0, "context_size": 512}
    settings = LlmSettings(**{**fields, "threads": 1, **overrides})
    engine = LlmEngine(llm_model_file(), settings)
    engine.warm_up()
    return engine


@pytest.fixture(scope="module")
def engine() -> Iterator[LlmEngine]:
    yield make_engine()


def say(engine: LlmEngine, history: list[tuple[str, str]], text: str, who: str, keep: int) -> str:
    messages = build_messages(engine.settings.system_prompt, history[-keep:] if keep else [], text)
    reply = engine.complete(messages, conversation=who)
    history.append((text, reply))
    return reply


def test_sliding_history_is_shifted_not_evaluated_again(engine: LlmEngine) -> None:
    assert engine.kv is not None
    history: list[tuple[str, str]] = []
    shifts = engine.kv.shifts
    for text in QUESTIONS:
        assert say(engine, history, text, "kitchen", keep=2)
    assert engine.last_prompt is not None
    prompt_tokens = len(engine.last_prompt.tokens)
    assert engine.kv.shifts - shifts >= 2  # turns 4 and 5 dropped their oldest exchange
    assert engine.kv.last_reused >= prompt_tokens - 24, (engine.kv.last_reused, prompt_tokens)


def test_cache_off_evaluates_the_slid_history_again() -> None:
    engine = make_engine(kv_cache=False)
    assert engine.kv is None
    history: list[tuple[str, str]] = []
    for text in QUESTIONS[:4]:
        say(engine, history, text, "kitchen", keep=2)
    assert engine.last_prompt is not None
    evaluated = engine.evaluated_before_last
    assert evaluated < len(engine.last_prompt.tokens) // 2, evaluated


def test_interleaved_conversations_restore_their_saved_state(engine: LlmEngine) -> None:
    assert engine.kv is not None
    assert engine.kv.can_restore, "llama-cpp-python changed: check can_mark_logits_stale"
    hall: list[tuple[str, str]] = []
    office: list[tuple[str, str]] = []
    say(engine, hall, QUESTIONS[0], "hall", keep=3)
    say(engine, hall, QUESTIONS[1], "hall", keep=3)
    say(engine, office, QUESTIONS[2], "office", keep=3)
    assert "hall" in engine.kv.store  # displaced, saved
    restores = engine.kv.restores
    say(engine, hall, QUESTIONS[3], "hall", keep=3)
    assert engine.kv.restores == restores + 1
    assert engine.last_prompt is not None
    assert engine.kv.last_reused >= len(engine.last_prompt.tokens) - 24


def test_state_that_no_longer_fits_the_context_is_trimmed() -> None:
    engine = make_engine(context_size=256, history_tokens=10_000)
    assert engine.kv is not None
    long_question = "please tell me about the weather in the garden and the kitchen " * 3
    porch: list[tuple[str, str]] = []
    other: list[tuple[str, str]] = []
    for _ in range(3):
        say(engine, porch, long_question, "porch", keep=99)
    say(engine, other, "hello", "other", keep=3)  # porch's state is saved
    for _ in range(3):
        assert say(engine, porch, long_question, "porch", keep=99)
        assert engine.last_prompt is not None
        assert len(engine.last_prompt.tokens) + 16 <= 256
    assert engine.last_prompt.dropped_turns > 0
    assert engine.kv.restores >= 1


def test_state_over_the_byte_cap_is_not_kept_and_costs_only_time() -> None:
    engine = make_engine(kv_state_mb=0.001)
    assert engine.kv is not None
    first: list[tuple[str, str]] = []
    say(engine, first, QUESTIONS[0], "first", keep=3)
    say(engine, [], QUESTIONS[1], "second", keep=3)
    assert len(engine.kv.store) == 0
    assert say(engine, first, QUESTIONS[2], "first", keep=3)


def test_prompt_longer_than_the_context_is_a_clear_error() -> None:
    engine = make_engine(context_size=128)
    with pytest.raises(PromptTooLongError, match="does not fit the context"):
        engine.complete(build_messages("be brief", [], "word " * 300), conversation="porch")


def test_reply_does_not_copy_the_previous_reply(engine: LlmEngine) -> None:
    history: list[tuple[str, str]] = []
    first = say(engine, history, "tell me a joke about cats", "den", keep=3)
    second = say(engine, history, "tell me a joke about cats", "den", keep=3)
    assert first and second and second != first


def test_changing_facts_do_not_break_the_cached_prefix(engine: LlmEngine) -> None:
    assert engine.kv is not None
    history: list[tuple[str, str]] = []
    shifts = engine.kv.shifts
    for minute, text in zip(("2:07", "2:08", "2:09"), QUESTIONS, strict=False):
        facts = f"It is Thursday, December 3, 2026, {minute} PM local time."
        messages = build_messages(engine.settings.system_prompt, history, text, facts=facts)
        history.append((text, engine.complete(messages, conversation="clock")))
    assert engine.last_prompt is not None
    assert engine.kv.shifts - shifts == 2  # the last turn's facts were cut out of the cache
    assert engine.evaluated_before_last >= 0.6 * len(engine.last_prompt.tokens)


def test_kv_settings_come_from_flags_and_environment() -> None:
    from naila_protocol.settings import load_settings  # noqa: PLC0415
    from wyoming_bridge.app import ServerSettings  # noqa: PLC0415
    from wyoming_bridge.cli import parse_settings  # noqa: PLC0415

    environ = {"LLM_KV_STATES": "3", "LLM_KV_STATE_MB": "64.5", "LLM_COPY_GUARD_TOKENS": "0"}
    llm = load_settings(ServerSettings, environ).llm
    assert (llm.kv_states, llm.kv_state_mb, llm.copy_guard_tokens) == (3, 64.5, 0)
    flags = ["--llm-kv-states", "2", "--llm-kv-state-mb", "32", "--llm-copy-guard-tokens", "6"]
    llm = parse_settings(flags).llm
    assert (llm.kv_states, llm.kv_state_mb, llm.copy_guard_tokens) == (2, 32.0, 6)
    assert parse_settings([]).llm == LlmSettings()


def test_kv_setting_out_of_range_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from wyoming_bridge.cli import parse_settings  # noqa: PLC0415

    with pytest.raises(SystemExit):
        parse_settings(["--llm-kv-states", "-1"])
    assert "argument --llm-kv-states: '-1' is outside 0..64" in capsys.readouterr().err


def test_restores_only_on_checked_llama_cpp_releases(monkeypatch: pytest.MonkeyPatch) -> None:
    llama = SimpleNamespace(_requires_eval=False)
    assert kv_state.can_mark_logits_stale(llama)
    assert not kv_state.can_mark_logits_stale(SimpleNamespace())  # the flag is gone
    monkeypatch.setattr(kv_state, "version", lambda _name: "0.4.0")
    assert not kv_state.can_mark_logits_stale(llama)
