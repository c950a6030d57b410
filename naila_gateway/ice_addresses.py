"""Which local addresses the gateway offers as ICE host candidates (`WEBRTC_ICE_ADDRESSES`).

A Raspberry Pi with Docker bridges or a VPN would otherwise offer every interface address.
The selection names interfaces (`eth0`), single addresses (`192.168.1.5`) or networks
(`192.168.1.0/24`); only matching addresses are gathered. Loopback is offered when selected
(aioice itself always skips 127.0.0.1). aioice has no per-connection setting, so the gateway
installs the filter process-wide while it runs (`IceAddressFilter`).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import aioice.ice
import ifaddr

_LOGGER = logging.getLogger(__name__)
HostAddresses = Callable[[bool, bool], list[str]]
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class IceAddressSelection:
    """Parsed `WEBRTC_ICE_ADDRESSES`: interface names and networks (an address is a /32 or /128)."""

    interfaces: frozenset[str]
    networks: tuple[_Network, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> IceAddressSelection:
        """Raises ValueError for an entry that is neither an interface name nor an address/CIDR."""
        interfaces: set[str] = set()
        networks: list[_Network] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            if any(c in entry for c in ".:/"):
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise ValueError(
                        f"WEBRTC_ICE_ADDRESSES: {entry!r} is not an address or CIDR"
                    ) from None
            elif entry.replace("-", "").replace("_", "").isalnum() and len(entry) <= 32:
                interfaces.add(entry)
            else:
                raise ValueError(f"WEBRTC_ICE_ADDRESSES: {entry!r} is not an interface name")
        return cls(frozenset(interfaces), tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.interfaces or self.networks)

    def matches(self, interface: str, address: str) -> bool:
        if interface in self.interfaces:
            return True
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return any(ip.version == net.version and ip in net for net in self.networks)


def interface_addresses() -> list[tuple[str, str]]:
    """(interface name, address) of every local address, IPv6 link-local excluded."""
    found: list[tuple[str, str]] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                found.append((adapter.nice_name, ip.ip))
            elif not ipaddress.ip_address(ip.ip[0]).is_link_local:
                found.append((adapter.nice_name, ip.ip[0]))
    return found


def selected_addresses(
    selection: IceAddressSelection,
    use_ipv4: bool,
    use_ipv6: bool,
    available: Sequence[tuple[str, str]] | None = None,
) -> list[str]:
    """Local addresses that match the selection, in interface order, without duplicates."""
    chosen: list[str] = []
    for interface, address in interface_addresses() if available is None else available:
        version = ipaddress.ip_address(address).version
        if (version == 4 and not use_ipv4) or (version == 6 and not use_ipv6):
            continue
        if selection.matches(interface, address) and address not in chosen:
            chosen.append(address)
    return chosen


class IceAddressFilter:
    """Installs the selection into aioice for the lifetime of one gateway (idempotent)."""

    def __init__(self, selection: IceAddressSelection) -> None:
        self.selection = selection
        self._original: HostAddresses | None = None

    def _host_addresses(self, use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses = selected_addresses(self.selection, use_ipv4, use_ipv6)
        if not addresses:
            _LOGGER.warning("WEBRTC_ICE_ADDRESSES matches no local address: no host candidates")
        return addresses

    def install(self) -> None:
        if not self.selection or self._original is not None:
            return
        self._original = aioice.ice.get_host_addresses
        aioice.ice.get_host_addresses = self._host_addresses
        _LOGGER.info(
            "ICE host candidates limited to %s (now %s)",
            ", ".join(
                sorted(self.selection.interfaces) + [str(n) for n in self.selection.networks]
            ),
            ", ".join(self._host_addresses(True, True)) or "none",
        )

    def uninstall(self) -> None:
        if self._original is None:
            return
        if aioice.ice.get_host_addresses == self._host_addresses:
            aioice.ice.get_host_addresses = self._original  # type: ignore[assignment]
        self._original = None
