"""Hostile uploads to the real AI server over MQTT: decompression bombs, truncated and
corrupted JPEG/PNG/WebP, huge dimensions, polyglots, path traversal in ids, formats and media
ids. Each gets a clear error reply (or is refused for an unusable session id), nothing is
written outside the media store, and the server keeps answering good uploads."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import struct
import uuid
import zlib
from typing import Any

import pytest
from hypothesis import strategies as st
from PIL import Image

from naila_protocol.topics import Topics
from tests.fuzz.conftest import FuzzStack, draw

pytestmark = pytest.mark.asyncio(loop_scope="session")


def picture(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 80, 40)).save(out, fmt)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 30000) -> bytes:
    """A few kB that would inflate to side x side grey pixels."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
    rows = zlib.compress(b"\x00" * (side + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b"")


def jpeg_huge() -> bytes:
    """A real JPEG whose frame header claims 65500 x 65500 pixels."""
    data = bytearray(picture("JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65500, 65500)
    return bytes(data)


def webp_huge() -> bytes:
    """A WebP (VP8X) whose canvas claims 16384 x 16384 pixels."""
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (16383).to_bytes(3, "little") * 2
    body = b"WEBP" + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


JPEG, PNG, WEBP = picture("JPEG"), picture("PNG"), picture("WEBP")
HOSTILE_IMAGES = [
    png_bomb(),
    jpeg_huge(),
    webp_huge(),
    JPEG + b"PK\x03\x04" + b"\x00" * 200,  # JPEG + ZIP polyglot
    PNG + b"<html><script>alert(1)</script></html>",  # PNG + HTML polyglot
    b"GIF89a/*" + b"\x00" * 40 + b"*/=alert(1);",  # GIF + JS polyglot
    b"%PDF-1.4\n" + JPEG,  # PDF header in front of a JPEG
]


def truncated(data: bytes) -> st.SearchStrategy[bytes]:
    return st.integers(1, len(data) - 1).map(lambda n: data[:n])


def corrupted(data: bytes) -> st.SearchStrategy[bytes]:
    def flip(positions: list[int]) -> bytes:
        out = bytearray(data)
        for p in positions:
            out[p % len(out)] ^= 0xFF
        return bytes(out)

    return st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8).map(flip)


IMAGES = st.one_of(
    *(truncated(d) for d in (JPEG, PNG, WEBP)),
    *(corrupted(d) for d in (JPEG, PNG, WEBP)),
    st.sampled_from(HOSTILE_IMAGES),
    st.binary(max_size=400),
)
TRAVERSAL = st.sampled_from(
    ["../../../../tmp/naila_pwned", "..", "/etc/passwd", "..\\..\\x", "%2e%2e%2f", "a/../../b"]
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "format": st.sampled_from(["jpeg", "png", "webp", "gif", "mp4", "wav"]) | TRAVERSAL,
        "request_id": TRAVERSAL | st.text(max_size=70),
        "device_id": TRAVERSAL | st.text(max_size=20),
        "context": st.text(max_size=60),
    },
)


async def upload(client: Any, topics: Topics, media: str, body: bytes, session: str) -> None:
    await client.publish(topics.upload(session, media), body, qos=1)


async def replies(client: Any, count: int, within: float) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        async for message in client.messages:
            got.append(json.loads(message.payload))
            if len(got) >= count:
                break
    return got


async def test_hostile_uploads(fuzz_stack: FuzzStack) -> None:
    topics = Topics(fuzz_stack.prefix)
    cases = draw(st.tuples(IMAGES, FIELDS, st.sampled_from(["image", "video", "audio"])), 80)
    session = f"fz{uuid.uuid4().hex[:8]}"
    async with fuzz_stack.mqtt() as client:
        await client.subscribe(topics.upload_reply(session), qos=1)
        for data, fields, media in cases:
            body = json.dumps({**fields, "data": base64.b64encode(data).decode()}).encode()
            await upload(client, topics, media, body, session)
        got = await replies(client, len(cases), within=240)
        assert len(got) == len(cases)
        for reply in got:
            if reply["status"] == "error":
                assert reply["error"]["code"] and reply["error"]["message"], reply
            else:  # a truncated or flipped picture may still decode: then it is analysed
                assert reply["status"] == "ok" and "visual_context" in reply
        for media_id in ["../media.sqlite3", "../../etc/passwd", "m_" + "0" * 16, "", "x" * 500]:
            request = {"request_id": f"get{uuid.uuid4().hex[:6]}", "media_id": media_id}
            await client.subscribe(topics.server_media_response(request["request_id"]), qos=1)
            await client.publish(topics.server_media_request, json.dumps(request).encode(), qos=1)
            (reply,) = await replies(client, 1, within=30)
            assert "data" not in reply and reply.get("error"), reply
        # session ids that cannot name a reply topic are refused without an answer
        for bad in ["..", "a b", "x" * 300]:
            await upload(client, topics, "image", b"{}", bad)
        good = {"format": "jpeg", "data": base64.b64encode(picture("JPEG", (320, 240))).decode()}
        await upload(client, topics, "image", json.dumps(good).encode(), session)
        (reply,) = await replies(client, 1, within=60)
        assert reply["status"] == "ok" and reply["media_id"]
    written = [p for p in fuzz_stack.data_dir.rglob("*") if p.is_file()]
    media_dir = (fuzz_stack.data_dir / "media").resolve()
    for path in written:
        assert path.resolve().is_relative_to(media_dir) or path.name.startswith("media.sqlite3")
    assert not any(p.name.startswith("naila_pwned") for p in fuzz_stack.data_dir.parent.rglob("*"))
    fuzz_stack.assert_processes_up()
    assert fuzz_stack.error_lines() == []
