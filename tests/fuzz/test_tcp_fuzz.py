"""Property-based TCP input on the AI server's audio socket (the real process): whatever a
peer sends, what comes back is well-formed frames, the process stays up and still answers."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import pytest
from hypothesis import strategies as st

from naila_protocol.framing import Frame, FrameError, FrameKind, encode_frame, read_frame
from tests.fuzz.conftest import FuzzStack, draw

pytestmark = pytest.mark.asyncio(loop_scope="session")

KINDS = [kind.value for kind in FrameKind]
FIELD = st.one_of(
    st.from_regex(r"[A-Za-z0-9_.:\-]{1,16}", fullmatch=True),
    st.text(max_size=20),
    st.sampled_from(["", "-", "0", "-1", "99999999999999999999", "16000", "48000", "a|b"]),
)
HEADER = st.tuples(
    FIELD,
    st.one_of(st.integers(-5, 4000), FIELD),
    st.one_of(st.sampled_from([8000, 16000, 22050, 48000, 0, 12345]), FIELD),
    FIELD,
    st.one_of(st.sampled_from(KINDS), FIELD, st.none()),
).map(lambda f: "|".join(str(x) for x in f if x is not None).encode(errors="replace"))


def with_body(header: bytes, body: bytes) -> bytes:
    return header + b"\n" + body


FRAMES = st.one_of(
    st.binary(min_size=1, max_size=600),
    st.builds(with_body, HEADER, st.binary(max_size=800)),
    st.lists(st.builds(with_body, HEADER, st.binary(max_size=200)), min_size=2, max_size=4).map(
        b"".join
    ),
    st.builds(
        lambda kind, body: encode_frame(Frame("fz", 16000, "fz1", FrameKind(kind), body)),
        st.sampled_from(KINDS),
        st.binary(max_size=640).map(lambda b: b[: len(b) // 2 * 2]),
    ),
)


async def exchange(port: int, data: bytes) -> list[Frame]:
    """Send `data`, then read frames until the server closes or goes quiet for 1 s."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    frames: list[Frame] = []
    try:
        writer.write(data)
        await writer.drain()
        while True:
            try:
                frame = await read_frame(reader, 1.0)
            except TimeoutError:
                break
            except FrameError as err:  # the server must only ever send well-formed frames
                raise AssertionError(f"malformed frame from the server: {err}") from err
            if frame is None:
                break
            frames.append(frame)
    except ConnectionError:
        pass  # closed on us mid-write: a refusal
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return frames


async def test_audio_socket_frames(fuzz_stack: FuzzStack) -> None:
    port = fuzz_stack.stack.audio_port
    cases = draw(FRAMES, 200)
    for start in range(0, len(cases), 20):  # 20 peers at a time
        batch = cases[start : start + 20]
        await asyncio.gather(*(exchange(port, data) for data in batch))
        fuzz_stack.assert_processes_up()
    silence = np.zeros(3200, dtype="<i2").tobytes()
    frames = await exchange(port, encode_frame(Frame("fz_check", 16000, "ok1", payload=silence)))
    assert [(f.request_id, f.kind) for f in frames] == [("ok1", FrameKind.BASIC)]
    assert fuzz_stack.error_lines() == []
