"""Conversation relay under load: more requests than it runs at once, and an unload mid-request."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from homeassistant.components import conversation
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.relay import MAX_CONCURRENT


class _StuckAgent(conversation.AbstractConversationAgent):
    """An agent whose backend never answers (a hung LLM server)."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    @property
    def supported_languages(self) -> list[str]:
        return ["en"]

    async def async_process(self, user_input: conversation.ConversationInput):
        self.started += 1
        await self.release.wait()
        raise AssertionError("never released")


def _answers(mqtt: Any) -> dict[str, dict[str, Any]]:
    head = "naila/conversation/response/"
    return {
        call.args[0].removeprefix(head): json.loads(call.args[1])
        for call in mqtt.async_publish.call_args_list
        if call.args[0].startswith(head)
    }


async def _until(check, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - the relay's tasks run on this loop
            await asyncio.sleep(0.01)


async def test_requests_beyond_the_limit_are_refused_busy_then_unload_answers_the_rest(
    hass: HomeAssistant, mqtt, entry: MockConfigEntry, publish
) -> None:
    agent = _StuckAgent()
    conversation.async_set_agent(hass, entry, agent)
    relay = entry.runtime_data.hub.relay
    relay.timeout = 600.0  # only the unload ends these requests
    for n in range(MAX_CONCURRENT + 1):
        publish(
            "naila/conversation/request",
            {"request_id": f"r{n}", "device_id": "kitchen", "text": "hello",
             "agent_id": entry.entry_id},
        )  # fmt: skip
    await _until(lambda: agent.started == MAX_CONCURRENT and f"r{MAX_CONCURRENT}" in _answers(mqtt))

    busy = _answers(mqtt)
    assert list(busy) == [f"r{MAX_CONCURRENT}"]  # only the one over the limit, at once
    assert busy[f"r{MAX_CONCURRENT}"]["handled"] is False
    assert busy[f"r{MAX_CONCURRENT}"]["error_code"] == "busy"

    async with asyncio.timeout(10):  # the unload does not wait for the stuck agent
        assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    answers = _answers(mqtt)
    assert set(answers) == {f"r{n}" for n in range(MAX_CONCURRENT + 1)}
    for n in range(MAX_CONCURRENT):
        assert answers[f"r{n}"]["handled"] is False
        assert answers[f"r{n}"]["error_code"] == "unloaded"
        assert answers[f"r{n}"]["device_id"] == "kitchen"
    conversation.async_unset_agent(hass, entry)
