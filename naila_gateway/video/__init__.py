"""Motion-gated camera video on the gateway: only frames with motion go to the AI server.

Wiring in a gateway session (docs/gateway_video.md)::

    consumer = attach_video_track(track, device_id, capabilities, ai_client, video_config)
    ...
    await consumer.stop()  # when the session closes
"""

from naila_gateway.video.config import VideoConfig
from naila_gateway.video.consumer import CameraVideoConsumer, attach_video_track
from naila_gateway.video.gate import MotionGate, VideoStats
from naila_gateway.video.motion import MotionDetector, MotionResult, to_analysis_grey
from naila_gateway.video.sender import FrameSink, VideoFrameSender

__all__ = [
    "CameraVideoConsumer",
    "FrameSink",
    "MotionDetector",
    "MotionGate",
    "MotionResult",
    "VideoConfig",
    "VideoFrameSender",
    "VideoStats",
    "attach_video_track",
    "to_analysis_grey",
]
