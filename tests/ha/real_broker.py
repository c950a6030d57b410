"""HA's real MQTT client on a real mosquitto of the test's own (127.0.0.1, free port).

Fixtures `broker_port` and `real_mqtt`, shared by the HA suites that need a real broker.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path

import pytest
from homeassistant.components import mqtt as ha_mqtt
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"mosquitto did not listen on {port}")


@pytest.fixture
def broker_port(socket_enabled: None, tmp_path: Path) -> Iterator[int]:
    """A mosquitto of its own on a free port of 127.0.0.1."""
    if shutil.which("mosquitto") is None:
        pytest.fail("mosquitto is not installed")
    port = free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        "persistence false\n"
    )
    process = subprocess.Popen(["mosquitto", "-c", str(config)], stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll `check` (state written by HA's MQTT thread hand-off) for up to `seconds`."""
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - polls HA state and MQTT client internals
            await asyncio.sleep(0.02)


@pytest.fixture
async def real_mqtt(
    hass: HomeAssistant, broker_port: int, mock_hass_config: None
) -> AsyncGenerator[MockConfigEntry]:
    """HA's MQTT integration with its real paho client, connected to the broker."""
    entry = MockConfigEntry(
        domain=ha_mqtt.DOMAIN,
        data={"broker": "127.0.0.1", "port": broker_port},
        version=1,
        minor_version=2,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await until(lambda: ha_mqtt.is_connected(hass))
    yield entry
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
