"""The fuzzed stack: a real mosquitto, the AI server (vision and media store on) and the gateway
as real processes, one simulated device that keeps a session; hypothesis draws the inputs.

Run in a private network namespace (scripts/test uses scripts/in-netns) so WebRTC stays local.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiomqtt
import numpy as np
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from naila_demo.stack import DemoStack, StackSettings
from naila_sim import SimDevice
from tests.conftest import Broker, synthesize_speech

T = TypeVar("T")
GOOD_DEVICE = "fuzz_good"


def draw(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """`count` deterministic examples of `strategy` (the same cases on every run)."""
    cases: list[T] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: T) -> None:
        cases.append(case)

    collect()
    return cases


class FuzzStack:
    """What the fuzz tests talk to, and the checks that nothing was hurt."""

    def __init__(self, stack: DemoStack, device: SimDevice, data_dir: Path) -> None:
        self.stack = stack
        self.device = device
        self.data_dir = data_dir
        self.prefix = stack.settings.prefix

    def mqtt(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.stack.mqtt_host,
            self.stack.mqtt_port,
            protocol=aiomqtt.ProtocolVersion.V5,
            identifier=f"fuzz-{uuid.uuid4().hex[:6]}",
        )

    def assert_processes_up(self) -> None:
        for child in self.stack.children:
            assert child.returncode is None, f"{child.name} died:\n{child.log_tail(40)}"

    async def assert_device_served(self, speech: np.ndarray) -> None:
        """The device that kept its session is still answered."""
        await self.device.wait_connected(30)
        turn = await self.device.turn(speech, within=90)
        assert turn.first_audio_ms is not None, "no reply audio"

    def error_lines(self) -> list[str]:
        lines = []
        for child in self.stack.children:
            text = child.log_path.read_text(errors="replace")
            lines += [line for line in text.splitlines() if " ERROR " in line]
        return lines


@pytest.fixture(scope="session")
def question() -> np.ndarray:
    return synthesize_speech("what time is it", 48000)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fuzz_stack(
    shared_mqtt_broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FuzzStack]:
    out = tmp_path_factory.mktemp("fuzz-stack")
    data_dir = out / "vision"
    settings_ = StackSettings(
        out_dir=out,
        mqtt_host=shared_mqtt_broker.host,
        mqtt_port=shared_mqtt_broker.port,
        prefix=f"fz{uuid.uuid4().hex[:6]}",
        server_args=[
            "--history-turns", "0", "--vision", "--vision-data-dir", str(data_dir),
            "--vision-store-uploads", "--vision-max-upload-bytes", "2000000",
            "--vision-max-pixels", "4000000",
        ],
        gateway_args=["--reply-timeout", "60"],
    )  # fmt: skip
    async with DemoStack(settings_) as stack:
        config = stack.device_config(GOOD_DEVICE)
        config.loopback = True
        async with SimDevice(config) as device:
            await device.wait_connected(60)
            yield FuzzStack(stack, device, data_dir)


Json = Callable[[], Any]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
