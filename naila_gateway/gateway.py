"""The gateway: MQTT signaling + one WebRTC/voice session per device + the AI-server client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from naila_gateway.config import GatewayConfig
from naila_gateway.device_control import DeviceControl
from naila_gateway.event_publisher import DeviceEventPublisher
from naila_gateway.events import gateway_status
from naila_gateway.http.server import HttpFrontend
from naila_gateway.ice_addresses import IceAddressFilter
from naila_gateway.listening import ListeningPreferences
from naila_gateway.metrics import GatewayMetrics, MetricsReporter
from naila_gateway.peer import PeerSession
from naila_gateway.server_client import ServerClient
from naila_gateway.session_factory import SessionFactory
from naila_gateway.signaling import (
    BadMessage,
    parse_answer,
    parse_ice,
    parse_status,
)
from naila_gateway.signaling_limit import SignalingLimiter
from naila_gateway.turn_audio import SmartTurnJudge
from naila_protocol.mqtt import Incoming, LinkStatus, MqttLink, unique_client_id
from naila_protocol.tasks import TaskSet, cancel_and_wait
from naila_protocol.topics import QOS_RELIABLE, QOS_TELEMETRY, Topics, is_valid_device_id

_LOGGER = logging.getLogger(__name__)

ANSWER_TIMEOUT = 30.0
"""Seconds a session waits for the device's answer before it is closed."""
REOFFER_DELAY = 1.0
"""Seconds before a device whose connection dropped while it is online gets a new offer."""
_LIVE_STATES = frozenset({"new", "connecting", "connected"})


class Gateway:
    """Run with `async with Gateway(config) as gw: ...` or `await Gateway(config).run()`."""

    def __init__(self, config: GatewayConfig) -> None:
        config.validate()
        self.config = config
        self.topics = Topics(config.mqtt.prefix)
        self.metrics = GatewayMetrics()
        self.sessions: dict[str, PeerSession] = {}
        """Current session per device id."""
        self.server = ServerClient(
            config.ai_servers,
            token=config.ai_server_token,
            reply_timeout=config.reply_timeout,
            keepalive=config.ai_server_keepalive,
        )
        self.mqtt = MqttLink(
            config.mqtt,
            client_id=unique_client_id(f"naila-gateway-{config.gateway_id}"),
            status=LinkStatus(
                topic=self.topics.gateway_status,
                online_payload=lambda: gateway_status(config.gateway_id, online=True),
                offline_payload=gateway_status(config.gateway_id, online=False),
            ),
            subscriptions=[
                (self.topics.device_wildcard(leaf), QOS_RELIABLE)
                for leaf in ("status", "settings", "signaling/answer", "signaling/ice", "command")
            ]
            + [(self.topics.upload_reply("+"), QOS_RELIABLE)],
            on_message=self._on_message,
            on_state=self._on_mqtt_state,
        )
        self.events = DeviceEventPublisher(
            self._publish_device_event, lambda: set(self._online) | set(self.sessions)
        )
        self.held_events = self.events.held
        """Device events waiting for their device to be back on MQTT (held_events.py)."""
        self.listening = ListeningPreferences(
            config.listening.listening_mode, config.listening.wake_word
        )
        """Each device's listening mode and wake word (status, settings, commands)."""
        self.control = DeviceControl(self.listening, self.sessions, self.publish_event)
        """Device commands and listening choices."""
        self._factory = SessionFactory(
            config,
            server=self.server,
            metrics=self.metrics,
            listening=self.listening,
            publish_event=self.publish_event,
            on_closed=self._on_session_closed,
        )
        self.signaling_limit = SignalingLimiter(config.signaling_rate, config.signaling_burst)
        self._reporter = MetricsReporter(config.gateway_id, self.metrics)
        self._device_locks: dict[str, asyncio.Lock] = {}
        self._lock_users: dict[str, int] = {}
        self._tasks = TaskSet(_LOGGER)
        """Message handlers, session closes and re-offers: all awaited by stop()."""
        self._answer_timers: dict[str, asyncio.TimerHandle] = {}
        self._reoffers: dict[str, asyncio.Task[None]] = {}
        self._online: dict[str, bytes] = {}
        """Latest online status of each device whose MQTT connection is up."""
        self._services: list[asyncio.Task[None]] = []
        self._ice_filter = IceAddressFilter(config.ice_selection)
        self.event_taps = self.events.taps
        """Called with (device_id, payload) for every device event published (the page's feed)."""
        self.on_upload_reply: Callable[[str, bytes], None] | None = None
        self.on_http_session_closed: Callable[[PeerSession], None] | None = None
        self.http: HttpFrontend | None = None
        """The device page and WHIP signaling, when HTTP_PORT is set."""

    # lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Raises ModelNotFoundError (naming the package) when smart_turn has no model."""
        await self._factory.start()
        self._ice_filter.install()
        self.server.start()
        self._services = [
            asyncio.create_task(self.mqtt.run(), name="naila-gateway-mqtt"),
            asyncio.create_task(self._report_metrics(), name="naila-gateway-metrics"),
        ]
        if self.config.http.enabled:
            self.http = HttpFrontend(self)
            await self.http.start()

    async def stop(self) -> None:
        """Close every session, publish offline status, disconnect."""
        if self.http is not None:
            await self.http.stop()
        for session in list(self.sessions.values()):
            await session.close()
        await self._tasks.close()
        for timer in self._answer_timers.values():
            timer.cancel()
        self.events.close()
        self._answer_timers.clear()
        await self.mqtt.publish_and_wait(
            self.topics.gateway_status,
            gateway_status(self.config.gateway_id, online=False),
            retain=True,
        )
        services, self._services = self._services, []
        await cancel_and_wait(services, logger=_LOGGER)
        await self.server.stop()
        self._ice_filter.uninstall()
        self._factory.stop()

    @property
    def smart_turn(self) -> SmartTurnJudge | None:
        """AUDIO_END_OF_TURN=smart_turn: the Smart Turn model every device shares."""
        return self._factory.smart_turn

    async def run(self) -> None:
        """Serve until cancelled."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # MQTT dispatch --------------------------------------------------------------------
    def _on_message(self, message: Incoming) -> None:
        parsed = self.topics.parse_device_topic(message.topic)
        if parsed is None:
            head, tail = self.topics.upload_reply("\0").split("\0")
            topic = message.topic
            if self.on_upload_reply and topic.startswith(head) and topic.endswith(tail):
                self.on_upload_reply(topic[len(head) : -len(tail)], message.payload)
            return
        device_id, leaf = parsed
        if not is_valid_device_id(device_id):
            _LOGGER.warning("ignoring %s message: invalid device id %r", leaf, device_id[:80])
            return
        if not self.signaling_limit.allow(device_id, time.monotonic()):
            return
        handler = {
            "status": self._handle_status,
            "settings": self.control.handle_settings,
            "signaling/answer": self._handle_answer,
            "signaling/ice": self._handle_ice,
            "command": self.control.handle_command,
        }.get(leaf)
        if handler is not None:
            self._spawn(self._serialized(device_id, handler(device_id, message)))

    @contextlib.asynccontextmanager
    async def device_turn(self, device_id: str) -> AsyncIterator[None]:
        """Hold this device's turn: its messages and HTTP requests run one at a time."""
        lock = self._device_locks.setdefault(device_id, asyncio.Lock())
        self._lock_users[device_id] = self._lock_users.get(device_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._lock_users[device_id] -= 1
            if not self._lock_users[device_id]:
                del self._lock_users[device_id]
                del self._device_locks[device_id]

    def inject(self, message: Incoming) -> None:
        """Handle a device message as if MQTT delivered it (the HTTP side speaks for devices)."""
        self._on_message(message)

    async def _serialized(self, device_id: str, work: Coroutine[Any, Any, None]) -> None:
        """Run one device's messages in arrival order; other devices run concurrently."""
        try:
            async with self.device_turn(device_id):
                await work
        except BadMessage as err:
            _LOGGER.warning("[%s] ignored bad message: %s", device_id, err)
        except Exception:
            _LOGGER.exception("[%s] message handling failed", device_id)
        finally:
            work.close()  # no-op once it ran; avoids a never-awaited warning if cancelled first

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._tasks.spawn(coro)

    # handlers -------------------------------------------------------------------------
    async def _handle_status(self, device_id: str, message: Incoming) -> None:
        status = parse_status(device_id, message.payload)
        if status.online and not message.retain:  # live: the device is subscribed again
            self.events.device_back(device_id)
        current = self.sessions.get(device_id)
        self.control.listening_from_status(device_id, message.payload)
        if current is not None and current.over_http:
            return  # the HTTP client owns this device id (its status is the gateway's own)
        wanted = status.online and (status.has_audio or status.has_camera)
        if wanted:
            self._online[device_id] = message.payload
        else:
            self._online.pop(device_id, None)
        reoffer = self._reoffers.pop(device_id, None)
        if reoffer is not None:
            reoffer.cancel()  # this status decides
        if wanted:
            if (
                current is not None
                and current.status_payload == message.payload
                and current.state in _LIVE_STATES
            ):
                _LOGGER.debug(
                    "[%s] repeated status; session %s kept", device_id, current.session_id
                )
                return
            if current is not None:
                await current.close(reason="replaced")
            await self._open_session(
                device_id, message.payload, audio=status.has_audio, camera=status.has_camera
            )
        elif current is not None and status.is_last_will and current.state == "connected":
            # MQTT dropped (e.g. a broker restart) but the media path is alive: keep it. If the
            # device is really gone, ICE consent checks fail the connection and it closes.
            current.log.info("device lost MQTT (last will); WebRTC still connected, session kept")
        elif current is not None:
            await current.close(reason="device offline")

    def new_session(
        self, device_id: str, status_payload: bytes, *, audio: bool, camera: bool
    ) -> PeerSession:
        """A device's new session (registered as its current one), not yet negotiated."""
        session = self._factory.session(device_id, status_payload, audio=audio, camera=camera)
        self.sessions[device_id] = session
        return session

    def new_microphone(self, host: PeerSession, *, camera: bool) -> PeerSession:
        """A microphone-only session joining `host`, its device's current session with a
        speaker (not the device's current session; it ends with `host`)."""
        return self._factory.microphone(host, camera=camera)

    async def _open_session(
        self, device_id: str, status_payload: bytes, *, audio: bool, camera: bool
    ) -> None:
        session = self.new_session(device_id, status_payload, audio=audio, camera=camera)
        log, session_id = session.log, session.session_id
        try:
            sdp = await session.create_offer()
        except Exception:
            log.exception("could not create an offer")
            await session.close()
            return
        offer = {"type": "offer", "sdp": sdp, "session_id": session_id}
        self.mqtt.publish(
            self.topics.signaling_offer(device_id), json.dumps(offer).encode(), qos=QOS_RELIABLE
        )
        log.info("offer sent")
        loop = asyncio.get_running_loop()
        self._answer_timers[session_id] = loop.call_later(
            ANSWER_TIMEOUT, self._expire_unanswered, session
        )

    def _expire_unanswered(self, session: PeerSession) -> None:
        self._answer_timers.pop(session.session_id, None)
        if not session.answered:
            session.log.warning("no answer within %.0f s", ANSWER_TIMEOUT)
            self._spawn(session.close(reason="unanswered"))

    async def _on_session_closed(self, session: PeerSession) -> None:
        timer = self._answer_timers.pop(session.session_id, None)
        if timer is not None:
            timer.cancel()
        current = self.sessions.get(session.device_id) is session
        if current:
            del self.sessions[session.device_id]
        self.publish_event(session.device_id, "session_closed", session_id=session.session_id)
        if session.over_http and self.on_http_session_closed is not None:
            self.on_http_session_closed(session)
        dropped = session.close_reason in ("failed", "closed") and session.connected.is_set()
        if current and dropped and session.device_id in self._online:
            # the media path broke while the device is still online (e.g. it restarted and
            # re-sent an identical status that was taken for a repeat): offer again, once
            device_id = session.device_id
            task = self._tasks.spawn(self._reoffer(device_id), name=f"reoffer {device_id}")
            self._reoffers[device_id] = task
            task.add_done_callback(
                lambda t: (
                    self._reoffers.pop(device_id) if self._reoffers.get(device_id) is t else None
                )
            )

    async def _reoffer(self, device_id: str) -> None:
        await asyncio.sleep(REOFFER_DELAY)

        async def reopen() -> None:
            status = self._online.get(device_id)
            if status is not None and device_id not in self.sessions:
                parsed = parse_status(device_id, status)
                _LOGGER.info("[%s] connection dropped while online: new offer", device_id)
                await self._open_session(
                    device_id, status, audio=parsed.has_audio, camera=parsed.has_camera
                )

        await self._serialized(device_id, reopen())

    def _current(self, device_id: str, session_id: str, what: str) -> PeerSession | None:
        session = self.sessions.get(device_id)
        if session is None or session.session_id != session_id:
            _LOGGER.info("[%s] stale %s for session %r ignored", device_id, what, session_id[:40])
            return None
        return session

    async def _handle_answer(self, device_id: str, message: Incoming) -> None:
        session_id, sdp = parse_answer(message.payload, device_id)
        session = self._current(device_id, session_id, "answer")
        if session is None:
            return
        try:
            await session.apply_answer(sdp)
        except Exception as err:
            session.log.warning("answer rejected: %s", err)

    async def _handle_ice(self, device_id: str, message: Incoming) -> None:
        candidate = parse_ice(message.payload, device_id)
        session = self._current(device_id, candidate.session_id, "ICE candidate")
        if session is None:
            return
        try:
            await session.add_ice_candidate(
                candidate.candidate, candidate.sdp_mid, candidate.sdp_mline_index
            )
        except Exception as err:
            session.log.warning("ICE candidate rejected: %s", err)

    # publishing -----------------------------------------------------------------------
    def publish_event(self, device_id: str, event: str, **fields: Any) -> None:
        """`devices/{id}/events` (QoS 1, not retained; held across a broker outage until the
        device is back: event_publisher.py)."""
        self.events.publish(device_id, event, **fields)

    def _publish_device_event(self, device_id: str, payload: bytes) -> None:
        self.mqtt.publish(
            self.topics.device_events(device_id), payload, qos=QOS_RELIABLE, hold=True
        )

    def _on_mqtt_state(self, up: bool) -> None:
        self.events.link_state(up)

    def metrics_payload(self) -> dict[str, object]:
        return self._reporter.payload(
            sessions=len(self.sessions), server_connected=self.server.connected
        )

    async def _report_metrics(self) -> None:
        while True:
            await asyncio.sleep(self.config.metrics_interval)
            payload = json.dumps(self.metrics_payload()).encode()
            self.mqtt.publish(self.topics.gateway_metrics, payload, qos=QOS_TELEMETRY)
