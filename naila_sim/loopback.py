"""Make aioice offer 127.0.0.1 host candidates (it skips loopback), for loopback-only runs.

aioice has no setting for this, so the patch replaces `aioice.ice.get_host_addresses` for
the whole process while the context is open. Use it only in simulations and tests (the
simulated device's `loopback=True` option, or a pytest fixture) — never in the gateway.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import aioice.ice


def _loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


@contextlib.contextmanager
def loopback_host_addresses() -> Iterator[None]:
    """Within this block every new ICE agent gathers exactly one host candidate: 127.0.0.1."""
    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = _loopback_addresses
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original
