"""Drive the gateway's device page in headless Chromium (Playwright) like a person would.

The microphone is a WebAudio track the test plays WAVs into (exact, repeatable speech); the
camera is Chromium's fake device. Everything else is the page as shipped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
TEST_MICROPHONE = """
(() => {
  const devices = navigator.mediaDevices;
  const real = devices.getUserMedia.bind(devices);
  let context = null, destination = null;
  window.__testMic = {
    async play(b64) {
      if (!context) throw new Error("the page has not opened the microphone");
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const buffer = await context.decodeAudioData(bytes.buffer);
      const source = context.createBufferSource();
      source.buffer = buffer;
      source.connect(destination);
      source.start();
      return new Promise((resolve) => { source.onended = () => resolve(buffer.duration); });
    },
  };
  devices.getUserMedia = async (constraints) => {
    if (constraints && constraints.video) return real(constraints);
    context = new AudioContext({ sampleRate: 48000 });
    destination = context.createMediaStreamDestination();
    // a real microphone never goes digitally silent: -80 dBFS noise keeps frames flowing
    const noise = context.createBuffer(1, 48000, 48000);
    const samples = noise.getChannelData(0);
    for (let i = 0; i < samples.length; i++) samples[i] = (Math.random() * 2 - 1) * 1e-4;
    const floor = context.createBufferSource();
    floor.buffer = noise;
    floor.loop = true;
    floor.connect(destination);
    floor.start();
    return destination.stream;
  };
})();
"""


def chromium_path() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    raise FileNotFoundError("chromium is not installed (scripts/bootstrap installs it)")


@contextlib.asynccontextmanager
async def launch_browser() -> AsyncIterator[Browser]:
    """Chromium with a fresh profile (Playwright makes and removes it)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


class BrowserPage:
    """One browser tab on the device page, with its console errors collected."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.console_errors: list[str] = []
        self.device_id = ""
        self._shots = 0
        page.on(
            "console",
            lambda m: self.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    @classmethod
    async def open(
        cls, browser: Browser, url: str, name: str, folder: Path, *, mode: str = "always"
    ) -> BrowserPage:
        context = await browser.new_context(viewport={"width": 420, "height": 860})
        await context.add_init_script(TEST_MICROPHONE)
        page = cls(await context.new_page(), folder)
        await page.page.goto(url)
        await page.page.fill("#name", name)
        await page.page.fill("#zone", "test")
        await page.page.click("#setup button[type=submit]")
        page.device_id = await page.page.evaluate(
            "JSON.parse(localStorage.getItem('naila.device')).id"
        )
        await page.page.select_option("#mode", mode)
        return page

    async def start(self) -> None:
        await self.page.click("#start")
        await self.wait("window.nailaPage.state === 'listening'", within=20)

    async def say(self, wav: bytes) -> float:
        """Play a WAV into the page's microphone; returns when it has been spoken."""
        return float(
            await self.page.evaluate(
                "b => window.__testMic.play(b)", base64.b64encode(wav).decode()
            )
        )

    async def wait(self, condition: str, within: float = 60.0) -> Any:
        """The truthy value of `condition` (JS); fails with the page's state after `within` s."""
        try:
            handle = await self.page.wait_for_function(condition, timeout=within * 1000, polling=50)
        except PlaywrightTimeout:
            raise AssertionError(
                f"not within {within} s: {condition}\n{await self.state()}"
            ) from None
        return await handle.json_value()

    async def state(self) -> dict[str, Any]:
        return dict(
            await self.page.evaluate(
                "({state: nailaPage.state, turns: nailaPage.turns, energy: nailaPage.replyEnergy,"
                " events: nailaPage.events.map(e => [e.event, e.code || e.state || e.reason || '']),"
                " errors: nailaPage.errors})"
            )
        )

    async def screenshot(self, label: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._shots += 1
        path = self.folder / f"{self._shots:02d}-{label}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.page.click("#stop", timeout=2000)
            await asyncio.sleep(0.2)  # pacing: the page's DELETE leaves before the context closes
        await self.page.context.close()
