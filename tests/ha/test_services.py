"""naila.request_snapshot, naila.announce and naila.ask against simulated devices and server."""

import base64
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.naila.const import DOMAIN

from .payloads import JPEG, camera_status, device_status

Responder = Callable[[str, dict[str, Any]], Any]


@pytest.fixture
async def camera(hass: HomeAssistant, entry: MockConfigEntry, publish) -> str:
    publish("naila/devices/front_cam/status", camera_status("front_cam"), True)
    publish("naila/devices/kitchen/status", device_status("kitchen"), True)
    await hass.async_block_till_done()
    return dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "naila/devices/front_cam")}).id


def _snapshot_reply(topic: str, request: dict[str, Any]):
    return (
        "naila/devices/front_cam/media/snapshot",
        {
            "request_id": request["request_id"],
            "media_type": "image",
            "format": "jpeg",
            "width": 1,
            "height": 1,
            "timestamp": "2026-01-15T10:30:00Z",
            "data": base64.b64encode(JPEG).decode(),
        },
    )


async def _call(hass: HomeAssistant, service: str, data: dict[str, Any], response: bool = True):
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=response
    )


async def test_request_snapshot_returns_picture(
    hass: HomeAssistant, camera: str, responder
) -> None:
    await responder("naila/devices/front_cam/media/request", _snapshot_reply)
    result = await _call(hass, "request_snapshot", {"device_id": camera, "quality": 70})
    [(topic, request)] = responder.requests
    assert topic == "naila/devices/front_cam/media/request"
    assert request["request_type"] == "snapshot"
    assert request["params"] == {"resolution": "1280x720", "format": "jpeg", "quality": 70}
    assert result["request_id"] == request["request_id"]
    assert base64.b64decode(result["image"]) == JPEG
    assert result["content_type"] == "image/jpeg"
    assert result["size"] == len(JPEG)
    # The image entity shows it too.
    assert hass.states.get("image.front_cam_snapshot").state == "2026-01-15T10:30:00+00:00"


async def test_request_snapshot_by_naila_device_id(
    hass: HomeAssistant, camera: str, responder
) -> None:
    await responder("naila/devices/front_cam/media/request", _snapshot_reply)
    result = await _call(hass, "request_snapshot", {"device_id": "front_cam"})
    assert result["device_id"] == "front_cam"


async def test_request_snapshot_ignores_other_request_ids(
    hass: HomeAssistant, camera: str, responder, freezer
) -> None:
    def wrong_reply(topic, request):
        return _snapshot_reply(topic, {"request_id": "someone_else"})

    await responder("naila/devices/front_cam/media/request", wrong_reply)
    task = hass.async_create_task(_call(hass, "request_snapshot", {"device_id": camera}))
    await responder.seen.wait()
    freezer.tick(timedelta(seconds=11))
    async_fire_time_changed(hass)
    with pytest.raises(HomeAssistantError) as err:
        await task
    assert err.value.translation_key == "snapshot_timeout"
    assert entry_pending(hass) == 0


def entry_pending(hass: HomeAssistant) -> int:
    [entry] = hass.config_entries.async_loaded_entries(DOMAIN)
    return len(entry.runtime_data.hub.requests)


async def test_request_snapshot_timeout(
    hass: HomeAssistant, camera: str, responder, freezer
) -> None:
    await responder("naila/devices/front_cam/media/request", None)
    task = hass.async_create_task(
        _call(hass, "request_snapshot", {"device_id": camera, "timeout": 3})
    )
    await responder.seen.wait()
    freezer.tick(timedelta(seconds=4))
    async_fire_time_changed(hass, dt_util.utcnow())
    with pytest.raises(HomeAssistantError) as err:
        await task
    assert err.value.translation_key == "snapshot_timeout"
    assert "within 3.0 s" in str(err.value)


@pytest.mark.parametrize(
    ("device", "key"), [("nobody", "unknown_device"), ("kitchen", "not_a_camera")]
)
async def test_request_snapshot_validation(
    hass: HomeAssistant, camera: str, device: str, key: str
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "request_snapshot", {"device_id": device})
    assert err.value.translation_key == key


async def test_request_snapshot_offline_device(hass: HomeAssistant, camera: str, publish) -> None:
    publish("naila/devices/front_cam/status", {"device_id": "front_cam", "online": False})
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "request_snapshot", {"device_id": camera})
    assert err.value.translation_key == "device_offline"


async def test_announce_publishes_command(hass: HomeAssistant, camera: str, responder) -> None:
    await responder("naila/devices/kitchen/command", None)
    assert (
        await _call(hass, "announce", {"device_id": "kitchen", "message": "Dinner"}, False) is None
    )
    await hass.async_block_till_done()
    [(topic, command)] = responder.requests
    assert topic == "naila/devices/kitchen/command"
    assert command["command"] == "announce"
    assert command["message"] == "Dinner"
    assert command["request_id"].startswith("ann_")


async def test_announce_with_response_waits_for_gateway(
    hass: HomeAssistant, camera: str, responder
) -> None:
    def gateway(topic, command):
        return (
            "naila/devices/kitchen/events",
            {"event": "announced", "device_id": "kitchen", "request_id": command["request_id"]},
        )

    await responder("naila/devices/kitchen/command", gateway)
    result = await _call(hass, "announce", {"device_id": "kitchen", "message": "Dinner"})
    assert result["status"] == "announced"


async def test_announce_error_from_gateway(hass: HomeAssistant, camera: str, responder) -> None:
    def gateway(topic, command):
        return (
            "naila/devices/kitchen/events",
            {
                "event": "error",
                "device_id": "kitchen",
                "request_id": command["request_id"],
                "code": "server_unavailable",
                "message": "AI server unreachable",
            },
        )

    await responder("naila/devices/kitchen/command", gateway)
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "announce", {"device_id": "kitchen", "message": "Dinner"})
    assert err.value.translation_key == "announce_failed"
    assert "AI server unreachable" in str(err.value)


async def test_announce_timeout(hass: HomeAssistant, camera: str, responder, freezer) -> None:
    await responder("naila/devices/kitchen/command", None)
    task = hass.async_create_task(
        _call(hass, "announce", {"device_id": "kitchen", "message": "Hi", "timeout": 5})
    )
    await responder.seen.wait()
    freezer.tick(timedelta(seconds=6))
    async_fire_time_changed(hass)
    with pytest.raises(HomeAssistantError) as err:
        await task
    assert err.value.translation_key == "announce_timeout"


async def test_announce_unknown_device(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "announce", {"device_id": "ghost", "message": "Hi"}, False)
    assert err.value.translation_key == "unknown_device"


def _server(answer: str = "Yes, a parcel.") -> Responder:
    def reply(topic: str, upload: dict[str, Any]):
        if topic.endswith("/reply"):
            return None  # its own reply (the filter matches it): answering it would recurse
        session = topic.split("/")[2]
        return (
            f"naila/uploads/{session}/reply",
            {
                "session_id": session,
                "request_id": upload["request_id"],
                "status": "ok",
                "answer": answer,
                "visual_context": {"analysis": {"objects": [{"label": "box"}]}},
            },
        )

    return reply


async def test_ask_text_only(hass: HomeAssistant, entry: MockConfigEntry, responder) -> None:
    await responder("naila/uploads/+/+", _server("It is 21 degrees."))
    result = await _call(hass, "ask", {"text": "How warm is it?"})
    [(topic, upload)] = [r for r in responder.requests if not r[0].endswith("/reply")]
    assert topic.endswith("/text")
    assert upload["media_type"] == "text"
    assert upload["context"] == "How warm is it?"
    assert "data" not in upload
    assert result["answer"] == "It is 21 degrees."
    assert result["session_id"] == upload["session_id"]


async def test_ask_with_image_file(
    hass: HomeAssistant, camera: str, responder, tmp_path: Path
) -> None:
    picture = tmp_path / "parcel.jpg"
    picture.write_bytes(JPEG)
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    await responder("naila/uploads/+/+", _server())
    result = await _call(
        hass,
        "ask",
        {"text": "Is there a parcel?", "image_path": str(picture), "device_id": camera},
    )
    [(topic, upload)] = [r for r in responder.requests if not r[0].endswith("/reply")]
    assert topic == f"naila/uploads/{upload['session_id']}/image"
    assert upload["format"] == "jpeg"
    assert upload["filename"] == "parcel.jpg"
    assert upload["device_id"] == "front_cam"
    assert base64.b64decode(upload["data"]) == JPEG
    assert result["answer"] == "Yes, a parcel."
    assert result["visual_context"]["analysis"]["objects"] == [{"label": "box"}]


async def test_ask_with_camera_entity(
    hass: HomeAssistant, entry: MockConfigEntry, responder, tmp_path: Path
) -> None:
    picture = tmp_path / "door.jpg"
    picture.write_bytes(JPEG)
    assert await async_setup_component(
        hass,
        "camera",
        {"camera": {"platform": "local_file", "name": "door", "file_path": str(picture)}},
    )
    await hass.async_block_till_done()
    await responder("naila/uploads/+/+", _server())
    result = await _call(hass, "ask", {"text": "Who is there?", "image_entity_id": "camera.door"})
    [(_, upload)] = [r for r in responder.requests if not r[0].endswith("/reply")]
    assert base64.b64decode(upload["data"]) == JPEG
    assert upload["filename"] == "camera.door.jpeg"
    assert result["answer"] == "Yes, a parcel."


async def test_ask_rejects_paths_outside_allowlist(
    hass: HomeAssistant, entry: MockConfigEntry, tmp_path: Path
) -> None:
    picture = tmp_path / "secret.jpg"
    picture.write_bytes(JPEG)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "ask", {"text": "What is this?", "image_path": str(picture)})
    assert err.value.translation_key == "path_not_allowed"


async def test_ask_server_error(hass: HomeAssistant, entry: MockConfigEntry, responder) -> None:
    def failing(topic, upload):
        session = topic.split("/")[2]
        return (
            f"naila/uploads/{session}/reply",
            {
                "session_id": session,
                "status": "error",
                "error": {"code": "llm", "message": "model not loaded"},
            },
        )

    await responder("naila/uploads/+/text", failing)
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "ask", {"text": "Hello?"})
    assert err.value.translation_key == "ask_failed"
    assert "model not loaded" in str(err.value)


async def test_ask_timeout(hass: HomeAssistant, entry: MockConfigEntry, responder, freezer) -> None:
    await responder("naila/uploads/+/text", None)
    task = hass.async_create_task(_call(hass, "ask", {"text": "Anyone?"}))
    await responder.seen.wait()
    freezer.tick(timedelta(seconds=61))
    async_fire_time_changed(hass)
    with pytest.raises(HomeAssistantError) as err:
        await task
    assert err.value.translation_key == "ask_timeout"


async def test_services_without_loaded_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "ask", {"text": "Hello?"})
    assert err.value.translation_key == "not_loaded"


async def test_ask_with_two_entries_needs_a_target(
    hass: HomeAssistant, entry: MockConfigEntry, responder
) -> None:
    other = MockConfigEntry(domain=DOMAIN, unique_id="shed", data={"prefix": "shed"})
    other.add_to_hass(hass)
    assert await hass.config_entries.async_setup(other.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "ask", {"text": "Hello?"})
    assert err.value.translation_key == "ambiguous_entry"

    await responder("shed/uploads/+/text", _shed_server)
    result = await _call(hass, "ask", {"text": "Hello?", "config_entry_id": other.entry_id})
    assert result["answer"] == "from the shed"
    assert await hass.config_entries.async_unload(other.entry_id)


def _shed_server(topic: str, upload: dict[str, Any]):
    session = topic.split("/")[2]
    return (
        f"shed/uploads/{session}/reply",
        {"session_id": session, "status": "ok", "answer": "from the shed"},
    )
