"""Large MQTT payloads (snapshots, upload replies: up to MAX_MEDIA_BYTES of JSON and base64)
decoded in HA's executor, then applied on the event loop in the order they arrived."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from homeassistant.components.mqtt import ReceiveMessage
from homeassistant.core import callback

from .wire import PayloadError

if TYPE_CHECKING:
    from .hub import NailaHub

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")


class OffLoopDecoder:
    """Builds MQTT message handlers whose decoding runs off the loop, one message at a time."""

    def __init__(self, hub: NailaHub, max_bytes: int) -> None:
        self._hub = hub
        self._max_bytes = max_bytes
        self._order = asyncio.Lock()  # FIFO: results are applied in arrival order

    def handler(
        self,
        name: str,
        decode: Callable[[ReceiveMessage], T],
        apply: Callable[[T], None],
        accept: Callable[[ReceiveMessage], bool] | None = None,
    ) -> Callable[[ReceiveMessage], None]:
        """`accept` (on the loop, cheap) may skip a message before it is decoded; bad input
        is logged and counted under `name` in the hub's `rejected`, as for other topics."""
        hub = self._hub

        @callback
        def _on_message(msg: ReceiveMessage) -> None:
            try:
                if len(msg.payload) > self._max_bytes:
                    raise PayloadError(
                        f"payload of {len(msg.payload)} bytes exceeds the limit of "
                        f"{self._max_bytes}"
                    )
                if accept is not None and not accept(msg):
                    return
            except PayloadError as err:
                self._rejected(name, msg, err)
                return
            hub.entry.async_create_task(
                hub.hass, self._decode_and_apply(name, msg, decode, apply), f"naila {name}"
            )

        return _on_message

    async def _decode_and_apply(
        self,
        name: str,
        msg: ReceiveMessage,
        decode: Callable[[ReceiveMessage], T],
        apply: Callable[[T], None],
    ) -> None:
        async with self._order:
            try:
                value = await self._hub.hass.async_add_executor_job(decode, msg)
                apply(value)
            except PayloadError as err:
                self._rejected(name, msg, err)
            except Exception:
                self._hub.rejected["internal_error"] += 1
                _LOGGER.exception("Unexpected error handling message on %s", msg.topic[:200])

    def _rejected(self, name: str, msg: ReceiveMessage, err: PayloadError) -> None:
        self._hub.rejected[name] += 1
        _LOGGER.warning("Ignored message on %s: %s", msg.topic[:200], err)
