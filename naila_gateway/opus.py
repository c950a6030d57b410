"""Mono Opus encoder with a configurable bitrate, producing packets aiortc sends as they are.

aiortc's own encoder is fixed at 96 kbps stereo. A MediaStreamTrack may return encoded
`av.Packet`s instead of frames (aiortc then only packetizes them, as it does for
`MediaPlayer(decode=False)`), so the gateway encodes itself: no aiortc internals are touched.
"""

from __future__ import annotations

import fractions

import av
import numpy as np

from naila_gateway.pcm import FRAME_SAMPLES, WEBRTC_RATE

TIME_BASE = fractions.Fraction(1, WEBRTC_RATE)


class OpusEncoder:
    """Encodes 20 ms int16 mono frames at 48 kHz; not thread-safe, one per output track."""

    def __init__(self, bitrate: int) -> None:
        self.bitrate = bitrate
        self._codec = av.CodecContext.create("libopus", "w")
        self._codec.bit_rate = bitrate
        self._codec.format = "s16"
        self._codec.layout = "mono"
        self._codec.sample_rate = WEBRTC_RATE
        self._codec.time_base = TIME_BASE
        self._codec.options = {"application": "voip"}
        self._index = 0

    def encode(self, samples: np.ndarray) -> av.Packet | None:
        """One 960-sample frame -> one Opus packet stamped with this frame's RTP timestamp."""
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = WEBRTC_RATE
        frame.pts = self._index * FRAME_SAMPLES
        frame.time_base = TIME_BASE
        packets = self._codec.encode(frame)
        if not packets:
            return None
        packet = packets[-1]
        packet.pts = self._index * FRAME_SAMPLES
        packet.time_base = TIME_BASE
        self._index += 1
        return packet
