"""One device's replies: awaited from the AI server, queued, played, reported on its events."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from naila_gateway.audio_out import OutputQueue, PacedOutputTrack
from naila_gateway.config import GatewayConfig
from naila_gateway.media import MediaError, MediaLoader
from naila_gateway.metrics import GatewayMetrics
from naila_gateway.pcm import FRAME_SECONDS, WEBRTC_RATE
from naila_gateway.replies import PendingReply, Playout, gateway_timings
from naila_gateway.server_client import RequestListener, ServerClient, error_code_of
from naila_gateway.sounds import sound_pcm
from naila_protocol.framing import Frame, FrameKind, ReplySummary
from naila_protocol.vocab import Sound

EventPublisher = Callable[..., None]
"""publish(event_type, **fields) -> None: a `devices/{id}/events` message."""


class ReplyPlayer:
    """The requests whose reply (or announcement) plays on one device, and its output track.

    `on_audio(samples)` hears every frame handed to WebRTC (the echo guard), `on_played(reply)`
    every reply or announcement that finished playing, `on_change()` every change of what is
    awaited or playing (the device state).
    """

    def __init__(
        self,
        device_id: str,
        config: GatewayConfig,
        *,
        server: ServerClient,
        listener: RequestListener,
        publish: EventPublisher,
        metrics: GatewayMetrics,
        logger: logging.LoggerAdapter[logging.Logger] | logging.Logger,
        on_audio: Callable[[np.ndarray], None],
        on_played: Callable[[PendingReply], None],
        on_change: Callable[[], None],
    ) -> None:
        self.device_id = device_id
        self.server = server
        self._listener = listener
        self._publish = publish
        self.metrics = metrics
        self.log = logger
        self._on_audio = on_audio
        self._on_played = on_played
        self._on_change = on_change
        self.output = OutputQueue(int(config.output_buffer_seconds / FRAME_SECONDS))
        self.track = PacedOutputTrack(
            self.output, bitrate=config.opus_bitrate, on_frame=self._on_frame_sent
        )
        self.pending: dict[str, PendingReply] = {}
        """Requests whose reply is awaited or not yet reported, by request id."""
        self.playing = Playout()
        self.media = MediaLoader(config.media, logging.getLogger(__name__))
        """Announcements' media_url downloads (naila_gateway/media.py)."""

    def active(self) -> bool:
        """A reply is queued, playing, or awaited from the server."""
        return bool(len(self.output)) or bool(self.pending)

    def audible(self) -> bool:
        """Reply audio is queued or playing (talking over it barges in at once)."""
        return bool(len(self.output)) or bool(self.playing)

    async def request(self, frame: Frame, speech_end: float | None, duration_ms: int) -> None:
        """Send an utterance's last frame (FINAL or basic) and await its reply."""
        request_id = frame.request_id
        if not self.server.connected:
            self.log.warning("AI server unavailable: utterance %s dropped", request_id)
            self.server.forget(request_id)
            self._publish("server_unavailable", request_id=request_id)
            return
        self.server.register(request_id, self._listener)
        reply = self.pending[request_id] = PendingReply(request_id, speech_end, announce=False)
        self._publish("utterance", request_id=request_id, duration_ms=duration_ms)
        reply.sent_at = time.perf_counter()
        if not await self.server.send(frame, expects_reply=True):
            self.pending.pop(request_id, None)
            self.server.forget(request_id)
            self._publish("server_unavailable", request_id=request_id)
        else:
            self.log.info("utterance %s sent (%d ms)", request_id, duration_ms)

    async def interrupt(self, *, reason: str) -> None:
        """Barge-in or stop: silence within one frame, cancel the server's work, tell HA."""
        playing = [*self.playing, *self.output.playing_tags()]
        self.output.clear()
        self.playing.clear()
        replies, self.pending = self.pending, {}
        await self.media.cancel()
        self.metrics.barge_ins += reason == "barge_in"
        for request_id in replies:
            await self.server.cancel(self.device_id, request_id)
        interrupted: list[str | None] = list(dict.fromkeys([*playing, *replies])) or [None]
        for rid in interrupted:
            self._publish("interrupted", request_id=rid, reason=reason)
        self.log.info("%s: output cleared, %d request(s) cancelled", reason, len(replies))
        self._on_change()

    async def announce(
        self,
        text: str,
        request_id: str,
        *,
        sound: Sound | None = None,
        converse: bool = False,
        media_url: str | None = None,
    ) -> None:
        """Play `sound`, then ask the server to speak `text` here; `announced` once it played.

        With `media_url` the media is fetched and played instead of `text` (the sound first,
        once the media is ready).
        """
        if media_url is not None or not text:
            self.pending[request_id] = PendingReply(
                request_id, None, announce=True, converse=converse
            )
            if media_url is None:
                self._play_local(request_id, sound, None)
            else:
                self.media.load(
                    media_url, request_id, lambda rid, got: self._on_media(rid, sound, got)
                )
            self._on_change()
            return
        if not self.server.connected:
            self._server_unavailable(request_id)
            return
        self.server.register(request_id, self._listener)
        self.pending[request_id] = PendingReply(request_id, None, announce=True, converse=converse)
        if sound is not None:
            self.output.push_pcm(sound_pcm(sound), WEBRTC_RATE, tag=request_id)
        self._on_change()
        frame = Frame(
            self.device_id, WEBRTC_RATE, request_id, FrameKind.SPEAK, text.encode("utf-8")
        )
        if not await self.server.send(frame, expects_reply=True):
            self.pending.pop(request_id, None)
            self.server.forget(request_id)
            self._server_unavailable(request_id)

    def _on_media(self, request_id: str, sound: Sound | None, got: np.ndarray | MediaError) -> None:
        if request_id not in self.pending:
            return  # interrupted while it downloaded
        if isinstance(got, MediaError):
            del self.pending[request_id]
            self.log.warning("announcement %s: media not played: %s %s", request_id, got.code, got)
            self._publish("error", request_id=request_id, code=got.code, message=str(got))
            self._on_change()
            return
        self._play_local(request_id, sound, got)

    def _play_local(self, request_id: str, sound: Sound | None, audio: np.ndarray | None) -> None:
        """An announcement the gateway plays itself: the sound, then 48 kHz `audio`."""
        for samples in (sound_pcm(sound) if sound is not None else None, audio):
            if samples is not None:
                self.metrics.frames_dropped += self.output.push_pcm(
                    samples, WEBRTC_RATE, tag=request_id
                )
        self.metrics.frames_dropped += self.output.end_of_audio(tag=request_id)
        self.pending[request_id].summary = ReplySummary()

    def _server_unavailable(self, request_id: str) -> None:
        self._publish(
            "error",
            request_id=request_id,
            code="server_unavailable",
            message="AI server is not connected",
        )

    def on_frame(self, frame: Frame) -> None:
        """AUDIO, END, ERROR or basic frame of a reply."""
        reply = self.pending.get(frame.request_id)
        if reply is None:
            return
        if frame.kind in (FrameKind.AUDIO, FrameKind.BASIC):
            if reply.first_frame_at is None and frame.payload:
                reply.first_frame_at = time.perf_counter()
            samples = np.frombuffer(frame.payload, dtype="<i2").astype(np.int16)
            dropped = self.output.push_pcm(samples, frame.sample_rate, tag=frame.request_id)
            self.metrics.frames_dropped += dropped
            if frame.kind is FrameKind.BASIC:
                self.metrics.frames_dropped += self.output.end_of_audio(tag=frame.request_id)
                self._finish(reply, ReplySummary(), had_audio=bool(samples.size))
        elif frame.kind is FrameKind.END:
            self.metrics.frames_dropped += self.output.end_of_audio(tag=frame.request_id)
            try:
                summary = ReplySummary.from_frame(frame)
            except (ValueError, TypeError, UnicodeDecodeError):
                self.log.warning("malformed END body for %s", frame.request_id)
                summary = ReplySummary(status="error")
            self._finish(
                reply, summary, had_audio=reply.first_audio_ms is not None or bool(len(self.output))
            )
        elif frame.kind is FrameKind.ERROR:
            self.pending.pop(frame.request_id, None)
            code, message = error_code_of(frame)
            self.log.warning("AI server error for %s: %s %s", frame.request_id, code, message)
            self._publish("error", request_id=frame.request_id, code=code, message=message)

    def _finish(self, reply: PendingReply, summary: ReplySummary, *, had_audio: bool) -> None:
        reply.summary = summary
        if reply.first_audio_ms is not None or not had_audio:
            self._report(reply)

    def _report(self, reply: PendingReply) -> None:
        self.pending.pop(reply.request_id, None)
        summary = reply.summary or ReplySummary()
        self.metrics.replies += 1
        if reply.announce:
            if reply.played_at is None:  # nothing to play: done now
                self._played(reply)
            return  # else `announced` once it finished playing
        self._publish(
            "reply",
            request_id=reply.request_id,
            transcript=summary.transcript,
            reply=summary.reply,
            status=summary.status,
            first_audio_ms=reply.first_audio_ms,
            timings=summary.timings,
            gateway_timings=gateway_timings(reply),
            **_route_fields(summary),
        )

    def _on_frame_sent(self, tag: str | None) -> None:
        self._on_audio(self.track.last_samples)
        for played in self.playing.frame_sent(tag, self.output.playing_tags):
            self._played(played)
        reply = self.pending.get(tag) if tag else None
        self.metrics.frames_out += 1
        if reply is None or reply.first_audio_ms is not None:
            return
        self.playing.started(reply)
        self._on_change()
        now = reply.played_at = time.perf_counter()
        reply.first_audio_ms = (
            round((now - reply.speech_end) * 1000, 1) if reply.speech_end else 0.0
        )
        if not reply.announce:
            self.metrics.last_first_audio_ms = reply.first_audio_ms
            self.log.info("first audio of %s after %.0f ms", reply.request_id, reply.first_audio_ms)
        if reply.summary is not None:
            self._report(reply)

    def _played(self, reply: PendingReply) -> None:
        self._on_played(reply)
        if reply.announce:
            self._publish("announced", request_id=reply.request_id)

    def on_request_failed(self, request_id: str, reason: str) -> None:
        reply = self.pending.pop(request_id, None)
        if reply is not None and reply.announce:
            self._publish(
                "error", request_id=request_id, code=reason, message=f"announce failed: {reason}"
            )
        elif reply is not None:
            self._publish(reason, request_id=request_id)

    async def close(self, speaking: list[str]) -> list[str]:
        """Stop playing; cancel the awaited replies (and `speaking`); the request ids dropped."""
        await self.media.cancel()
        self.output.clear()
        self.playing.clear()
        replies, self.pending = self.pending, {}
        for request_id in [*replies, *speaking]:
            await self.server.cancel(self.device_id, request_id)
        self.track.stop()
        return list(replies)

    def info(self) -> dict[str, Any]:
        return {"queued_frames": len(self.output), "pending_replies": list(self.pending)}


def _route_fields(summary: ReplySummary) -> dict[str, str]:
    """`route` and `route_reason` of a routed reply (absent when the server did not route)."""
    if summary.route is None:
        return {}
    return {"route": summary.route, "route_reason": summary.route_reason or ""}
