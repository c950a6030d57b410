"""Facts the LLM prompt carries so the fallback never invents them: local time, device, area."""

from __future__ import annotations

from datetime import datetime


def local_facts(
    now: datetime | None = None, device_name: str | None = None, area: str | None = None
) -> str:
    """One sentence or two: the local date and time, and where the asking device is."""
    moment = (now or datetime.now()).astimezone()
    hour = moment.strftime("%I").lstrip("0") or "12"
    text = (
        f"It is {moment.strftime('%A')}, {moment.strftime('%B')} {moment.day}, {moment.year}, "
        f"{hour}:{moment.strftime('%M %p')} local time."
    )
    if device_name and area:
        text += f" The user is talking to {device_name} in the {area}."
    elif device_name:
        text += f" The user is talking to {device_name}."
    elif area:
        text += f" The user is in the {area}."
    return text
