"""The logbook as a user reads it, from HA's real recorder and logbook on a real mosquitto: an
alert is one "detected" entry per alert entity (the zone's event "detected an event", the
sensors "detected"); the broker dying and coming back (HA's MQTT client reconnects) adds none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components import mqtt as ha_mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.naila.const import CONF_PREFIX, DOMAIN

from .payloads import alert, camera_status
from .real_broker import Peer, until
from .real_broker import subscribed as _subscribed
from .test_chaos_availability import Processes

ZONE_EVENT = "event.naila_zone_porch_alert"
ZONE_PERSON = "binary_sensor.naila_zone_porch_person_detected"
CAM_PERSON = "binary_sensor.front_cam_person_detected"
ALERT_ENTITIES = (ZONE_EVENT, ZONE_PERSON, CAM_PERSON)


@pytest.fixture
async def broker(socket_enabled: None, tmp_path: Path) -> AsyncIterator[Processes]:
    """A mosquitto that the test can kill and start again."""
    processes = Processes(tmp_path)
    processes.start("broker")
    yield processes
    processes.stop_all()


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(recorder_mock: Any, enable_custom_integrations: None) -> None:
    """The recorder starts before `hass` (tests/ha/conftest.py's version of this fixture
    would create `hass` first)."""


@pytest.fixture
async def peer(hass: HomeAssistant, broker: Processes) -> AsyncIterator[Peer]:
    """A plain MQTT client playing the camera and the AI server."""
    client = await hass.async_add_executor_job(Peer, broker.port)
    yield client
    await hass.async_add_executor_job(client.close)


@pytest.fixture
async def logbook(hass: HomeAssistant) -> None:
    """HA's recorder and logbook (the frontend panel it registers is not needed here)."""
    hass.config.components.add("frontend")  # its package is not installed in this venv
    assert await async_setup_component(hass, "logbook", {})


async def entries(
    hass: HomeAssistant, hass_ws_client: Any, since: datetime
) -> list[dict[str, Any]]:
    """The logbook since `since`, as the frontend fetches it."""
    await async_wait_recording_done(hass)
    client = await hass_ws_client(hass)
    await client.send_json({"id": 1, "type": "logbook/get_events", "start_time": since.isoformat()})
    response = await client.receive_json()
    assert response["success"], response
    return [row for row in response["result"] if row.get("entity_id") in ALERT_ENTITIES]


async def test_alerts_are_logged_and_an_mqtt_reconnect_is_not(
    hass: HomeAssistant,
    logbook: None,
    broker: Processes,
    peer: Peer,
    hass_ws_client: Any,
    mock_hass_config: None,
) -> None:
    mqtt_entry = MockConfigEntry(
        domain=ha_mqtt.DOMAIN,
        data={"broker": "127.0.0.1", "port": broker.port},
        version=1,
        minor_version=2,
    )
    mqtt_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mqtt_entry.entry_id)
    await until(lambda: ha_mqtt.is_connected(hass))
    entry = MockConfigEntry(domain=DOMAIN, unique_id="naila", data={CONF_PREFIX: "naila"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_add_executor_job(
        peer.publish,
        "naila/devices/front_cam/status",
        camera_status("front_cam", zone="porch"),
        True,
    )
    await until(lambda: hass.states.get(ZONE_PERSON) is not None)
    await until(lambda: _subscribed(hass))
    start = dt_util.utcnow()

    await hass.async_add_executor_job(
        peer.publish, "naila/alerts/porch/person_detected", alert(zone="porch")
    )
    await until(lambda: hass.states.get(ZONE_PERSON).state == "on")

    logged = await entries(hass, hass_ws_client, start)
    assert sorted((row["entity_id"], row["state"] == "on") for row in logged) == [
        (CAM_PERSON, True),
        (ZONE_PERSON, True),
        (ZONE_EVENT, False),  # its state is the time of the event: "detected an event"
    ], logged

    # the broker dies and comes back: HA's MQTT client reconnects and resubscribes. Each
    # (re)connect publishes HA's birth message from a task of its own, which fails if the
    # broker dies under it (HA's behaviour): it is killed only once the birth went out.
    births: list[str | bytes] = []
    unsubscribe_births = await ha_mqtt.async_subscribe(
        hass, "homeassistant/status", callback(lambda msg: births.append(msg.payload))
    )
    await until(lambda: births.count("online") == 1, 30)
    reconnect = dt_util.utcnow()
    broker.kill9("broker")
    await until(lambda: not ha_mqtt.is_connected(hass), 30)
    await until(
        lambda: hass.states.get("binary_sensor.naila_gateway_connectivity").state == "unavailable"
    )
    broker.start("broker")
    await until(lambda: ha_mqtt.is_connected(hass), 60)
    await until(
        lambda: hass.states.get("binary_sensor.naila_gateway_connectivity").state != "unavailable",
        30,
    )
    await until(lambda: births.count("online") == 2, 30)
    unsubscribe_births()
    async with asyncio.timeout(30):  # HA's resubscribe and birth tasks ended
        await hass.async_block_till_done(wait_background_tasks=True)

    assert await entries(hass, hass_ws_client, reconnect) == []
    assert hass.states.get(ZONE_PERSON).state == "on"

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_unload(mqtt_entry.entry_id)
    await hass.async_block_till_done()
