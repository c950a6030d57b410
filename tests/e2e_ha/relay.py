"""Conversation relay of the end-to-end tests, on HA's real MQTT client and default agent.

It plays the NAILA integration's side of `docs/mqtt.md` "Conversation routing": retained
integration status, then for each request `conversation.async_converse` and the response.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from homeassistant.components import conversation, mqtt
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import intent

from naila_protocol.payloads import (
    ConversationRequest,
    ConversationResponse,
    ConversationResponseType,
    IntegrationStatus,
    PayloadError,
)
from naila_protocol.topics import QOS_RELIABLE, Topics


class Relay:
    """`await relay.start()`; `paused` = online but never answering (a hung agent)."""

    def __init__(self, hass: HomeAssistant, prefix: str = "naila") -> None:
        self.hass = hass
        self.topics = Topics(prefix)
        self.paused = False
        self.answered: list[tuple[str, float]] = []
        """(speech, agent ms) per answered request."""
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        self._unsubscribe = await mqtt.async_subscribe(
            self.hass, self.topics.conversation_request, self._on_request, qos=QOS_RELIABLE
        )
        await self.set_online(True)

    async def set_online(self, online: bool) -> None:
        payload = IntegrationStatus(online, "e2e").to_json().decode()
        await mqtt.async_publish(
            self.hass, self.topics.integration_status, payload, QOS_RELIABLE, retain=True
        )

    async def stop(self) -> None:
        await self.set_online(False)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def _on_request(self, message: mqtt.ReceiveMessage) -> None:
        if self.paused:
            return
        try:
            request = ConversationRequest.from_json(message.payload)
        except PayloadError:
            return
        started = time.perf_counter()
        result = await conversation.async_converse(
            self.hass,
            request.text,
            request.conversation_id,
            Context(),
            request.language,
            request.agent_id,
        )
        agent_ms = (time.perf_counter() - started) * 1e3
        answer = result.response
        handled = answer.response_type is not intent.IntentResponseType.ERROR
        speech = answer.speech.get("plain", {}).get("speech", "")
        self.answered.append((speech, agent_ms))
        response = ConversationResponse(
            request_id=request.request_id,
            device_id=request.device_id,
            handled=handled,
            response_type=ConversationResponseType(answer.response_type.value),
            speech=speech,
            error_code=answer.error_code.value if answer.error_code else None,
            conversation_id=result.conversation_id,
            targets=tuple(t.id for t in answer.success_results if t.id),
        )
        await mqtt.async_publish(
            self.hass,
            self.topics.conversation_response(request.request_id),
            response.to_json().decode(),
            QOS_RELIABLE,
        )
