"""naila.ask: every refused picture, an unknown entry, odd server replies, an unload mid-wait."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.const import DOMAIN


async def _ask(hass: HomeAssistant, **data: Any) -> Any:
    return await hass.services.async_call(
        DOMAIN, "ask", {"text": "What is this?", **data}, blocking=True, return_response=True
    )


@pytest.fixture
def allowed(hass: HomeAssistant, tmp_path: Path) -> Path:
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    return tmp_path


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("missing.jpg", "file_unreadable"),
        ("folder.jpg", "file_unreadable"),  # a directory, not a file
        ("huge.jpg", "file_too_large"),
        ("animation.gif", "unsupported_file"),
    ],
)
async def test_a_picture_that_cannot_be_sent_is_refused_before_publishing(
    hass: HomeAssistant, entry: MockConfigEntry, allowed: Path, responder, name: str, key: str
) -> None:
    (allowed / "folder.jpg").mkdir()
    with (allowed / "huge.jpg").open("wb") as huge:
        huge.truncate(8 * 1024 * 1024 + 1)  # one byte over the 8 MiB limit (sparse file)
    (allowed / "animation.gif").write_bytes(b"GIF89a")
    await responder("naila/uploads/#", None)

    with pytest.raises(ServiceValidationError) as err:
        await _ask(hass, image_path=str(allowed / name))

    assert err.value.translation_key == key
    assert str(allowed / name) in str(err.value)
    assert responder.requests == []  # nothing reached the AI server


async def test_a_camera_without_a_picture_is_refused(
    hass: HomeAssistant, entry: MockConfigEntry, tmp_path: Path, responder
) -> None:
    assert await async_setup_component(
        hass,
        "camera",
        {"camera": {"platform": "local_file", "name": "porch", "file_path": str(tmp_path / "x")}},
    )
    await hass.async_block_till_done()
    await responder("naila/uploads/#", None)

    with pytest.raises(ServiceValidationError) as err:
        await _ask(hass, image_entity_id="camera.porch")

    assert err.value.translation_key == "camera_failed"
    assert "camera.porch" in str(err.value)
    assert responder.requests == []


async def test_an_unknown_config_entry_is_refused(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _ask(hass, config_entry_id="no_such_entry")
    assert err.value.translation_key == "unknown_entry"
    assert "no_such_entry" in str(err.value)


def _reply(topic: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    session = topic.split("/")[2]
    return f"naila/uploads/{session}/reply", {"session_id": session, **fields}


async def test_a_server_error_without_a_message_still_explains_itself(
    hass: HomeAssistant, entry: MockConfigEntry, responder
) -> None:
    await responder("naila/uploads/+/text", lambda topic, _: _reply(topic, status="error"))
    with pytest.raises(HomeAssistantError) as err:
        await _ask(hass)
    assert err.value.translation_key == "ask_failed"
    assert "the AI server reported an error" in str(err.value)


async def test_a_malformed_reply_is_ignored_and_the_next_one_answers(
    hass: HomeAssistant, entry: MockConfigEntry, responder, publish, caplog
) -> None:
    def server(topic: str, upload: dict[str, Any]):
        publish(*_reply(topic, status="maybe", answer="ignored"))
        return _reply(topic, status="ok", answer="A parcel.")

    await responder("naila/uploads/+/text", server)
    with caplog.at_level(logging.WARNING, logger="custom_components.naila"):
        result = await _ask(hass)
    assert result["answer"] == "A parcel."
    assert "'status' must be 'ok' or 'error'" in caplog.text
    assert entry.runtime_data.hub.rejected["upload_reply"] == 1


async def test_unloading_fails_a_pending_question_at_once(
    hass: HomeAssistant, entry: MockConfigEntry, responder
) -> None:
    await responder("naila/uploads/+/text", None)  # the server never answers
    task = hass.async_create_task(_ask(hass, timeout=600))
    await responder.seen.wait()
    requests = entry.runtime_data.hub.requests
    assert len(requests) == 1

    assert await hass.config_entries.async_unload(entry.entry_id)

    with pytest.raises(HomeAssistantError) as err:
        await task
    assert err.value.translation_key == "unloaded"
    assert len(requests) == 0  # no waiter left behind
