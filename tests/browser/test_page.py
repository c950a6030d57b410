"""The device page in real headless Chromium against the real gateway, AI server and mosquitto."""

from __future__ import annotations

import asyncio
import io
import re

import pytest
from PIL import Image, ImageDraw

from tests.browser.speech import piper_wav_bytes, spoken_wav
from tests.helpers import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the stack is session-wide

QUESTION = "What is the capital of France?"
LONG_QUESTION = "Tell me a long story about a dragon who lives in the mountains."
REPLY_RMS = 0.003  # the page's own threshold for "heard"


async def test_a_spoken_turn_is_transcribed_answered_and_heard(open_page) -> None:
    page = await open_page("Kitchen tablet")
    await page.screenshot("setup-done")
    await page.start()
    await page.screenshot("listening")

    speaking = asyncio.create_task(page.say(spoken_wav(QUESTION)))
    await page.wait("nailaPage.state === 'thinking'", within=30)
    await page.screenshot("thinking")
    await speaking
    await page.wait("nailaPage.state === 'speaking'", within=90)
    await page.screenshot("speaking")
    # the reply event may come before the first reply sample is heard: wait for both
    turn = await page.wait(
        "nailaPage.turns.length >= 1 && nailaPage.turns[0].heard_ms !== null && nailaPage.turns[0]",
        within=90,
    )
    assert "capital" in turn["transcript"].lower()  # espeak-ng + whisper tiny: "France" varies
    assert turn["reply"].strip()
    assert turn["heard_ms"] is not None and 0 < turn["heard_ms"] < 60000
    assert turn["first_audio_ms"] > 0
    you = await page.page.inner_text("#turns li .you")
    naila = await page.page.inner_text("#turns li .naila")
    timing = await page.page.inner_text("#turns li .timing")
    assert "capital" in you.lower() and naila.strip() == turn["reply"].strip()
    assert "heard here" in timing
    await page.wait("nailaPage.state === 'listening'", within=90)
    await page.screenshot("reply-done")


async def test_barge_in_stops_the_reply(open_page) -> None:
    page = await open_page("Barge in")
    await page.start()
    await page.say(spoken_wav(LONG_QUESTION))
    await page.wait("nailaPage.state === 'speaking'", within=120)
    await asyncio.sleep(1.0)  # the reply is playing
    await page.screenshot("reply-playing")
    speaking = asyncio.create_task(page.say(spoken_wav("Stop, that is enough.")))
    await page.wait("nailaPage.events.some(e => e.event === 'interrupted')", within=30)
    # the reply goes quiet at once (the next reply needs STT + LLM first)
    await page.wait(
        f"nailaPage.replyEnergy < {REPLY_RMS} && nailaPage.state !== 'speaking'", within=3
    )
    await page.screenshot("interrupted")
    await speaking


async def test_photo_upload_is_answered_and_spoken(open_page, tmp_path) -> None:
    photo = tmp_path / "photo.jpg"
    image = Image.new("RGB", (320, 240), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 60, 260, 180), fill="red")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    photo.write_bytes(buffer.getvalue())
    page = await open_page("Photo frame")
    await page.start()
    await page.page.set_input_files("#photo-file", str(photo))
    await page.page.fill("#photo-question", "What colour is the shape?")
    await page.page.click("#photo button[type=submit]")
    turn = await page.wait(
        "nailaPage.turns.find(t => t.photo) || (nailaPage.errors.length && nailaPage.errors)",
        within=120,
    )
    assert isinstance(turn, dict), turn
    assert turn["reply"].strip()
    assert "colour" in await page.page.inner_text("#turns li .you")
    await page.wait("nailaPage.events.some(e => e.event === 'announced')", within=90)
    await page.screenshot("photo-answered")


async def test_push_to_talk_only_listens_while_held(open_page) -> None:
    page = await open_page("Push to talk", mode="push_to_talk")
    await page.start()
    await page.screenshot("push-to-talk")
    await page.say(spoken_wav(QUESTION))  # not held: the track is muted
    # negative check: no utterance may start in the time the gateway needs to detect one
    await asyncio.sleep(2.0)
    assert not [e for e in (await page.state())["events"] if e[0] == "utterance"]
    box = await page.page.locator("#ptt").bounding_box()
    assert box is not None
    await page.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.page.mouse.down()
    await page.screenshot("push-to-talk-held")
    await page.say(spoken_wav(QUESTION))
    # still held after the question: the server's partial transcript shows live
    live = await page.wait(
        "!document.querySelector('#live').hidden && document.querySelector('#live').textContent",
        within=60,
    )
    assert "capital" in live.lower()
    await page.screenshot("push-to-talk-live-transcript")
    await page.page.mouse.up()
    turn = await page.wait("nailaPage.turns.length >= 1 && nailaPage.turns[0]", within=120)
    assert "capital" in turn["transcript"].lower()
    assert await page.page.locator("#live").is_hidden()  # replaced by the final transcript


async def test_camera_and_mute_toggle(open_page, stack) -> None:
    page = await open_page("Camera")
    await page.start()
    await page.page.click("#camera")
    await page.page.wait_for_selector("#preview:not([hidden])")
    await asyncio.sleep(2.0)  # pacing: two seconds of video for the gateway's motion gating
    await page.screenshot("camera-on")
    await page.page.click("#mute")
    assert await page.page.get_attribute("#mute", "aria-pressed") == "true"
    assert not await page.page.evaluate("nailaPage.micEnabled()")
    await page.page.click("#camera")
    await page.page.wait_for_selector("#preview", state="hidden")
    await page.screenshot("camera-off-muted")
    await page.page.click("#stop")
    log = stack.settings.out_dir / "logs" / "gateway.log"
    pattern = re.compile(rf"\[{re.escape(page.device_id)}\] video stopped: .*'frames_seen': (\d+)")
    await wait_until(lambda: pattern.search(log.read_text()), within=10)
    found = pattern.search(log.read_text())
    assert found is not None and int(found.group(1)) > 10, "the gateway saw no camera frames"


async def test_wake_word_mode_ignores_speech_without_it_and_answers_with_it(open_page) -> None:
    page = await open_page("Wake word", mode="wake_word")
    await page.start()
    await page.say(piper_wav_bytes("What is the capital of France?"))
    # negative check: no utterance may start in the time the gateway needs to detect one
    await asyncio.sleep(3.0)
    assert not [e for e in (await page.state())["events"] if e[0] == "utterance"]
    await page.screenshot("wake-word-waiting")
    await page.say(piper_wav_bytes("Okay Nabu what is the capital of France?"))
    wake = await page.wait("nailaPage.events.find(e => e.event === 'wake')", within=30)
    assert wake["model"] == "okay_nabu"
    turn = await page.wait("nailaPage.turns.length >= 1 && nailaPage.turns[0]", within=120)
    assert "capital" in turn["transcript"].lower()
    await page.screenshot("wake-word-answered")
