"""WHIP (RFC 9725) signaling: POST an SDP offer, get the answer; DELETE ends; PATCH trickles.

A WHIP session is an ordinary gateway session of its device id (one per device, events and
commands as for MQTT devices); the gateway publishes the device's status on its behalf.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from aiohttp import web

from naila_gateway.http.errors import ApiError, read_body
from naila_gateway.peer import OfferMedia, OfferRejected, PeerSession
from naila_gateway.signaling import MAX_SDP_CHARS
from naila_protocol.payloads import Capability, DeviceStatus, utc_timestamp
from naila_protocol.topics import QOS_RELIABLE, is_valid_device_id
from naila_protocol.vocab import ListeningMode, WakeWord

if TYPE_CHECKING:
    from naila_gateway.gateway import Gateway

_LOGGER = logging.getLogger(__name__)
SDP_TYPE = "application/sdp"
TRICKLE_TYPE = "application/trickle-ice-sdpfrag"
MAX_LABEL_CHARS = 64
_E = TypeVar("_E", bound=StrEnum)


def device_id_of(request: web.Request) -> str:
    device_id = request.match_info["device_id"]
    if not is_valid_device_id(device_id):
        raise ApiError(400, "bad_device_id", "device id: 1-64 of [A-Za-z0-9_.:-]")
    return device_id


def _choice(request: web.Request, key: str, vocabulary: type[_E]) -> _E | None:
    value = request.query.get(key, "")
    if not value:
        return None
    try:
        return vocabulary(value)
    except ValueError:
        allowed = ", ".join(v.value for v in vocabulary)
        raise ApiError(400, "bad_query", f"{key} must be one of {allowed}") from None


def _label(request: web.Request, key: str) -> str | None:
    value = request.query.get(key, "").strip()
    if len(value) > MAX_LABEL_CHARS:
        raise ApiError(400, "bad_query", f"{key} longer than {MAX_LABEL_CHARS} characters")
    return value or None


class WhipEndpoint:
    """The WHIP resources of one gateway: `/whip/{device_id}` and its session URLs."""

    def __init__(
        self, gateway: Gateway, max_sessions: int, behind_proxy: Callable[[web.Request], bool]
    ) -> None:
        self.gateway = gateway
        self.max_sessions = max_sessions
        self.behind_proxy = behind_proxy
        gateway.on_http_session_closed = self._session_closed

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/whip/{device_id}", self.post_offer),
            web.delete("/whip/{device_id}/{session_id}", self.delete_session),
            web.patch("/whip/{device_id}/{session_id}", self.patch_session),
            web.options("/whip/{device_id}", self.options),
        ]

    def http_sessions(self) -> list[PeerSession]:
        return [s for s in self.gateway.sessions.values() if s.over_http]

    async def options(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers={"Accept-Post": SDP_TYPE})

    async def post_offer(self, request: web.Request) -> web.Response:
        device_id = device_id_of(request)
        if request.content_type != SDP_TYPE:
            raise ApiError(415, "unsupported_media_type", f"send the offer as {SDP_TYPE}")
        body = await read_body(request, MAX_SDP_CHARS)
        try:
            sdp = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "bad_sdp", "the offer is not UTF-8 text") from None
        if not sdp.startswith("v=0"):
            raise ApiError(400, "bad_sdp", "the offer is not an SDP document")
        try:
            media = OfferMedia.of(sdp)
        except OfferRejected as err:
            raise ApiError(400, err.code, str(err)) from None
        name, zone = _label(request, "name"), _label(request, "zone")
        mode = _choice(request, "listening_mode", ListeningMode)
        wake_word = _choice(request, "wake_word", WakeWord)
        async with self.gateway.device_turn(device_id):
            current = self.gateway.sessions.get(device_id)
            others = [s for s in self.http_sessions() if s is not current]
            if len(others) >= self.max_sessions:
                raise ApiError(429, "too_many_sessions", f"{self.max_sessions} sessions already")
            if current is not None:
                await current.close(reason="replaced")
            capabilities = (
                {Capability.AUDIO, Capability.SPEAKER}
                if media.hears_replies
                else {Capability.AUDIO}
            )
            if media.sends_video:
                capabilities.add(Capability.CAMERA)
            status = DeviceStatus(
                device_id,
                online=True,
                capabilities=frozenset(capabilities),
                name=name,
                zone=zone,
                listening_mode=mode,
                wake_word=wake_word,
                timestamp=utc_timestamp(),
            ).to_json()
            session = self.gateway.new_session(
                device_id, status, audio=True, camera=media.sends_video
            )
            session.over_http = True
            try:
                answer = await session.accept_offer(sdp, media)
            except OfferRejected as err:
                await session.close(reason="offer rejected")
                raise ApiError(400, err.code, str(err)) from None
            except Exception:
                session.log.exception("could not answer the offer")
                await session.close(reason="offer failed")
                raise ApiError(500, "internal", "could not answer the offer") from None
            self._publish_status(device_id, status)
        session.log.info("WHIP session opened (%s)", "sendrecv" if media.hears_replies else "recv")
        prefix = request.headers.get("X-Ingress-Path", "") if self.behind_proxy(request) else ""
        location = f"{prefix.rstrip('/')}{request.path}/{session.session_id}"
        return web.Response(
            status=201,
            body=answer.encode(),
            content_type=SDP_TYPE,
            headers={"Location": location, "ETag": f'"{session.session_id}"'},
        )

    def _session(self, request: web.Request) -> PeerSession:
        device_id = device_id_of(request)
        session = self.gateway.sessions.get(device_id)
        if session is None or not session.over_http:
            raise ApiError(404, "unknown_session", f"device {device_id!r} has no WHIP session")
        if session.session_id != request.match_info["session_id"]:
            raise ApiError(404, "unknown_session", "that session is not the device's current one")
        return session

    async def delete_session(self, request: web.Request) -> web.Response:
        session = self._session(request)
        async with self.gateway.device_turn(session.device_id):
            await session.close(reason="client ended")
        return web.Response(status=200)

    async def patch_session(self, request: web.Request) -> web.Response:
        session = self._session(request)
        if request.content_type != TRICKLE_TYPE:
            raise ApiError(415, "unsupported_media_type", f"trickle candidates as {TRICKLE_TYPE}")
        fragment = (await read_body(request, MAX_SDP_CHARS)).decode("utf-8", "replace")
        mid: str | None = None
        applied = 0
        for line in fragment.splitlines():
            if line.startswith("a=mid:"):
                mid = line[6:].strip()
            elif line.startswith("a=candidate:"):
                try:
                    await session.add_ice_candidate(line, mid, None if mid else 0)
                except Exception as err:
                    raise ApiError(400, "bad_candidate", f"candidate rejected: {err}") from None
                applied += 1
        session.log.debug("%d trickled candidate(s) applied", applied)
        return web.Response(status=204)

    def _publish_status(self, device_id: str, status: bytes) -> None:
        topic = self.gateway.topics.device_status(device_id)
        self.gateway.mqtt.publish(topic, status, qos=QOS_RELIABLE, retain=True)

    def _session_closed(self, session: PeerSession) -> None:
        offline = DeviceStatus.from_json(session.status_payload, session.device_id)
        status = DeviceStatus(
            session.device_id,
            online=False,
            capabilities=offline.capabilities,
            name=offline.name,
            zone=offline.zone,
            listening_mode=offline.listening_mode,
            wake_word=offline.wake_word,
            timestamp=utc_timestamp(),
        ).to_json()
        self._publish_status(session.device_id, status)
