"""Home Assistant for bench/ha_commands.py, run on the Home Assistant venv (Python 3.13).

A real HomeAssistant core (pytest-homeassistant-custom-component's test instance, no pytest)
with the home of tests/ha/home.py, HA's real default conversation agent, its real MQTT
client on the bench's broker and the NAILA integration (its conversation relay). Protocol on stdin/stdout, one JSON
object per line: {"ready": true} once up; {"text": ...} -> {"speech", "agent_ms", "handled"}
(HA's agent called directly: the anchor's conversation step); {"reset": true} -> {"reset": true}
(every light on again). EOF stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant import loader
from homeassistant.components import conversation
from homeassistant.components import mqtt as ha_mqtt
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import intent
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.naila.const import CONF_PREFIX, DOMAIN
from tests.ha.home import async_setup_home

LIGHTS = ["light.bedroom_light", "light.kitchen_light"]


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _converse(hass: HomeAssistant, text: str) -> dict[str, Any]:
    started = time.perf_counter()
    result = await conversation.async_converse(hass, text, None, Context(), "en")
    agent_ms = (time.perf_counter() - started) * 1e3
    response = result.response
    return {
        "speech": response.speech.get("plain", {}).get("speech", ""),
        "agent_ms": round(agent_ms, 2),
        "handled": response.response_type is not intent.IntentResponseType.ERROR,
    }


async def _reset(hass: HomeAssistant) -> None:
    await hass.services.async_call("light", "turn_on", {"entity_id": LIGHTS}, blocking=True)


async def _serve(hass: HomeAssistant) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        if command.get("reset"):
            await _reset(hass)
            _emit({"reset": True})
        else:
            _emit(await _converse(hass, str(command["text"])))


async def main() -> None:
    parser = argparse.ArgumentParser(prog="ha_host", description=__doc__)
    parser.add_argument("--mqtt-port", type=int, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="naila-ha-host-") as config_dir:
        (Path(config_dir) / "configuration.yaml").write_text("")  # MQTT reads it on setup
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # load custom_components/naila
            await async_setup_home(hass)
            await _reset(hass)
            await _converse(hass, "what time is it")  # the agent loads its sentences once
            entry = MockConfigEntry(
                domain=ha_mqtt.DOMAIN,
                data={"broker": "127.0.0.1", "port": args.mqtt_port},
                version=1,
                minor_version=2,
            )
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            async with asyncio.timeout(30):
                while not ha_mqtt.is_connected(hass):  # noqa: ASYNC110 - HA offers no event
                    await asyncio.sleep(0.05)
            naila = MockConfigEntry(domain=DOMAIN, unique_id="naila", data={CONF_PREFIX: "naila"})
            naila.add_to_hass(hass)
            assert await hass.config_entries.async_setup(naila.entry_id)
            _emit({"ready": True})
            try:
                await _serve(hass)
            finally:
                await hass.config_entries.async_unload(naila.entry_id)
                await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_stop(force=True)


if __name__ == "__main__":
    asyncio.run(main())
