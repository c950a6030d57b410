"""PCM helpers: WebRTC frame constants, downmixing and resampling of int16 audio."""

from __future__ import annotations

import errno

import av
import av.filter
import numpy as np

WEBRTC_RATE = 48000
FRAME_SAMPLES = 960
"""Samples per 20 ms frame at 48 kHz."""
FRAME_SECONDS = 0.02


def to_mono(frame: av.AudioFrame) -> np.ndarray:
    """Received frame (aiortc: packed s16 stereo, shape (1, 1920)) -> int16 mono samples.

    Reads the frame's buffer directly (≈ 4x cheaper than to_ndarray + int32 averaging).
    """
    if frame.format.name != "s16":
        raise ValueError(f"unexpected sample format {frame.format.name}")
    channels = frame.layout.nb_channels
    data = np.frombuffer(
        memoryview(frame.planes[0]), dtype=np.int16, count=frame.samples * channels
    )
    if channels == 1:
        return data.copy()
    if channels == 2:
        pairs = data.reshape(-1, 2)
        return (pairs[:, 0] >> 1) + (pairs[:, 1] >> 1)
    wide = data.reshape(-1, channels).astype(np.int32)
    return (wide.sum(axis=1) // channels).astype(np.int16)


class Resampler:
    """Stateful int16 mono resampler (libswresample through PyAV) for one continuous stream.

    Its FFmpeg filter graph runs on the calling thread: by default each graph starts a pool
    of worker threads (cores + 1) that lives until the graph is garbage collected, so every
    utterance, reply and session left native threads behind until the next full collection.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._graph = None if in_rate == out_rate else _resample_graph(in_rate, out_rate)

    def process(self, samples: np.ndarray) -> np.ndarray:
        if self._graph is None or samples.size == 0:
            return samples
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.in_rate
        self._graph.push(frame)
        return self._pull()

    def flush(self) -> np.ndarray:
        """Samples still held inside the resampler at the end of the stream."""
        if self._graph is None:
            return np.zeros(0, dtype=np.int16)
        self._graph.push(None)
        return self._pull()

    def _pull(self) -> np.ndarray:
        assert self._graph is not None
        out = []
        while True:
            try:
                frame = self._graph.pull()
            except EOFError:
                break
            except av.FFmpegError as err:
                if err.errno != errno.EAGAIN:
                    raise
                break
            out.append(frame.to_ndarray().reshape(-1))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)


def _resample_graph(in_rate: int, out_rate: int) -> av.filter.Graph:
    """abuffer -> aformat (s16 mono at out_rate) -> abuffersink, single-threaded."""
    graph = av.filter.Graph()
    graph.threads = 1
    source = graph.add("abuffer", sample_rate=str(in_rate), sample_fmt="s16", channel_layout="mono")
    convert = graph.add(
        "aformat", sample_rates=str(out_rate), sample_fmts="s16", channel_layouts="mono"
    )
    sink = graph.add("abuffersink")
    source.link_to(convert)
    convert.link_to(sink)
    graph.configure()
    return graph


def split_frames(samples: np.ndarray, carry: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Cut carry+samples into whole 960-sample frames; return (frames, new carry)."""
    joined = np.concatenate((carry, samples)) if carry.size else samples
    whole = joined.size // FRAME_SAMPLES
    frames = [joined[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(whole)]
    return frames, joined[whole * FRAME_SAMPLES :].copy()
