"""mDNS announcement of the Wyoming server for Home Assistant's discovery (zeroconf's public API)."""

from __future__ import annotations

import logging
import socket

from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

_LOGGER = logging.getLogger(__name__)
SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


def local_address() -> str:
    """The address other hosts reach us on (the interface that routes to the mDNS group)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.setblocking(False)
        probe.connect((_MDNS_GROUP, 1))
        return str(probe.getsockname()[0])


class WyomingAnnouncement:
    """`_wyoming._tcp` service `name` on `port`: `await register()`, then `await close()`."""

    def __init__(self, name: str, port: int, host: str | None = None) -> None:
        self.info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(host or local_address())],
            port=port,
        )
        self._zeroconf: AsyncZeroconf | None = None

    async def register(self) -> None:
        self._zeroconf = AsyncZeroconf()
        await self._zeroconf.async_register_service(self.info)
        _LOGGER.info("Zeroconf discovery enabled as %s", self.info.name)

    async def close(self) -> None:
        zeroconf, self._zeroconf = self._zeroconf, None
        if zeroconf is not None:
            await zeroconf.async_unregister_all_services()
            await zeroconf.async_close()
