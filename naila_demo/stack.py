"""The demo's moving parts: MQTT broker, AI server and gateway, started in order and stopped
in reverse."""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from naila_demo.broker import MosquittoBroker
from naila_demo.children import ChildProcess, free_port
from naila_demo.service import AsyncService
from naila_protocol.mqtt import Incoming, MqttLink, MqttSettings, unique_client_id
from naila_protocol.payloads import PayloadError, decode_object
from naila_protocol.tasks import cancel_and_wait
from naila_protocol.topics import DEFAULT_PREFIX, QOS_RELIABLE, Topics
from naila_sim import SimDeviceConfig

_LOGGER = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"
STANDBY_SERVER_ID = "ai-standby"


@dataclass(slots=True)
class StackSettings:
    out_dir: Path
    mqtt_host: str | None = None
    """None: run a private mosquitto on 127.0.0.1 (MQTT 5, so vision runs too)."""
    mqtt_port: int = 1883
    """Port of an existing broker; the private one always takes a free port."""
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_tls_ca_file: str | None = None
    """CA certificate (PEM) of an existing broker: TLS for every part of the demo."""
    mqtt_tls_cert_file: str | None = None
    mqtt_tls_key_file: str | None = None
    prefix: str = DEFAULT_PREFIX
    log_level: str = "INFO"
    server_start_s: float = 240.0
    """Model loading can take a while on a busy machine."""
    gateway_start_s: float = 60.0
    server_args: list[str] = field(default_factory=list)
    gateway_args: list[str] = field(default_factory=list)
    standby_server: bool = False
    """Also run a standby AI server (own port, server id `STANDBY_SERVER_ID`) that the gateway
    fails over to when the first one's connection drops (AI_SERVER_STANDBY)."""


class DemoStack(AsyncService):
    """`async with DemoStack(settings) as stack:` -> broker, AI server and gateway are up."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.broker: MosquittoBroker | None = None
        self.mqtt_host = settings.mqtt_host or LOCALHOST
        self.mqtt_port = settings.mqtt_port
        self.audio_port = 0
        self.http_port = 0
        """The gateway's device page and WHIP port (always on 127.0.0.1)."""
        self.gateway_id = f"naila-demo-{uuid.uuid4().hex[:6]}"
        self.server: ChildProcess | None = None
        self.standby: ChildProcess | None = None
        self.standby_port = 0
        self.gateway: ChildProcess | None = None

    @property
    def page_url(self) -> str:
        """The device page served by the gateway (a secure context: talk with a real mic)."""
        return f"http://{LOCALHOST}:{self.http_port}/"

    @property
    def children(self) -> list[ChildProcess]:
        return [c for c in (self.gateway, self.server, self.standby) if c is not None]

    def mqtt_settings(self) -> MqttSettings:
        """How the demo's own clients reach its broker (login, prefix and TLS included)."""
        s = self.settings
        return MqttSettings(
            host=self.mqtt_host,
            port=self.mqtt_port,
            username=s.mqtt_username,
            password=s.mqtt_password,
            prefix=s.prefix,
            tls_ca_file=s.mqtt_tls_ca_file,
            tls_cert_file=s.mqtt_tls_cert_file,
            tls_key_file=s.mqtt_tls_key_file,
        )

    def device_config(self, device_id: str) -> SimDeviceConfig:
        """A simulated device on this stack's broker, with its login and topic prefix."""
        return SimDeviceConfig(
            device_id=device_id,
            mqtt_host=self.mqtt_host,
            mqtt_port=self.mqtt_port,
            mqtt_username=self.settings.mqtt_username,
            mqtt_password=self.settings.mqtt_password,
            prefix=self.settings.prefix,
            mqtt_tls_ca_file=self.settings.mqtt_tls_ca_file,
            mqtt_tls_cert_file=self.settings.mqtt_tls_cert_file,
            mqtt_tls_key_file=self.settings.mqtt_tls_key_file,
        )

    async def start(self) -> None:
        s = self.settings
        logs = s.out_dir / "logs"
        if s.mqtt_host is None:
            self.broker = MosquittoBroker(LOCALHOST, logs)
            await self.broker.start()
            self.mqtt_port = self.broker.port
        mqtt_env = {
            "MQTT_HOST": self.mqtt_host,
            "MQTT_PORT": str(self.mqtt_port),
            "MQTT_PREFIX": s.prefix,
            **({"MQTT_USERNAME": s.mqtt_username} if s.mqtt_username else {}),
            **({"MQTT_PASSWORD": s.mqtt_password} if s.mqtt_password else {}),
            **{
                name: value
                for name, value in (
                    ("MQTT_TLS_CA_FILE", s.mqtt_tls_ca_file),
                    ("MQTT_TLS_CERT_FILE", s.mqtt_tls_cert_file),
                    ("MQTT_TLS_KEY_FILE", s.mqtt_tls_key_file),
                )
                if value
            },
            "LOG_LEVEL": s.log_level,
        }
        self.audio_port = free_port(LOCALHOST)
        self.server = self._server_child("AI server", self.audio_port, None, mqtt_env)
        await self.server.start()
        if s.standby_server:
            self.standby_port = free_port(LOCALHOST)
            self.standby = self._server_child(
                "standby AI server", self.standby_port, STANDBY_SERVER_ID, mqtt_env
            )
            await self.standby.start()
        _LOGGER.info("loading models (the AI server listens once they are ready)...")
        await self.server.wait_for_port(LOCALHOST, self.audio_port, s.server_start_s)
        if self.standby is not None:
            await self.standby.wait_for_port(LOCALHOST, self.standby_port, s.server_start_s)
        self.http_port = free_port(LOCALHOST)
        self.gateway = ChildProcess(
            "gateway",
            # metrics every second: readiness below waits for `server_connected`
            [
                sys.executable,
                "-m",
                "naila_gateway",
                "--gateway-id",
                self.gateway_id,
                "--metrics-interval",
                "1",
                *s.gateway_args,
            ],
            env={
                **mqtt_env,
                "AI_SERVER_HOST": LOCALHOST,
                "AI_SERVER_PORT": str(self.audio_port),
                **(
                    {"AI_SERVER_STANDBY": f"{LOCALHOST}:{self.standby_port}"}
                    if self.standby is not None
                    else {}
                ),
                "HTTP_HOST": LOCALHOST,
                "HTTP_PORT": str(self.http_port),
                "WEBRTC_ICE_ADDRESSES": LOCALHOST,  # media stays on loopback
            },
            log_path=logs / "gateway.log",
        )
        await self.gateway.start()
        await self._wait_gateway_online(self.gateway, s.gateway_start_s)

    def _server_child(
        self, name: str, port: int, server_id: str | None, mqtt_env: dict[str, str]
    ) -> ChildProcess:
        """`python -m wyoming_bridge` on 127.0.0.1:port (server_id None: the default id)."""
        logs = self.settings.out_dir / "logs"
        return ChildProcess(
            name,
            [
                sys.executable, "-m", "wyoming_bridge",
                "--audio-socket-host", LOCALHOST,
                "--audio-socket-port", str(port),
                "--no-wyoming",
                *self.settings.server_args,
            ],
            env={**mqtt_env, **({"SERVER_ID": server_id} if server_id else {})},
            log_path=logs / ("server.log" if server_id is None else f"server-{server_id}.log"),
        )  # fmt: skip

    async def _wait_gateway_online(self, gateway: ChildProcess, within_s: float) -> None:
        """Wait until the gateway is online and connected to the AI server (or exits)."""
        async with asyncio.timeout(within_s):
            online = asyncio.create_task(self._gateway_ready())
            exited = asyncio.create_task(gateway.wait_exit())
            try:
                await asyncio.wait({online, exited}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await cancel_and_wait([online, exited], logger=_LOGGER, log=False)
        if online.done() and not online.cancelled() and online.exception() is None:
            return
        raise RuntimeError(f"gateway exited with code {gateway.returncode}:\n{gateway.log_tail()}")

    async def _gateway_ready(self) -> None:
        """This gateway's retained status says online and its metrics say the AI server is
        connected (before that, utterances would be dropped as 'server_unavailable')."""
        topics = Topics(self.settings.prefix)
        seen: dict[str, bool] = {}
        ready = asyncio.Event()

        def on_message(message: Incoming) -> None:
            try:
                data = decode_object(message.payload)
            except PayloadError:
                return
            if data.get("gateway_id") != self.gateway_id:
                return
            key = "online" if message.topic == topics.gateway_status else "server_connected"
            seen[key] = data.get(key) is True
            if seen.get("online") and seen.get("server_connected"):
                ready.set()

        link = MqttLink(
            self.mqtt_settings(),
            client_id=unique_client_id("naila-demo"),
            on_message=on_message,
            subscriptions=[
                (topics.gateway_status, QOS_RELIABLE),
                (topics.gateway_metrics, QOS_RELIABLE),
            ],
        )
        async with link:
            await ready.wait()

    async def stop(self) -> None:
        """Gateway, then AI server, then the private broker; safe to call twice."""
        for child in self.children:
            await child.stop()
        if self.broker is not None:
            await self.broker.stop()
            self.broker = None
