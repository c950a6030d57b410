"""Requests the services publish and the replies they wait for, matched by id."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from .commands import CommandMessage
from .const import DOMAIN, QOS_RELIABLE, Topics
from .payloads import DeviceEvent, Snapshot, UploadReply


class NailaRequests:
    """Publishes snapshot requests, announcements and uploads; resolves their replies."""

    def __init__(self, hass: HomeAssistant, topics: Topics) -> None:
        self.hass = hass
        self.topics = topics
        self._snapshots: dict[str, asyncio.Future[Snapshot]] = {}
        self._events: dict[str, asyncio.Future[DeviceEvent]] = {}
        self._replies: dict[str, asyncio.Future[UploadReply]] = {}

    def __len__(self) -> int:
        return len(self._snapshots) + len(self._events) + len(self._replies)

    async def async_request_snapshot(
        self, device_id: str, request_id: str, params: dict[str, Any], wait: float
    ) -> Snapshot:
        """Publish a snapshot request (docs/mqtt.md, Snapshots) and wait for the matching response."""
        payload = {"request_type": "snapshot", "request_id": request_id, "params": params}
        topic = self.topics.media_request(device_id)
        return await self._request(self._snapshots, request_id, topic, payload, wait)

    async def async_announce(
        self, device_id: str, message: str, request_id: str, wait: float | None
    ) -> DeviceEvent | None:
        """Publish the announce command; with `wait` seconds, wait for `announced` or `error`."""
        payload = {"command": "announce", "message": message, "request_id": request_id}
        topic = self.topics.device_command(device_id)
        if wait is None:
            await mqtt.async_publish(self.hass, topic, json.dumps(payload), QOS_RELIABLE, False)
            return None
        return await self._request(self._events, request_id, topic, payload, wait)

    async def async_command(
        self, device_id: str, command: CommandMessage, wait: float
    ) -> DeviceEvent:
        """Publish a spoken command (announce, start_conversation) and wait for its outcome.

        The outcome is the device event with the command's `request_id`: `announced` once it
        finished playing, `interrupted` (barge-in, stop) or `error`.
        """
        assert command.request_id is not None
        topic = self.topics.device_command(device_id)
        future: asyncio.Future[DeviceEvent] = self.hass.loop.create_future()
        self._events[command.request_id] = future
        try:
            async with asyncio.timeout(wait):
                await mqtt.async_publish(self.hass, topic, command.to_json(), QOS_RELIABLE, False)
                return await future
        finally:
            self._events.pop(command.request_id, None)

    async def async_upload(
        self, session_id: str, media: str, payload: dict[str, Any], wait: float
    ) -> UploadReply:
        """Publish an upload (docs/mqtt.md, Uploads and questions) and wait for the AI server's reply."""
        topic = self.topics.upload(session_id, media)
        return await self._request(self._replies, session_id, topic, payload, wait)

    async def _request[T](
        self,
        waiters: dict[str, asyncio.Future[T]],
        key: str,
        topic: str,
        payload: dict[str, Any],
        wait: float,
    ) -> T:
        """Publish `payload` and wait up to `wait` s for the reply filed under `key`.

        Raises TimeoutError; the waiter is registered before publishing so no reply is missed.
        """
        future: asyncio.Future[T] = self.hass.loop.create_future()
        waiters[key] = future
        try:
            async with asyncio.timeout(wait):
                await mqtt.async_publish(self.hass, topic, json.dumps(payload), QOS_RELIABLE, False)
                return await future
        finally:
            waiters.pop(key, None)

    @callback
    def resolve_snapshot(self, snapshot: Snapshot) -> None:
        """Hand a snapshot to the request with its `request_id`, if one waits."""
        if snapshot.request_id:
            _resolve(self._snapshots.get(snapshot.request_id), snapshot)

    @callback
    def resolve_event(self, event: DeviceEvent) -> None:
        """Hand a device event (`announced`/`error`) to the announcement it answers."""
        if event.request_id and event.event in ("announced", "error", "interrupted"):
            _resolve(self._events.get(event.request_id), event)

    def waits_for_reply(self, session_id: str) -> bool:
        """True if an upload of this session waits (replies to other clients are skipped)."""
        future = self._replies.get(session_id)
        return future is not None and not future.done()

    @callback
    def resolve_reply(self, reply: UploadReply) -> None:
        """Hand the AI server's reply to the upload of its session."""
        _resolve(self._replies.get(reply.session_id), reply)

    @callback
    def fail_all(self) -> None:
        """Fail every pending request (the entry unloads)."""
        for waiters in (self._snapshots, self._events, self._replies):
            for future in waiters.values():
                if not future.done():
                    future.set_exception(
                        HomeAssistantError(translation_domain=DOMAIN, translation_key="unloaded")
                    )
            waiters.clear()


def _resolve[T](future: asyncio.Future[T] | None, value: T) -> None:
    if future is not None and not future.done():
        future.set_result(value)
