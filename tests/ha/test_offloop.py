"""Snapshots and upload replies (up to 16 MiB of JSON and base64) are decoded in HA's executor,
never on the event loop, and applied in the order they arrived."""

from __future__ import annotations

import base64
import threading
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila import devices
from custom_components.naila.payloads import Snapshot, parse_snapshot

from .payloads import JPEG, camera_status


async def test_snapshots_decode_off_the_loop_in_arrival_order(
    hass: HomeAssistant, entry: MockConfigEntry, publish, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    decoded_in: list[int] = []

    def recording_parse(device_id: str, data: dict[str, Any]) -> Snapshot:
        decoded_in.append(threading.get_ident())
        return parse_snapshot(device_id, data)

    monkeypatch.setattr(devices, "parse_snapshot", recording_parse)
    publish("naila/devices/front_cam/status", camera_status("front_cam"), True)
    await hass.async_block_till_done()
    big = base64.b64encode(JPEG + bytes(4 * 1024 * 1024)).decode()  # decoded last if in order
    for stamp, data in (("10:30:00", big), ("10:30:01", base64.b64encode(JPEG).decode())):
        publish(
            "naila/devices/front_cam/media/snapshot",
            {"format": "jpeg", "timestamp": f"2026-01-15T{stamp}Z", "data": data},
        )
    await hass.async_block_till_done()

    assert len(decoded_in) == 2
    assert loop_thread not in decoded_in
    state = hass.states.get("image.front_cam_snapshot")
    assert state.state == "2026-01-15T10:30:01+00:00"  # the later one stays shown
    assert entry.runtime_data.hub.rejected["internal_error"] == 0
