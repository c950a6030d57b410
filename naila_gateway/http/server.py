"""The gateway's aiohttp server: page, WHIP, event feed, uploads, commands and settings."""

from __future__ import annotations

import json
import logging
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from naila_gateway.http.access import AccessControl
from naila_gateway.http.errors import ApiError, read_body
from naila_gateway.http.feed import EventFeed
from naila_gateway.http.uploads import UploadBridge
from naila_gateway.http.whip import WhipEndpoint, device_id_of
from naila_protocol.mqtt import Incoming
from naila_protocol.payloads import DeviceSettings, PayloadError
from naila_protocol.topics import QOS_RELIABLE

if TYPE_CHECKING:
    from naila_gateway.gateway import Gateway

_LOGGER = logging.getLogger(__name__)
WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
MAX_JSON_BYTES = 8 * 1024


class HttpFrontend:
    """Owns the aiohttp runner of one gateway; `start()` binds, `stop()` ends every stream."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.settings = gateway.config.http
        self.access = AccessControl(self.settings)
        self.feed = EventFeed()
        self.whip = WhipEndpoint(gateway, self.settings.max_sessions, self.access.via_trusted_proxy)
        self.uploads = UploadBridge(
            gateway, self.settings.max_upload_bytes, self.settings.upload_timeout
        )
        self.app = web.Application(
            middlewares=[self.access.middleware],
            client_max_size=self.settings.max_upload_bytes + 64 * 1024,
        )
        self.app.add_routes(
            [
                *self.whip.routes(),
                web.get("/", self.page),
                web.get("/index.html", self.page),
                web.static("/static", WEB_ROOT, follow_symlinks=False),
                web.get("/api/devices/{device_id}/events", self.feed.stream),
                web.post("/api/devices/{device_id}/upload", self.uploads.upload),
                web.post("/api/devices/{device_id}/command", self.command),
                web.post("/api/devices/{device_id}/settings", self.device_settings),
            ]
        )
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        """The bound port once started (HTTP_PORT=0 picks a free one)."""

    @property
    def url(self) -> str:
        return f"{self.settings.scheme}://{self.settings.host}:{self.port}/"

    async def start(self) -> None:
        context = None
        if self.settings.tls_cert_file and self.settings.tls_key_file:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.settings.tls_cert_file, self.settings.tls_key_file)
        self.gateway.event_taps.append(self.feed.publish)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.settings.host, self.settings.port or 0, ssl_context=context
        )
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # (host, port[, ...]) of the bound socket
        _LOGGER.info("device page and WHIP on %s", self.url)

    async def stop(self) -> None:
        self.feed.close()
        if self.feed.publish in self.gateway.event_taps:
            self.gateway.event_taps.remove(self.feed.publish)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_ROOT / "index.html", headers={"Cache-Control": "no-store"})

    async def _json_body(self, request: web.Request) -> bytes:
        if request.content_type != "application/json":
            raise ApiError(415, "unsupported_media_type", "send application/json")
        return await read_body(request, MAX_JSON_BYTES)

    async def command(self, request: web.Request) -> web.Response:
        """A device command (docs/mqtt.md `command`), handled as if it came over MQTT."""
        device_id = device_id_of(request)
        body = await self._json_body(request)
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(400, "bad_json", "the body is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("command"), str):
            raise ApiError(400, "bad_command", "expected an object with a 'command'")
        topic = self.gateway.topics.device_command(device_id)
        self.gateway.inject(Incoming(topic, body, retain=False))
        return web.json_response({"accepted": data["command"]}, status=202)

    async def device_settings(self, request: web.Request) -> web.Response:
        """Listening mode / wake word chosen on the page: the device's retained settings."""
        device_id = device_id_of(request)
        body = await self._json_body(request)
        try:
            settings = DeviceSettings.from_json(body, device_id)
        except PayloadError as err:
            raise ApiError(400, "bad_settings", str(err)) from None
        topic = self.gateway.topics.device_settings(device_id)
        payload = settings.to_json()
        self.gateway.mqtt.publish(topic, payload, qos=QOS_RELIABLE, retain=True)
        self.gateway.inject(Incoming(topic, payload, retain=True))
        return web.json_response(json.loads(payload))
