"""WHIP (RFC 9725) signaling: POST an SDP offer, get the answer; DELETE ends; PATCH trickles.

A WHIP session is an ordinary gateway session of its device id (one per device, events and
commands as for MQTT devices); the gateway publishes the device's status on its behalf. A
`sendonly` offer for a device whose current session has a speaker (over WHIP or MQTT) joins
that session as its microphone: one voice per device, replies play on the speaker.
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
        """Every session opened over HTTP, microphones joined to a device's session included."""
        sessions = list(self.gateway.sessions.values())
        sessions += [s.microphone for s in sessions if s.microphone is not None]
        return [s for s in sessions if s.over_http]

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
        capabilities = (
            {Capability.AUDIO, Capability.SPEAKER} if media.hears_replies else {Capability.AUDIO}
        )
        if media.sends_video:
            capabilities.add(Capability.CAMERA)
        status = DeviceStatus(
            device_id,
            online=True,
            capabilities=frozenset(capabilities),
            name=_label(request, "name"),
            zone=_label(request, "zone"),
            listening_mode=_choice(request, "listening_mode", ListeningMode),
            wake_word=_choice(request, "wake_word", WakeWord),
            timestamp=utc_timestamp(),
        ).to_json()
        async with self.gateway.device_turn(device_id):
            current = self.gateway.sessions.get(device_id)
            if not media.hears_replies and current is not None and current.speaks:
                session = await self._join(current, sdp, media)
            else:
                session = await self._open(device_id, current, sdp, media, status)
        prefix = request.headers.get("X-Ingress-Path", "") if self.behind_proxy(request) else ""
        location = f"{prefix.rstrip('/')}{request.path}/{session.session_id}"
        return web.Response(
            status=201,
            body=session.pc.localDescription.sdp.encode(),
            content_type=SDP_TYPE,
            headers={"Location": location, "ETag": f'"{session.session_id}"'},
        )

    def _check_room(self, replaced: PeerSession | None) -> None:
        others = [s for s in self.http_sessions() if s is not replaced]
        if len(others) >= self.max_sessions:
            raise ApiError(429, "too_many_sessions", f"{self.max_sessions} sessions already")

    async def _answer(self, session: PeerSession, sdp: str, media: OfferMedia) -> None:
        """Answer the offer on a new session; closed again (and a 4xx/5xx) if that fails."""
        session.over_http = True
        try:
            await session.accept_offer(sdp, media)
        except OfferRejected as err:
            await session.close(reason="offer rejected")
            raise ApiError(400, err.code, str(err)) from None
        except Exception:
            session.log.exception("could not answer the offer")
            await session.close(reason="offer failed")
            raise ApiError(500, "internal", "could not answer the offer") from None

    async def _join(self, host: PeerSession, sdp: str, media: OfferMedia) -> PeerSession:
        """A microphone for the device's speaker session (replacing its previous one)."""
        self._check_room(host.microphone)
        if host.microphone is not None:
            await host.microphone.close(reason="replaced")
        session = self.gateway.new_microphone(host, camera=media.sends_video)
        await self._answer(session, sdp, media)
        session.log.info("WHIP microphone of session %s opened", host.session_id)
        return session

    async def _open(
        self,
        device_id: str,
        current: PeerSession | None,
        sdp: str,
        media: OfferMedia,
        status: bytes,
    ) -> PeerSession:
        """The device's new current session (`status` published for it)."""
        # a microphone-only WHIP session stays, as the microphone of a session that can speak
        stays = (
            current is not None
            and media.hears_replies
            and current.over_http
            and not current.voice.speaker
            and current.microphone is None
        )
        self._check_room(None if stays else current)
        if current is not None and not stays:
            await current.close(reason="replaced")
        session = self.gateway.new_session(device_id, status, audio=True, camera=media.sends_video)
        try:
            await self._answer(session, sdp, media)
        except ApiError:
            if stays and current is not None:  # the microphone-only session goes on as it was
                self.gateway.sessions[device_id] = current
                self._publish_status(device_id, current.status_payload)
            raise
        if stays and current is not None:
            await current.join(session)
        self._publish_status(device_id, status)
        session.log.info("WHIP session opened (%s)", "sendrecv" if media.hears_replies else "recv")
        return session

    def _session(self, request: web.Request) -> PeerSession:
        device_id = device_id_of(request)
        current = self.gateway.sessions.get(device_id)
        sessions = [s for s in (current, current and current.microphone) if s and s.over_http]
        if not sessions:
            raise ApiError(404, "unknown_session", f"device {device_id!r} has no WHIP session")
        for session in sessions:
            if session.session_id == request.match_info["session_id"]:
                return session
        raise ApiError(404, "unknown_session", "that session is not one of the device's")

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
        if session.host is not None:
            return  # a microphone: the device stays online on its speaker session
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
