"""A scripted stand-in for the NAILA integration on a real broker: answers conversation requests.

It speaks the integration's side of the contract (`naila_protocol.payloads`): the retained
integration status, retained device settings, and one response per request as the script says.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiomqtt

from naila_protocol.payloads import (
    ConversationRequest,
    ConversationResponse,
    ConversationResponseType,
    DeviceSettings,
    DeviceStatus,
    IntegrationStatus,
)
from naila_protocol.topics import QOS_RELIABLE, Topics
from naila_protocol.vocab import ConversationMode

Reply = list[tuple[str, bytes]]
"""(topic, payload) messages the responder publishes for one request."""
Script = Callable[[ConversationRequest, Topics], Awaitable[Reply] | Reply]


def handled(
    request: ConversationRequest, speech: str, targets: tuple[str, ...] = ()
) -> ConversationResponse:
    return ConversationResponse(
        request_id=request.request_id,
        device_id=request.device_id,
        handled=True,
        response_type=ConversationResponseType.ACTION_DONE,
        speech=speech,
        conversation_id="ha-conv-1",
        targets=targets,
    )


def not_handled(
    request: ConversationRequest, code: str = "no_intent_match"
) -> ConversationResponse:
    return ConversationResponse(
        request_id=request.request_id,
        device_id=request.device_id,
        handled=False,
        response_type=ConversationResponseType.ERROR,
        speech="Sorry, I couldn't understand that",
        error_code=code,
    )


def answer(topics: Topics, response: ConversationResponse) -> Reply:
    return [(topics.conversation_response(response.request_id), response.to_json())]


@dataclass
class Responder:
    client: aiomqtt.Client
    topics: Topics
    script: Script
    requests: list[ConversationRequest] = field(default_factory=list)
    raw_requests: list[bytes] = field(default_factory=list)

    async def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        await self.client.publish(topic, payload, qos=QOS_RELIABLE, retain=retain)

    async def set_integration(self, online: bool) -> None:
        await self.publish(
            self.topics.integration_status, IntegrationStatus(online, "test").to_json(), True
        )

    async def set_mode(self, device_id: str, mode: ConversationMode) -> None:
        settings = DeviceSettings(device_id, conversation=mode)
        await self.publish(self.topics.device_settings(device_id), settings.to_json(), True)

    async def set_status(self, device_id: str, name: str, zone: str) -> None:
        status = DeviceStatus(device_id, True, frozenset({"audio", "speaker"}), name, zone)
        await self.publish(self.topics.device_status(device_id), status.to_json(), True)

    async def _serve(self) -> None:
        async for message in self.client.messages:
            raw = bytes(message.payload)  # type: ignore[arg-type]
            self.raw_requests.append(raw)
            request = ConversationRequest.from_json(raw)
            self.requests.append(request)
            reply = self.script(request, self.topics)
            if not isinstance(reply, list):
                reply = await reply
            for topic, payload in reply:
                await self.publish(topic, payload)


@contextlib.asynccontextmanager
async def responder(host: str, port: int, prefix: str, script: Script) -> AsyncIterator[Responder]:
    """A connected responder serving `script` until the block ends; retained topics cleared."""
    topics = Topics(prefix)
    async with aiomqtt.Client(
        host, port, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    ) as client:
        await client.subscribe(topics.conversation_request, qos=QOS_RELIABLE)
        ha = Responder(client, topics, script)
        task = asyncio.create_task(ha._serve())
        try:
            yield ha
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
