"""Browser suite: real headless Chromium, the real gateway, AI server and mosquitto.

Runs inside a private network namespace (scripts/in-netns: loopback and a veth pair, no route
out; scripts/test does it), so no WebRTC packet of the run can leave the machine. Screenshots go to the folder printed at the
start (NAILA_ARTIFACTS, default .artifacts/browser in the repository).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from naila_demo.stack import DemoStack, StackSettings
from tests.browser.page_driver import BrowserPage, launch_browser
from tests.conftest import Broker

REPO = Path(__file__).resolve().parents[2]


def _isolated() -> bool:
    """Inside the namespace of scripts/in-netns: no route leads off this machine."""
    if os.environ.get("NAILA_IN_NETNS") != "1":
        return False
    routes = Path("/proc/net/route").read_text().splitlines()[1:]
    return not any(line.split()[1] == "00000000" for line in routes)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("NAILA_ARTIFACTS", REPO / ".artifacts")) / "browser"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"\nbrowser screenshots: {folder}")
    return folder


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(
    shared_mqtt_broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DemoStack]:
    if not _isolated():
        pytest.fail("run the browser suite inside scripts/in-netns (scripts/test does)")
    settings = StackSettings(
        out_dir=tmp_path_factory.mktemp("stack"),
        mqtt_host=shared_mqtt_broker.host,
        mqtt_port=shared_mqtt_broker.port,
        prefix="browser",
        # webrtcbin (libnice) ignores loopback: the namespace's veth addresses are offered too
        gateway_args=["--reply-timeout", "60", "--ice-addresses", "127.0.0.1,198.18.0.0/24"],
    )
    async with DemoStack(settings) as running:
        yield running


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    async with launch_browser() as chromium:
        yield chromium


@pytest_asyncio.fixture(loop_scope="session")
async def open_page(
    browser: Any, stack: DemoStack, artifacts: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Any]:
    """open_page(device_id) -> a BrowserPage on the gateway's page; no console errors allowed."""
    pages: list[BrowserPage] = []

    async def make(device_id: str, **options: Any) -> BrowserPage:
        folder = artifacts / request.node.name
        page = await BrowserPage.open(browser, stack.page_url, device_id, folder, **options)
        pages.append(page)
        return page

    yield make
    for page in pages:
        errors = page.console_errors
        await page.close()
        assert not errors, f"console errors on the page: {errors}"
