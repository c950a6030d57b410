"""A private mosquitto (MQTT 5, TCP_NODELAY) on a free port of 127.0.0.1, as a child process."""

from __future__ import annotations

import logging
import shutil
import signal
import tempfile
from pathlib import Path

from naila_demo.children import ChildProcess, free_port
from naila_demo.service import AsyncService

_LOGGER = logging.getLogger(__name__)

MOSQUITTO = "mosquitto"
"""The Debian package's broker (scripts/bootstrap installs it); found on PATH or in /usr/sbin."""
START_S = 10.0


def mosquitto_binary() -> str:
    found = shutil.which(MOSQUITTO) or shutil.which(MOSQUITTO, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise RuntimeError("mosquitto is not installed (scripts/bootstrap installs it)")
    return found


def mosquitto_config(port: int, host: str = "127.0.0.1") -> str:
    """One anonymous listener; Nagle off (it adds ~40 ms per MQTT step); nothing on disk."""
    return (
        f"listener {port} {host}\nallow_anonymous true\nset_tcp_nodelay true\n"
        "persistence false\nmax_packet_size 16777216\nlog_dest stderr\nlog_type error\n"
        "log_type warning\n"
    )


class MosquittoBroker(AsyncService):
    """`async with MosquittoBroker() as broker:` -> `broker.host`, `broker.port` accept MQTT."""

    def __init__(self, host: str = "127.0.0.1", log_dir: Path | None = None) -> None:
        self.host = host
        self.port = 0
        self._log_dir = log_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._child: ChildProcess | None = None

    async def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="naila-mosquitto-")
        folder = Path(self._tmp.name)
        self.port = free_port(self.host)
        config = folder / "mosquitto.conf"
        config.write_text(mosquitto_config(self.port, self.host))
        self._child = ChildProcess(
            "mosquitto",
            [mosquitto_binary(), "-c", str(config)],
            log_path=(self._log_dir or folder) / "mosquitto.log",
            stop_signals=(signal.SIGTERM,),
        )
        await self._child.start()
        await self._child.wait_for_port(self.host, self.port, START_S)
        _LOGGER.info("mosquitto listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            await child.stop()
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            tmp.cleanup()


__all__ = ["MosquittoBroker", "mosquitto_config"]
