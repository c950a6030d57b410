"""HA's real MQTT client against a real mosquitto on 127.0.0.1: status, alert and snapshot paths."""

from __future__ import annotations

import base64
from typing import Any

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.const import CONF_OFF_DELAY, CONF_PREFIX, DOMAIN

from .payloads import JPEG, alert, camera_status
from .real_broker import Peer, subscribed, until


async def test_alert_and_snapshot_through_real_broker(
    hass: HomeAssistant, real_mqtt: MockConfigEntry, peer: Peer
) -> None:
    # Retained before HA subscribes: the broker delivers it on subscription.
    await hass.async_add_executor_job(
        peer.publish, "naila/devices/front_cam/status", camera_status("front_cam"), True
    )
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="naila", data={CONF_PREFIX: "naila"}, options={CONF_OFF_DELAY: 1}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await until(
        lambda: (
            getattr(hass.states.get("binary_sensor.front_cam_connectivity"), "state", None) == "on"
        )
    )
    await until(lambda: subscribed(hass))

    await hass.async_add_executor_job(
        peer.publish, "naila/alerts/front_door/person_detected", alert()
    )
    zone = "binary_sensor.naila_zone_front_door_person_detected"
    await until(lambda: getattr(hass.states.get(zone), "state", None) == "on")
    # Off again after the 1 s delay (real time here).
    await until(lambda: hass.states.get(zone).state == "off", seconds=5)

    def device(request: dict[str, Any]) -> None:
        peer.publish(
            "naila/devices/front_cam/media/snapshot",
            {
                "request_id": request["request_id"],
                "media_type": "image",
                "format": "jpeg",
                "data": base64.b64encode(JPEG).decode(),
            },
        )

    await hass.async_add_executor_job(peer.answer, "naila/devices/front_cam/media/request", device)
    result = await hass.services.async_call(
        DOMAIN, "request_snapshot", {"device_id": "front_cam"}, blocking=True, return_response=True
    )
    assert base64.b64decode(result["image"]) == JPEG

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
