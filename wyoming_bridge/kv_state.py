"""llama.cpp KV state per conversation: a prompt prefix is evaluated once, not every turn.

The model has one context. Between turns of one conversation llama-cpp-python already
reuses the evaluated prefix when the new prompt starts with the same tokens. Two things
break that, and this module repairs both:

- the history window slides (the oldest exchange is dropped): the tokens after the
  system prompt no longer line up. `plan_reuse` finds the dropped block; the cache
  removes it and shifts the rest of the KV cache down (llama.cpp's context shift), so
  only the new user turn is evaluated;
- another conversation (device, Home Assistant) used the context in between: the
  displaced conversation's KV cells are saved (`llama_state_seq_get_data`) in a bounded
  LRU (`KvStateStore`: at most N conversations and a byte cap) and restored on its
  next turn.

Everything here runs on the LLM worker thread, like the model itself.
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numpy as np

_LOGGER = logging.getLogger(__name__)
LLAMA_CPP_VERSIONS = ("0.3.",)
"""llama-cpp-python releases whose Llama decodes again before sampling while its
`_requires_eval` flag is set (`can_mark_logits_stale`, pinned by tests/server/test_memory.py)."""


def can_mark_logits_stale(llama: Any) -> bool:
    """Whether a restored KV state can be marked as not yet decoded (see `_restore`).

    llama-cpp-python has no public way to say so (its own `load_state` sets a private flag);
    the flag is set only on the releases checked, elsewhere states are not restored.
    """
    installed = version("llama-cpp-python")
    return installed.startswith(LLAMA_CPP_VERSIONS) and hasattr(llama, "_requires_eval")


SEQ = 0
"""llama-cpp-python's Llama evaluates everything in sequence 0."""


@dataclass(frozen=True, slots=True)
class ReusePlan:
    """How to turn the evaluated tokens into a prefix of the new prompt.

    Keep `keep` tokens, remove the `drop` tokens after them and shift the following
    ones down; then the first `reused` prompt tokens are already evaluated.
    """

    keep: int
    drop: int
    reused: int


def common_prefix(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> int:
    """Number of leading tokens `a` and `b` share."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if diff.size else n


def plan_reuse(
    evaluated: Sequence[int] | np.ndarray, prompt: Sequence[int] | np.ndarray, min_gain: int = 8
) -> ReusePlan:
    """Best reuse of `evaluated` for `prompt`: the common prefix, or one dropped block.

    A dropped block is found when `evaluated[k + d:]` lines up with `prompt[k:]` for some
    shift `d` (k = the common prefix); it is used if it saves at least `min_gain` tokens.
    """
    live = np.asarray(evaluated, dtype=np.int64)
    new = np.asarray(prompt, dtype=np.int64)
    k = common_prefix(live, new)
    best = ReusePlan(k, 0, k)
    if k >= len(live) or k >= len(new):
        return best
    for start in np.flatnonzero(live[k + 1 :] == new[k]) + k + 1:
        drop = int(start) - k
        span = min(len(live) - drop, len(new))
        if span <= k:
            break
        same = live[drop : drop + span] == new[:span]
        # the block may begin before k where both alignments agree (a message boundary)
        before = np.flatnonzero(~same[:k])
        keep = int(before[-1]) + 1 if before.size else 0
        after = np.flatnonzero(~same[k:])
        reused = k + (int(after[0]) if after.size else span - k)
        if reused - k >= min_gain and reused > best.reused:
            best = ReusePlan(keep, drop, reused)
    return best


@dataclass(frozen=True, slots=True)
class SavedState:
    """One conversation's evaluated tokens and its KV cells as llama.cpp serialised them."""

    tokens: np.ndarray
    data: bytes

    @property
    def nbytes(self) -> int:
        return len(self.data) + self.tokens.nbytes


class KvStateStore:
    """Saved states by conversation id: least recently used dropped past `max_states` or
    `max_bytes` in total."""

    def __init__(self, max_states: int, max_bytes: int) -> None:
        self.max_states = max_states
        self.max_bytes = max_bytes
        self._states: OrderedDict[str, SavedState] = OrderedDict()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, conversation: object) -> bool:
        return conversation in self._states

    def take(self, conversation: str) -> SavedState | None:
        """Remove and return the conversation's state (it is about to become live)."""
        state = self._states.pop(conversation, None)
        if state is not None:
            self.nbytes -= state.nbytes
        return state

    def peek(self, conversation: str) -> SavedState | None:
        return self._states.get(conversation)

    def put(self, conversation: str, state: SavedState) -> bool:
        """Keep `state` (newest); False if it alone exceeds the byte cap (not kept)."""
        self.take(conversation)
        if state.nbytes > self.max_bytes or self.max_states < 1:
            _LOGGER.debug("KV state of %s (%d bytes) over the cap", conversation, state.nbytes)
            return False
        self._states[conversation] = state
        self.nbytes += state.nbytes
        while len(self._states) > self.max_states or self.nbytes > self.max_bytes:
            _old, dropped = self._states.popitem(last=False)
            self.nbytes -= dropped.nbytes
        return True


class ConversationKv:
    """Keeps the Llama's context lined up with the conversation about to be continued."""

    def __init__(
        self, llama: Any, store: KvStateStore, min_gain: int = 8, restore_gain: int = 32
    ) -> None:
        import llama_cpp  # noqa: PLC0415 - only with a loaded model

        self._lib = llama_cpp
        self._llama = llama
        self.store = store
        self.min_gain = min_gain
        self.restore_gain = restore_gain
        """A saved state is restored only if it saves this many more tokens than the live one."""
        self.owner: str | None = None
        """Conversation whose tokens the live context holds (None: warm-up, shared prefix)."""
        self.shifts = 0
        self.restores = 0
        self.last_reused = 0
        """Prompt tokens the last `prepare` found already evaluated."""
        self.can_restore = can_mark_logits_stale(llama)
        if not self.can_restore:
            _LOGGER.warning(
                "llama-cpp-python %s: saved KV states are not restored (checked: %s)",
                version("llama-cpp-python"),
                ", ".join(f"{v}x" for v in LLAMA_CPP_VERSIONS),
            )

    @property
    def _ctx(self) -> Any:
        return self._llama.ctx

    def evaluated(self) -> np.ndarray:
        return np.array(self._llama.input_ids[: self._llama.n_tokens], dtype=np.intc)

    def prepare(self, conversation: str | None, prompt: Sequence[int]) -> int:
        """Make the live context the best start for `prompt`; returns tokens already evaluated."""
        plan = plan_reuse(self.evaluated(), prompt, self.min_gain)
        if conversation != self.owner:
            saved = self.store.take(conversation) if conversation is not None else None
            self._displace()
            if saved is not None and self.can_restore:
                saved_plan = plan_reuse(saved.tokens, prompt, self.min_gain)
                if saved_plan.reused >= plan.reused + self.restore_gain:
                    restored = self._restore(conversation or "", saved)
                    plan = saved_plan if restored else ReusePlan(0, 0, 0)
        if plan.drop and not self._shift(plan):
            plan = ReusePlan(plan.keep, 0, plan.keep)
        self.owner = conversation
        self.last_reused = plan.reused
        return plan.reused

    def forget(self, conversation: str) -> None:
        self.store.take(conversation)
        if self.owner == conversation:
            self.owner = None

    def _displace(self) -> None:
        """Save the live context for its owner before another conversation overwrites it."""
        owner = self.owner
        if owner is None or self._llama.n_tokens == 0 or not self.can_restore:
            return
        size = int(self._lib.llama_state_seq_get_size(self._ctx, SEQ))
        buffer = (ctypes.c_uint8 * size)()
        written = int(self._lib.llama_state_seq_get_data(self._ctx, buffer, size, SEQ))
        if written <= 0:
            _LOGGER.warning("could not save the KV state of %s", owner)
            return
        state = SavedState(self.evaluated(), bytes(buffer)[:written])
        if self.store.put(owner, state):
            _LOGGER.debug(
                "saved KV state of %s: %d tokens, %d bytes", owner, len(state.tokens), written
            )

    def _restore(self, conversation: str, state: SavedState) -> bool:
        memory = self._lib.llama_get_memory(self._ctx)
        self._lib.llama_memory_seq_rm(memory, SEQ, -1, -1)
        buffer = (ctypes.c_uint8 * len(state.data)).from_buffer_copy(state.data)
        read = int(self._lib.llama_state_seq_set_data(self._ctx, buffer, len(state.data), SEQ))
        llama = self._llama
        if read <= 0:
            _LOGGER.warning("could not restore the KV state of %s; evaluating anew", conversation)
            llama.n_tokens = 0
            return False
        n = len(state.tokens)
        llama.input_ids[:n] = state.tokens
        llama.n_tokens = n
        llama._requires_eval = True  # the logits are not the restored state's: decode first
        self.restores += 1
        _LOGGER.debug("restored KV state of %s: %d tokens", conversation, n)
        return True

    def _shift(self, plan: ReusePlan) -> bool:
        """Remove `plan.drop` tokens after `plan.keep` and move the rest down (context shift)."""
        llama = self._llama
        memory = self._lib.llama_get_memory(self._ctx)
        if not self._lib.llama_memory_can_shift(memory):
            return False
        end = plan.keep + plan.drop
        n = llama.n_tokens
        self._lib.llama_memory_seq_rm(memory, SEQ, plan.keep, end)
        self._lib.llama_memory_seq_add(memory, SEQ, end, n, -plan.drop)
        llama.input_ids[plan.keep : n - plan.drop] = llama.input_ids[end:n].copy()
        llama.n_tokens = n - plan.drop
        self.shifts += 1
        _LOGGER.debug("KV shift: dropped %d tokens after %d", plan.drop, plan.keep)
        return True
