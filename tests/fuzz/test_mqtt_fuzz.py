"""Property-based MQTT payloads on every topic the gateway and the AI server subscribe to,
through the real broker to the real processes: both stay up, log no ERROR, and the device
that kept its session is still answered."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from hypothesis import strategies as st

from naila_protocol.topics import Topics
from tests.fuzz.conftest import GOOD_DEVICE, JSON_VALUES, FuzzStack, draw

pytestmark = pytest.mark.asyncio(loop_scope="session")

# ids other than the good device's: valid ones, and ones the gateway must refuse
OTHER_IDS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True).filter(lambda s: s != GOOD_DEVICE),
    st.text(
        # what MQTT allows in a topic level (the broker disconnects a client for the rest)
        st.characters(blacklist_characters="+#/", blacklist_categories=("Cs", "Cc", "Cn", "Co")),
        min_size=1,
        max_size=80,
    ),
    st.sampled_from(["..", "../etc", "a" * 300, " ", "dev ice", "\u00e9t\u00e9", "$SYS"]),
)
GATEWAY_LEAVES = ("status", "signaling/answer", "signaling/ice", "command", "settings")
SERVER_LEAVES = ("status", "media/snapshot")


def structured(leaf: str, device_id: str) -> st.SearchStrategy[object]:
    """Payloads shaped like the real ones for `leaf`, with wrong values and types."""
    anything = JSON_VALUES
    if leaf == "status":
        return st.fixed_dictionaries(
            {"device_id": st.just(device_id) | anything, "online": st.booleans() | anything},
            optional={"capabilities": anything, "firmware_version": anything, "zone": anything},
        )
    if leaf == "signaling/answer":
        return st.fixed_dictionaries(
            {
                "type": st.just("answer") | anything,
                "sdp": st.text(max_size=400) | st.just("v=0\r\n") | anything,
                "session_id": st.text(max_size=20) | anything,
            },
            optional={"device_id": st.just(device_id) | anything},
        )
    if leaf == "signaling/ice":
        return st.fixed_dictionaries(
            {
                "candidate": st.text(max_size=200) | anything,
                "sdpMid": anything,
                "sdpMLineIndex": anything,
                "session_id": anything,
            }
        )
    if leaf == "command":
        return st.fixed_dictionaries(
            {
                "command": st.sampled_from(["stop", "announce", "start_conversation", "x"])
                | anything
            },
            optional={"message": anything, "request_id": anything, "text": anything},
        )
    return st.dictionaries(st.text(max_size=12), anything, max_size=6)


def payloads(leaf: str, device_id: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=300),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        structured(leaf, device_id).map(lambda v: json.dumps(v).encode()),
        st.sampled_from([b"", b"{", b"null", b"[]", b'{"online": true}', b"\xff\xfe", b"1e999"]),
    )


def device_cases(leaves: tuple[str, ...], count: int) -> list[tuple[str, str, bytes]]:
    case = OTHER_IDS.flatmap(
        lambda device_id: st.sampled_from(leaves).flatmap(
            lambda leaf: payloads(leaf, device_id).map(lambda p: (device_id, leaf, p))
        )
    )
    return draw(case, count)


async def test_device_topics(fuzz_stack: FuzzStack, question: np.ndarray) -> None:
    topics = Topics(fuzz_stack.prefix)
    cases = device_cases(GATEWAY_LEAVES + SERVER_LEAVES, 250)
    async with fuzz_stack.mqtt() as client:
        for device_id, leaf, payload in cases:
            await client.publish(topics.device(device_id, leaf), payload, qos=1)
        # the good device's own topics get garbage too, except what would end its session
        for payload in draw(
            st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()), 60
        ):
            for leaf in ("signaling/answer", "signaling/ice", "media/snapshot"):
                await client.publish(topics.device(GOOD_DEVICE, leaf), payload, qos=1)
        # offline statuses for every id the fuzz may have brought online (no retained junk)
        for device_id in {c[0] for c in cases if c[1] == "status"}:
            offline = json.dumps({"device_id": device_id, "online": False}).encode()
            await client.publish(topics.device_status(device_id), offline, qos=1)
    fuzz_stack.assert_processes_up()
    await fuzz_stack.assert_device_served(question)
    fuzz_stack.assert_processes_up()
    assert fuzz_stack.error_lines() == []


async def test_server_topics(fuzz_stack: FuzzStack, question: np.ndarray) -> None:
    """Media requests, conversation responses and integration status: garbage of every shape."""
    topics = Topics(fuzz_stack.prefix)
    media_request = st.fixed_dictionaries(
        {"request_id": JSON_VALUES, "media_id": st.text(max_size=60) | JSON_VALUES},
    ).map(lambda v: json.dumps(v).encode())
    conversation = st.fixed_dictionaries(
        {
            "request_id": JSON_VALUES,
            "handled": JSON_VALUES,
            "response_type": st.sampled_from(["action_done", "query_answer", "error"])
            | JSON_VALUES,
            "speech": JSON_VALUES,
        }
    ).map(lambda v: json.dumps(v).encode())
    junk = st.binary(max_size=300) | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    cases = [
        *((topics.server_media_request, p) for p in draw(media_request | junk, 120)),
        *(
            (topics.conversation_response(f"r{i}"), p)
            for i, p in enumerate(draw(conversation | junk, 120))
        ),
        *((topics.integration_status, p) for p in draw(junk, 40)),
    ]
    started = time.monotonic()
    async with fuzz_stack.mqtt() as client:
        await client.subscribe(f"{fuzz_stack.prefix}/server/media/response/#", qos=1)
        for topic, payload in cases:
            await client.publish(topic, payload, qos=1)
        await client.publish(topics.integration_status, b"", qos=1, retain=True)
    assert time.monotonic() - started < 120
    fuzz_stack.assert_processes_up()
    await fuzz_stack.assert_device_served(question)
    assert fuzz_stack.error_lines() == []
