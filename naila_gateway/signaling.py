"""Parsing and validation of device messages (status, answer, ICE, commands)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from naila_protocol.commands import CommandMessage
from naila_protocol.payloads import DeviceStatus, PayloadError, decode_object, opt_enum
from naila_protocol.vocab import ListeningMode, WakeWord

MAX_SDP_CHARS = 64 * 1024


class BadMessage(ValueError):
    """A device message that cannot be used; the text says why."""


MAX_MESSAGE_BYTES = 2 * MAX_SDP_CHARS
"""Largest signaling message (an SDP document and its envelope)."""


def parse_json_object(payload: bytes) -> dict[str, Any]:
    """A device message's JSON object, decoded as every payload is (naila_protocol/fields.py)."""
    try:
        return decode_object(payload, MAX_MESSAGE_BYTES)
    except PayloadError as err:
        raise BadMessage(str(err)) from None


def parse_status(device_id: str, payload: bytes) -> DeviceStatus:
    """The status proper (naila_protocol/payloads.py); an empty payload (removed) is offline.

    The listening fields are read apart (`parse_listening`): a bad one is reported without
    hiding the device."""
    try:
        return DeviceStatus.from_json(payload, device_id, listening=False)
    except PayloadError as err:
        raise BadMessage(str(err)) from None


def parse_listening(payload: bytes) -> tuple[ListeningMode | None, WakeWord | None]:
    """The listening mode and wake word a device status names (None: not named)."""
    if not payload:
        return None, None
    data = parse_json_object(payload)
    try:
        return opt_enum(data, "listening_mode", ListeningMode), opt_enum(
            data, "wake_word", WakeWord
        )
    except PayloadError as err:
        raise BadMessage(str(err)) from None


def check_device_id(data: dict[str, Any], device_id: str | None) -> None:
    """A payload that names a device must name the one of its topic."""
    claimed = data.get("device_id", device_id)
    if device_id is not None and claimed != device_id:
        raise BadMessage(f"payload names device {claimed!r} on the topic of {device_id!r}")


def _session_id(data: dict[str, Any]) -> str:
    session_id = data.get("session_id")
    if not isinstance(session_id, str) or not session_id:
        raise BadMessage("missing session_id")
    return session_id


def parse_answer(payload: bytes, device_id: str | None = None) -> tuple[str, str]:
    """(session_id, sdp)."""
    data = parse_json_object(payload)
    check_device_id(data, device_id)
    if data.get("type", "answer") != "answer":
        raise BadMessage(f"type is {data.get('type')!r}, expected 'answer'")
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP_CHARS:
        raise BadMessage("'sdp' is not an SDP document")
    return _session_id(data), sdp


@dataclass(frozen=True, slots=True)
class IceCandidate:
    session_id: str
    candidate: str
    sdp_mid: str | None
    sdp_mline_index: int | None


def parse_ice(payload: bytes, device_id: str | None = None) -> IceCandidate:
    data = parse_json_object(payload)
    check_device_id(data, device_id)
    candidate = data.get("candidate")
    if not isinstance(candidate, str) or len(candidate) > 1024:
        raise BadMessage("'candidate' must be a string")
    mid = data.get("sdpMid")
    index = data.get("sdpMLineIndex")
    if mid is not None and not isinstance(mid, str):
        raise BadMessage("'sdpMid' must be a string")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
        raise BadMessage("'sdpMLineIndex' must be an integer")
    return IceCandidate(_session_id(data), candidate, mid, index)


def parse_command(payload: bytes, device_id: str | None = None) -> CommandMessage:
    """A device command (naila_protocol/commands.py); BadMessage says what is wrong."""
    try:
        return CommandMessage.from_json(payload, device_id)
    except PayloadError as err:
        raise BadMessage(str(err)) from None
