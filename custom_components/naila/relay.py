"""Conversation relay: the AI server's final transcripts answered by Home Assistant's agent.

The AI server publishes a `ConversationRequest` on `{prefix}/conversation/request`; each valid
request runs `conversation.async_converse` in its own task (bounded, with a deadline) and the
result goes back as a `ConversationResponse` on `{prefix}/conversation/response/{request_id}`.
The retained `IntegrationStatus` tells the server whether anyone answers: online on setup (and
again every `STATUS_INTERVAL` and after each MQTT reconnect, with a fresh `timestamp`), offline
on unload. HA's MQTT integration cannot carry a last will for NAILA, so a server that sees a
stale timestamp, HA's own `homeassistant/status` offline, or no answer within its deadline,
answers with its LLM.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.components import conversation, mqtt
from homeassistant.components.mqtt import ReceiveMessage
from homeassistant.core import Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import intent
from homeassistant.helpers.event import async_track_time_interval

from .const import MAX_JSON_BYTES, QOS_RELIABLE
from .payloads import raw_payload
from .wire import (
    ConversationRequest,
    ConversationResponse,
    ConversationResponseType,
    IntegrationStatus,
)

if TYPE_CHECKING:
    from .hub import NailaHub

_LOGGER = logging.getLogger(__name__)

MAX_CONCURRENT = 8
"""Requests answered at once; more are refused with `busy` so the server falls back at once."""
AGENT_TIMEOUT = 10.0
"""Seconds an agent may take before the request is answered with `timeout`."""
STATUS_INTERVAL = timedelta(minutes=1)
"""How often the retained online status is refreshed (its timestamp shows HA is alive)."""

ERROR_TIMEOUT = "timeout"
ERROR_BUSY = "busy"
ERROR_AGENT = "agent_error"
ERROR_UNLOADED = "unloaded"


class ConversationRelay:
    """Answers NAILA conversation requests with Home Assistant's conversation agents."""

    def __init__(self, hub: NailaHub, version: str | None) -> None:
        self.hub = hub
        self.hass: HomeAssistant = hub.hass
        self.version = version
        self.timeout = AGENT_TIMEOUT
        self._tasks: set[asyncio.Task[None]] = set()
        self.answered = 0
        self.failed = 0

    async def async_start(self) -> None:
        """Subscribe to requests, then say online; each unsubscribe runs on unload."""
        entry = self.hub.entry
        entry.async_on_unload(
            await mqtt.async_subscribe(
                self.hass,
                self.hub.topics.conversation_request,
                self.hub.guarded(self._on_request, MAX_JSON_BYTES),
                QOS_RELIABLE,
                encoding=None,
            )
        )
        await self._async_publish_status(True)
        entry.async_on_unload(
            async_track_time_interval(self.hass, self._async_refresh_status, STATUS_INTERVAL)
        )

    async def async_stop(self) -> None:
        """Answer what is still running with `unloaded`, then say offline.

        The offline status is handed to the MQTT client at once (eager task) so the entry's
        unsubscribes, which run right after, are not delayed behind a broker round trip.
        """
        if tasks := list(self._tasks):
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.hass.async_create_task(self._async_publish_status(False), eager_start=True)

    @callback
    def async_on_reconnect(self) -> None:
        """MQTT came back: the broker may have lost the retained status, publish it again."""
        self.hass.async_create_task(self._async_publish_status(True), eager_start=False)

    async def _async_refresh_status(self, _now: object = None) -> None:
        if self.hub.connected:
            await self._async_publish_status(True)

    async def _async_publish_status(self, online: bool) -> None:
        status = IntegrationStatus(online=online, version=self.version)
        try:
            await mqtt.async_publish(
                self.hass, self.hub.topics.integration_status, status.to_json(), QOS_RELIABLE, True
            )
        except HomeAssistantError as err:  # MQTT is down: the next reconnect publishes again
            _LOGGER.debug("Integration status not published: %s", err)

    # ---- requests ------------------------------------------------------------------

    def _on_request(self, msg: ReceiveMessage) -> None:
        request = ConversationRequest.from_json(raw_payload(msg))
        if len(self._tasks) >= MAX_CONCURRENT:
            _LOGGER.warning("Conversation request %s refused: busy", request.request_id)
            self._spawn(self._async_publish(self._error(request, ERROR_BUSY)))
            return
        self._spawn(self._async_answer(request))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self.hub.entry.async_create_background_task(
            self.hass, coro, "naila conversation request"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _async_answer(self, request: ConversationRequest) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._async_converse(request)
        except TimeoutError:
            _LOGGER.warning(
                "Conversation agent took over %.0f s for request %s",
                self.timeout,
                request.request_id,
            )
            response = self._error(request, ERROR_TIMEOUT)
        except asyncio.CancelledError:
            await asyncio.shield(self._async_publish(self._error(request, ERROR_UNLOADED)))
            raise
        except Exception as err:  # any agent failure becomes an answer
            _LOGGER.warning("Conversation agent failed on request %s: %s", request.request_id, err)
            response = self._error(request, ERROR_AGENT)
        await self._async_publish(response)

    async def _async_converse(self, request: ConversationRequest) -> ConversationResponse:
        ha_device = self.ha_device_id(request.device_id)
        if ha_device is None:
            _LOGGER.debug("Request %s from a device HA does not know", request.request_id)
        agent_id = request.agent_id or self.hub.settings.agent_id(request.device_id)
        follow_up = self.hub.settings.pop_follow_up(request.device_id)
        result = await conversation.async_converse(
            self.hass,
            request.text,
            request.conversation_id or (follow_up.conversation_id if follow_up else None),
            Context(),
            request.language,
            agent_id,
            device_id=ha_device,
            extra_system_prompt=follow_up.extra_system_prompt if follow_up else None,
        )
        return self._response(request, result, agent_id)

    def ha_device_id(self, device_id: str) -> str | None:
        """The device registry id of a NAILA device, None if HA has none."""
        device = dr.async_get(self.hass).async_get_device(
            identifiers={self.hub.identifier(f"devices/{device_id}")}
        )
        return device.id if device else None

    def _response(
        self,
        request: ConversationRequest,
        result: conversation.ConversationResult,
        agent_id: str | None,
    ) -> ConversationResponse:
        answer = result.response
        response_type = ConversationResponseType(answer.response_type.value)
        speech = answer.speech.get("plain", {}).get("speech", "")
        targets = [
            target.id
            for target in answer.success_results
            if target.type is intent.IntentResponseTargetType.ENTITY and target.id
        ] or [state.entity_id for state in answer.matched_states]
        return ConversationResponse(
            request_id=request.request_id,
            device_id=request.device_id,
            handled=response_type is not ConversationResponseType.ERROR,
            response_type=response_type,
            speech=str(speech),
            error_code=answer.error_code.value if answer.error_code else None,
            conversation_id=result.conversation_id,
            targets=tuple(targets),
            agent_id=agent_id,
            continue_conversation=result.continue_conversation,
        )

    @staticmethod
    def _error(request: ConversationRequest, code: str) -> ConversationResponse:
        return ConversationResponse(
            request_id=request.request_id,
            device_id=request.device_id,
            handled=False,
            response_type=ConversationResponseType.ERROR,
            error_code=code,
            conversation_id=request.conversation_id,
        )

    async def _async_publish(self, response: ConversationResponse) -> None:
        if response.handled:
            self.answered += 1
        else:
            self.failed += 1
        try:
            await mqtt.async_publish(
                self.hass,
                self.hub.topics.conversation_response(response.request_id),
                response.to_json(),
                QOS_RELIABLE,
                False,
            )
        except HomeAssistantError as err:  # the server's deadline answers instead
            _LOGGER.warning("Answer to %s not published: %s", response.request_id, err)
