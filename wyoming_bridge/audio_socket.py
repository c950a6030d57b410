"""The gateway audio socket: TCP server speaking naila_protocol.framing (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass

from naila_protocol.framing import DEFAULT_AUDIO_PORT, ErrorCode, encode_frame, error_frame
from naila_protocol.settings import nested, setting
from naila_protocol.tasks import cancel_and_wait

from .gateway_connection import ConnectionLimits, GatewayConnection, VideoHandler
from .pipeline import Pipeline
from .request_replies import RequestObserver
from .routing.router import HaRouter
from .speculative import SpeculationSettings
from .turn_detector import TurnDetector

_LOGGER = logging.getLogger(__name__)

_READER_LIMIT = 4096
"""StreamReader buffer limit: a header line longer than this is rejected at once."""


_GROUP = "gateway audio socket"


@dataclass(frozen=True, slots=True)
class AudioSocketSettings:
    host: str = setting("0.0.0.0", env="AUDIO_SOCKET_HOST", group=_GROUP, help="bind address")
    port: int = setting(
        DEFAULT_AUDIO_PORT, env="AUDIO_SOCKET_PORT", group=_GROUP, help="port, 0 = any free port"
    )
    max_connections: int = setting(
        64,
        env="AUDIO_SOCKET_MAX_CONNECTIONS",
        flag="--max-connections",
        group=_GROUP,
        help="gateway connections served at once",
    )
    allow: list[str] = setting(
        [],
        env="AUDIO_SOCKET_ALLOW",
        flag="--allow",
        group=_GROUP,
        help="allowed peer addresses or CIDR networks (repeatable or comma separated; "
        "none = everyone)",
    )
    limits: ConnectionLimits = nested(ConnectionLimits)


class AudioSocketServer:
    """Accepts gateway connections and serves each with a GatewayConnection."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: AudioSocketSettings | None = None,
        speculation: SpeculationSettings | None = None,
        observer: RequestObserver | None = None,
        video_handler: VideoHandler | None = None,
        *,
        router: HaRouter | None = None,
        turn: TurnDetector | None = None,
    ) -> None:
        self.router = router
        self.pipeline = pipeline
        self.turn = turn
        self.settings = settings or AudioSocketSettings()
        self.speculation = speculation or SpeculationSettings()
        self.observer = observer
        self.video_handler = video_handler
        self._allow = [ipaddress.ip_network(item, strict=False) for item in self.settings.allow]
        self._connections: set[GatewayConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._closing = False

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("audio socket is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_requests(self) -> int:
        return sum(connection.active_requests for connection in self._connections)

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.settings.host, self.settings.port, limit=_READER_LIMIT
        )
        _LOGGER.info("audio socket listening on %s:%d", self.settings.host, self.port)

    async def close(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        # each connection task ends normally once cancelled here (see _accept)
        await cancel_and_wait(list(self._tasks), logger=_LOGGER)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            if not self._closing:
                raise
            # close() cancelled this connection and awaits it: end normally, or asyncio's
            # stream callback (Python 3.11 calls task.exception()) logs it as an ERROR
        finally:
            self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) else ""
        if not self._allowed(host):
            await self._refuse(writer, ErrorCode.UNAUTHORIZED, f"address {host} is not allowed")
            return
        if len(self._connections) >= self.settings.max_connections:
            await self._refuse(writer, ErrorCode.BUSY, "too many connections")
            return
        connection = GatewayConnection(
            reader,
            writer,
            self.pipeline,
            limits=self.settings.limits,
            speculation=self.speculation,
            observer=self.observer,
            video_handler=self.video_handler,
            router=self.router,
            turn=self.turn,
        )
        self._connections.add(connection)
        _LOGGER.debug("[%s] connected (%d open)", connection.peer, len(self._connections))
        try:
            await connection.serve()
        finally:
            self._connections.discard(connection)

    def _allowed(self, host: str) -> bool:
        if not self._allow:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._allow)

    @staticmethod
    async def _refuse(writer: asyncio.StreamWriter, code: ErrorCode, message: str) -> None:
        _LOGGER.warning("refused %s: %s", writer.get_extra_info("peername"), message)
        try:
            writer.write(encode_frame(error_frame(code, message)))
            await writer.drain()
        except OSError as err:
            _LOGGER.debug("refusal not sent: %s", err)
        writer.close()
        try:
            await writer.wait_closed()
        except OSError as err:
            _LOGGER.debug("refused connection closed: %s", err)
