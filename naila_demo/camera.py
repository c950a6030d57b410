"""The demo's camera: a simulated device whose video shows a person walking into a room."""

from __future__ import annotations

import asyncio
import dataclasses

from naila_demo.stack import DemoStack
from naila_sim import SimDevice
from naila_sim.camera import PersonSceneTrack, decode_photo
from naila_sim.photos import sample_photos

PHOTO = "zidane.jpg"
"""Two people, clearly visible (ultralytics' sample photo)."""
WIDTH = 640


async def camera_device(stack: DemoStack, device_id: str, zone: str) -> SimDevice:
    """A camera-only simulated device in `zone` (not started)."""
    photos = await asyncio.to_thread(sample_photos)
    picture = await asyncio.to_thread(decode_photo, photos[PHOTO], WIDTH)
    config = dataclasses.replace(
        stack.device_config(device_id),
        capabilities=["camera"],
        name="Demo camera",
        zone=zone,
        video=lambda: PersonSceneTrack(picture),
    )
    return SimDevice(config)
