"""Ask Home Assistant's agent (through the integration, over MQTT) with a final transcript."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from naila_protocol.mqtt import Incoming
from naila_protocol.payloads import (
    ConversationRequest,
    ConversationResponse,
    ConversationResponseType,
    PayloadError,
)
from naila_protocol.topics import QOS_RELIABLE, Topics, is_valid_device_id
from naila_protocol.vocab import ConversationMode, ReplyRoute, RouteReason

from .prompt import local_facts
from .settings import RoutingSettings
from .state import HomeState

_LOGGER = logging.getLogger(__name__)

Publish = Callable[[str, bytes], None]
"""publish(topic, payload) on the server's one MQTT link (fire and forget, QoS 1)."""
FINISHED_REMEMBERED = 256
"""Finished request ids kept to tell a late or duplicate answer from an unknown one."""
HANDLED_TYPES = (ConversationResponseType.ACTION_DONE, ConversationResponseType.QUERY_ANSWER)
_HA_REASONS = {r.value for r in RouteReason}


@dataclass(frozen=True, slots=True)
class RouteOutcome:
    """Who answers a transcript; `speech` is what to say instead of the LLM (None: the LLM)."""

    route: ReplyRoute
    reason: str
    speech: str | None = None
    ha_ms: float | None = None
    response: ConversationResponse | None = None


@dataclass(slots=True)
class _Pending:
    device_id: str
    future: asyncio.Future[ConversationResponse | RouteReason]


class HaRouter:
    """Sends conversation requests and matches the answers; every request stands alone."""

    def __init__(
        self,
        settings: RoutingSettings,
        topics: Topics,
        publish: Publish,
        link_up: Callable[[], bool],
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.state = HomeState(topics)
        self._publish = publish
        self._link_up = link_up
        self._pending: dict[str, _Pending] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._conversations: dict[str, tuple[str, float]] = {}

    @property
    def subscriptions(self) -> list[tuple[str, int]]:
        return [
            *self.state.subscriptions,
            (self.topics.conversation_response_wildcard, QOS_RELIABLE),
        ]

    def wants(self, device_id: str) -> bool:
        """False when this device's transcripts go straight to the LLM."""
        return (
            self.settings.enabled and self.state.mode(device_id) is not ConversationMode.NAILA_ONLY
        )

    def prompt_facts(self, device_id: str) -> str:
        """Local date and time, and the device's name and area from its status."""
        device = self.state.device(device_id)
        return local_facts(None, device.name if device else None, device.zone if device else None)

    # incoming ---------------------------------------------------------------------------
    def handle(self, message: Incoming) -> None:
        """Every message of `subscriptions` (MqttLink on_message; never raises, never blocks)."""
        head = self.topics.conversation_response("")
        if message.topic.startswith(head):
            self._on_response(message.topic[len(head) :], message.payload)
        else:
            self.state.handle(message)

    def _on_response(self, request_id: str, payload: bytes) -> None:
        pending = self._pending.get(request_id)
        if pending is None:
            known = "finished" if request_id in self._finished else "unknown"
            _LOGGER.warning("ignoring conversation response for %s request %r", known, request_id)
            return
        try:
            response = ConversationResponse.from_json(payload, request_id)
        except PayloadError as err:
            _LOGGER.warning("bad conversation response for %s: %s; NAILA answers", request_id, err)
            self._settle(request_id, RouteReason.BAD_RESPONSE)
            return
        if response.device_id != pending.device_id:
            _LOGGER.warning(
                "conversation response for %s names device %r, not %r; NAILA answers",
                request_id,
                response.device_id,
                pending.device_id,
            )
            self._settle(request_id, RouteReason.BAD_RESPONSE)
            return
        self._settle(request_id, response)

    def _settle(self, request_id: str, result: ConversationResponse | RouteReason) -> None:
        pending = self._pending.pop(request_id, None)
        self._finished[request_id] = None
        while len(self._finished) > FINISHED_REMEMBERED:
            self._finished.popitem(last=False)
        if pending is not None and not pending.future.done():
            pending.future.set_result(result)

    # asking -----------------------------------------------------------------------------
    async def ask(
        self, device_id: str, request_id: str, text: str, language: str | None
    ) -> RouteOutcome:
        """HA's answer to a final transcript, or why the LLM answers; never raises."""
        mode = self.state.mode(device_id)
        if not self.settings.enabled or mode is ConversationMode.NAILA_ONLY:
            return RouteOutcome(ReplyRoute.LLM, RouteReason.NAILA_ONLY)
        if not self._link_up():
            return self._unreached(mode, RouteReason.MQTT_DOWN, None)
        if not self.state.integration_online:
            return self._unreached(mode, RouteReason.INTEGRATION_OFFLINE, None)
        ha_request_id = _request_id(request_id)
        request = ConversationRequest(
            request_id=ha_request_id,
            device_id=device_id,
            text=text,
            language=language or self.settings.language,
            conversation_id=self._conversation_id(device_id),
            agent_id=self.state.agent_id(device_id),
        )
        future: asyncio.Future[ConversationResponse | RouteReason] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[ha_request_id] = _Pending(device_id, future)
        started = time.perf_counter()
        self._publish(self.topics.conversation_request, request.to_json())
        try:
            async with asyncio.timeout(self.settings.ha_timeout_s):
                result = await future
        except TimeoutError:
            _LOGGER.warning(
                "Home Assistant did not answer %s within %.1f s; NAILA answers",
                ha_request_id,
                self.settings.ha_timeout_s,
            )
            result = RouteReason.TIMEOUT
        finally:
            self._settle(ha_request_id, RouteReason.TIMEOUT)
        ha_ms = round((time.perf_counter() - started) * 1e3, 1)
        if isinstance(result, RouteReason):
            return self._unreached(mode, result, ha_ms)
        return self._outcome(mode, result, ha_ms)

    def _outcome(
        self, mode: ConversationMode, response: ConversationResponse, ha_ms: float
    ) -> RouteOutcome:
        if response.conversation_id:
            self._conversations[response.device_id] = (response.conversation_id, time.monotonic())
        if response.handled and response.response_type in HANDLED_TYPES:
            speech = response.speech.strip() or "Done."
            return RouteOutcome(ReplyRoute.HA, RouteReason.HANDLED, speech, ha_ms, response)
        code = response.error_code or ""
        reason = code if code in _HA_REASONS else RouteReason.NOT_HANDLED
        if mode is ConversationMode.HA_ONLY:
            speech = response.speech.strip() or self.settings.unreachable_speech
            return RouteOutcome(ReplyRoute.HA, reason, speech, ha_ms, response)
        return RouteOutcome(ReplyRoute.LLM, reason, None, ha_ms, response)

    def _unreached(
        self, mode: ConversationMode, reason: RouteReason, ha_ms: float | None
    ) -> RouteOutcome:
        if mode is ConversationMode.HA_ONLY:
            return RouteOutcome(ReplyRoute.HA, reason, self.settings.unreachable_speech, ha_ms)
        return RouteOutcome(ReplyRoute.LLM, reason, None, ha_ms)

    def _conversation_id(self, device_id: str) -> str | None:
        remembered = self._conversations.get(device_id)
        if remembered is None:
            return None
        conversation_id, at = remembered
        if time.monotonic() - at > self.settings.conversation_ttl_s:
            del self._conversations[device_id]
            return None
        return conversation_id


def _request_id(request_id: str) -> str:
    """A topic-safe id unique across gateways; starts with the gateway's id for the logs."""
    suffix = uuid.uuid4().hex[:8]
    base = request_id[:48] if is_valid_device_id(request_id[:48] or "-") else "req"
    return f"{base}.{suffix}"
