"""A media announcement through the whole product: `assist_satellite.announce` with a media
source id -> Home Assistant resolves and signs the URL of its own HTTP server -> the NAILA
integration -> the gateway fetches it from HA (its auth checks the signature), decodes and
plays it on the simulated device; the call returns once the device played it. A media file HA
cannot serve fails the call with the gateway's reason."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncGenerator
from pathlib import Path

import numpy as np
import pytest
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.e2e_ha.test_ha_commands import naila_entry  # noqa: F401 - fixture
from tests.ha.real_broker import free_port, until

SATELLITE = "assist_satellite.bedroom_speaker"


def doorbell_wav(seconds: float = 1.5, rate: int = 22050) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (np.sin(2 * np.pi * 523.0 * t) * 8000).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


@pytest.fixture
async def ha_http(hass: HomeAssistant, socket_enabled: None, tmp_path: Path) -> AsyncGenerator[str]:
    """HA's real HTTP server on 127.0.0.1 (its internal URL) and a local media folder."""
    port = free_port()
    # http starts its server once the frontend is loaded; its package is not installed here
    hass.config.components.add("frontend")
    assert await async_setup_component(
        hass, "http", {"http": {"server_host": ["127.0.0.1"], "server_port": port}}
    )
    url = f"http://127.0.0.1:{port}"
    await async_process_ha_core_config(hass, {"internal_url": url})
    media = tmp_path / "media"
    media.mkdir()
    (media / "doorbell.wav").write_bytes(doorbell_wav())
    hass.config.media_dirs = {"local": str(media)}
    assert await async_setup_component(hass, "media_source", {})
    yield url


@pytest.mark.timeout(900)
async def test_media_from_home_assistant_plays_on_the_device(
    hass: HomeAssistant,
    ha_http: str,
    naila_entry: MockConfigEntry,  # noqa: F811 - the fixture imported above
    naila,
) -> None:
    await naila()
    await until(lambda: getattr(hass.states.get(SATELLITE), "state", None) == "idle", 60)

    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"entity_id": SATELLITE, "media_id": "media-source://media_source/local/doorbell.wav"},
        blocking=True,
    )  # returns once the gateway said `announced`: the device played it to the end

    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "media_id": "media-source://media_source/local/gone.wav"},
            blocking=True,
        )
    assert err.value.translation_key == "media_failed"
    assert "media_unreachable" in str(err.value) and "HTTP 404" in str(err.value), err.value
    assert hass.states.get(SATELLITE).state == "idle"
