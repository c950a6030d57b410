"""One device's voice loop: VAD and utterances in, requests to the AI server, replies out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from naila_gateway.audio_out import OutputQueue, PacedOutputTrack
from naila_gateway.config import GatewayConfig
from naila_gateway.echo import EchoGuard
from naila_gateway.end_of_turn import TurnGate
from naila_gateway.listening import Listener, ListeningChoice
from naila_gateway.metrics import GatewayMetrics
from naila_gateway.pcm import FRAME_SECONDS, WEBRTC_RATE, Resampler
from naila_gateway.replies import PendingReply, Playout, gateway_timings, new_request_id
from naila_gateway.server_client import RequestListener, ServerClient, error_code_of
from naila_gateway.sounds import sound_pcm
from naila_gateway.utterance import UtteranceDetector, UtteranceEvent
from naila_gateway.vad import make_vad
from naila_protocol.framing import Frame, FrameKind, ReplySummary, TurnVerdict
from naila_protocol.payloads import state_event, wake_event
from naila_protocol.vocab import DeviceState, ListeningMode, Sound

EventPublisher = Callable[..., None]
"""publish(event_type, **fields) -> None: a `devices/{id}/events` message."""


class VoiceSession(RequestListener):
    """Everything audio for one device, independent of the WebRTC connection carrying it."""

    def __init__(
        self,
        device_id: str,
        config: GatewayConfig,
        *,
        server: ServerClient,
        publish: EventPublisher,
        metrics: GatewayMetrics,
        logger: logging.LoggerAdapter[logging.Logger] | logging.Logger,
        listening: ListeningChoice | None = None,
        speaker: bool = True,
    ) -> None:
        self.device_id = device_id
        self.config = config
        self.server = server
        self._publish = publish
        self.metrics = metrics
        self.log = logger
        self.vad = make_vad(config.vad_mode, config.effective_vad_threshold)
        self.detector = UtteranceDetector(
            silence_frames=config.silence_frames,
            preroll_frames=config.preroll_frames,
            min_speech_frames=config.min_speech_frames,
            max_frames=int(config.max_utterance_seconds / FRAME_SECONDS),
        )
        self.turn = TurnGate(config.end_of_turn, config.silence_frames)
        self.echo = EchoGuard(config.echo)
        max_frames = int(config.output_buffer_seconds / FRAME_SECONDS)
        self.output = OutputQueue(max_frames)
        self.track = PacedOutputTrack(
            self.output, bitrate=config.opus_bitrate, on_frame=self._on_frame_sent
        )
        self._utterance_id: str | None = None
        self._utterance_streamed = False
        self._stream_broken = False
        self._sent_frames = 0
        self._resampler: Resampler | None = None
        self._last_speech_at: float | None = None
        self._replies: dict[str, PendingReply] = {}
        self._playing = Playout()
        self.speaker = speaker
        """The device plays audio (its status lists the speaker capability)."""
        defaults = config.listening
        self.listener = Listener(
            listening or ListeningChoice(defaults.listening_mode, defaults.wake_word), defaults
        )
        self._talk_released = False
        self._unconfirmed_barge_in = False
        """Speech began while a reply was awaited but not yet heard: barge in once it is speech."""
        self._state: DeviceState | None = None
        self.closed = False

    # audio in -------------------------------------------------------------------------
    async def feed(self, frame: np.ndarray) -> None:
        """One received 20 ms frame of 48 kHz mono int16."""
        self.metrics.frames_in += 1
        speech = self.echo.filter(frame, await self.vad.is_speech(frame))
        if speech:
            self._last_speech_at = time.perf_counter()
        woke_frames_ago = await self.listener.hear(frame)
        self.detector.silence_frames = self.turn.required_frames()
        event = self.detector.feed(frame, speech or self.listener.talking)
        self.turn.observe(speech or self.listener.talking, len(self.detector.frames))
        if self._talk_released:
            self._talk_released = False
            event = self.detector.end() or event
        if event is UtteranceEvent.STARTED:
            await self._on_utterance_start()
        if self._unconfirmed_barge_in and (
            event in (UtteranceEvent.ENDED, UtteranceEvent.DISCARDED)
            or self.detector.speech_frames >= self.config.min_speech_frames
        ):
            self._unconfirmed_barge_in = False
            if event is not UtteranceEvent.DISCARDED and self.reply_active():
                await self.interrupt(reason="barge_in")
        if woke_frames_ago is not None:
            await self._on_wake(woke_frames_ago)
        unsent = len(self.detector.frames) - self._sent_frames
        if (
            self.detector.active
            and self.config.streaming
            and not self._stream_broken
            and (unsent >= self.config.chunk_frames or event)
        ):
            await self._send_chunk()
        if event is UtteranceEvent.ENDED:
            await self._finish_utterance()
        elif event is UtteranceEvent.DISCARDED:
            await self._discard_utterance()
        self._update_state()

    # listening ------------------------------------------------------------------------
    async def _on_utterance_start(self) -> None:
        """Speech began: it goes to the AI server only if the device listens for it now."""
        if not self.listener.accepts():
            self.log.debug("speech without a trigger (%s mode): not sent", self.listener.mode)
            return
        if len(self.output) or self._playing:
            await self.interrupt(reason="barge_in")  # talking over a reply: stop it now
        elif self.reply_active():
            # nothing is heard yet: a noise blip must not cancel the awaited reply, so wait
            # until this is an utterance (min_speech_frames), as the reply has no audio to stop
            self._unconfirmed_barge_in = True
        self._begin_utterance()

    async def _on_wake(self, frames_ago: int) -> None:
        """The wake word: barge in, and a command said in the same breath is the utterance."""
        self._publish_payload(wake_event(self.listener.choice.wake_word))
        self.log.info("wake word %s heard", self.listener.choice.wake_word)
        if self.reply_active():
            await self.interrupt(reason="barge_in")
        if self.detector.active and self._utterance_id is None:
            keep = round(self.listener.settings.wake_preroll_seconds / FRAME_SECONDS)
            self.detector.restart(keep + frames_ago)
            self._begin_utterance()

    async def talk(self, pressed: bool) -> bool:
        """Push-to-talk button: pressed barges in; released ends the utterance at the next frame.

        False when the device is not in push_to_talk mode (nothing happens).
        """
        if self.listener.mode is not ListeningMode.PUSH_TO_TALK:
            return False
        if pressed:
            self.listener.talk(True)
            if self.reply_active():
                await self.interrupt(reason="barge_in")
        elif self.listener.talking:
            self.listener.talk(False)
            self._talk_released = True
        self._update_state()
        return True

    def set_listening(self, choice: ListeningChoice) -> None:
        if choice != self.listener.choice:
            self.log.info("listening: %s, wake word %s", choice.mode, choice.wake_word)
        self.listener.choose(choice)
        self._update_state()

    def _device_state(self) -> DeviceState:
        if self._playing:
            return DeviceState.RESPONDING
        if self._utterance_id is not None:
            return DeviceState.LISTENING
        if self._replies:
            return DeviceState.PROCESSING
        return DeviceState.LISTENING if self.listener.waiting else DeviceState.IDLE

    def _update_state(self) -> None:
        state = self._device_state()
        if state is not self._state and not self.closed:
            self._state = state
            self._publish_payload(state_event(state))

    def _publish_payload(self, payload: dict[str, Any]) -> None:
        """A device event built by naila_protocol.payloads."""
        fields = dict(payload)
        self._publish(fields.pop("event"), **fields)

    def _begin_utterance(self) -> None:
        self.turn.reset()
        self._utterance_id = new_request_id()
        self._utterance_streamed = False
        self._stream_broken = False
        self._sent_frames = 0
        self._resampler = Resampler(WEBRTC_RATE, self.config.sample_rate)
        self.log.debug("utterance %s started", self._utterance_id)

    def _unsent_pcm(self) -> bytes:
        assert self._resampler is not None
        frames = self.detector.frames[self._sent_frames :]
        self._sent_frames = len(self.detector.frames)
        if not frames:
            return b""
        return self._resampler.process(np.concatenate(frames)).tobytes()

    async def _send_chunk(self) -> None:
        if self._utterance_id is None:
            return
        pcm = self._unsent_pcm()
        if not pcm:
            return
        if not self._utterance_streamed:
            self.server.register(self._utterance_id, self)
        frame = Frame(
            self.device_id, self.config.sample_rate, self._utterance_id, FrameKind.CHUNK, pcm
        )
        if not await self.server.send(frame):
            self._stream_broken = True
            return
        if not self._utterance_streamed and self.turn.semantic:
            subscribe = Frame(self.device_id, self.config.sample_rate, frame.request_id)
            subscribe.kind = FrameKind.TURN
            await self.server.send(subscribe)  # ask for the server's end-of-turn verdicts
        self._utterance_streamed = True

    async def _finish_utterance(self) -> None:
        request_id, self._utterance_id = self._utterance_id, None
        frames = self.detector.take_frames()
        if request_id is None or self._resampler is None:
            return
        self.turn.ended_without_verdict()
        self.metrics.utterances += 1
        self.listener.consume()  # the window (after a wake word or a reply) is used
        duration_ms = round(len(frames) * FRAME_SECONDS * 1000)
        speech_end = self._last_speech_at
        if self.config.streaming and self._stream_broken:
            # chunks were lost with a server connection: send it all again as one FINAL
            self.server.forget(request_id)
            request_id = new_request_id()
            whole = Resampler(WEBRTC_RATE, self.config.sample_rate)
            tail = whole.process(np.concatenate(frames)).tobytes() + whole.flush().tobytes()
            kind = FrameKind.FINAL
        elif self.config.streaming:
            tail = self._unsent_pcm_from(frames) + self._resampler.flush().tobytes()
            kind = FrameKind.FINAL
        else:
            tail = (
                self._resampler.process(np.concatenate(frames)).tobytes()
                + self._resampler.flush().tobytes()
            )
            kind = FrameKind.BASIC
        self._resampler = None
        if not self.server.connected:
            self.log.warning("AI server unavailable: utterance %s dropped", request_id)
            self.server.forget(request_id)
            self._publish("server_unavailable", request_id=request_id)
            return
        self.server.register(request_id, self)
        self._replies[request_id] = PendingReply(request_id, speech_end, announce=False)
        frame = Frame(self.device_id, self.config.sample_rate, request_id, kind, tail)
        self._publish("utterance", request_id=request_id, duration_ms=duration_ms)
        self._replies[request_id].sent_at = time.perf_counter()
        if not await self.server.send(frame, expects_reply=True):
            self._replies.pop(request_id, None)
            self.server.forget(request_id)
            self._publish("server_unavailable", request_id=request_id)
        else:
            self.log.info("utterance %s sent (%d ms)", request_id, duration_ms)

    def _unsent_pcm_from(self, frames: list[np.ndarray]) -> bytes:
        assert self._resampler is not None
        rest = frames[self._sent_frames :]
        return self._resampler.process(np.concatenate(rest)).tobytes() if rest else b""

    async def _discard_utterance(self) -> None:
        request_id, self._utterance_id = self._utterance_id, None
        self.detector.take_frames()
        self._resampler = None
        if request_id is not None and self._utterance_streamed and not self._stream_broken:
            await self.server.cancel(self.device_id, request_id)
        self.log.debug("utterance %s too short: discarded", request_id)

    # replies --------------------------------------------------------------------------
    def reply_active(self) -> bool:
        """A reply is queued, playing, or awaited from the server."""
        return bool(len(self.output)) or bool(self._replies)

    async def interrupt(self, *, reason: str) -> None:
        """Barge-in or stop: silence within one frame, cancel the server's work, tell HA."""
        playing = [*self._playing, *self.output.playing_tags()]
        self.output.clear()
        self._playing.clear()
        replies, self._replies = self._replies, {}
        self.metrics.barge_ins += reason == "barge_in"
        for request_id in replies:
            await self.server.cancel(self.device_id, request_id)
        interrupted: list[str | None] = list(dict.fromkeys([*playing, *replies])) or [None]
        for rid in interrupted:
            self._publish("interrupted", request_id=rid, reason=reason)
        self.log.info("%s: output cleared, %d request(s) cancelled", reason, len(replies))
        self._update_state()

    async def announce(
        self, text: str, request_id: str, *, sound: Sound | None = None, converse: bool = False
    ) -> None:
        """Play `sound`, then ask the server to speak `text` here; `announced` once it played.

        `converse` (start_conversation): afterwards the device listens without a trigger.
        """
        if not self.speaker:
            self._publish(
                "error",
                request_id=request_id,
                code="no_speaker",
                message="device has no speaker",
            )
            return
        if not text:
            reply = self._replies[request_id] = PendingReply(
                request_id, None, announce=True, converse=converse
            )
            if sound is not None:
                self.output.push_pcm(sound_pcm(sound), WEBRTC_RATE, tag=request_id)
            reply.summary = ReplySummary()
            self._update_state()
            return
        if not self.server.connected:
            self._publish(
                "error",
                request_id=request_id,
                code="server_unavailable",
                message="AI server is not connected",
            )
            return
        self.server.register(request_id, self)
        self._replies[request_id] = PendingReply(request_id, None, announce=True, converse=converse)
        if sound is not None:
            self.output.push_pcm(sound_pcm(sound), WEBRTC_RATE, tag=request_id)
        self._update_state()
        frame = Frame(
            self.device_id, WEBRTC_RATE, request_id, FrameKind.SPEAK, text.encode("utf-8")
        )
        if not await self.server.send(frame, expects_reply=True):
            self._replies.pop(request_id, None)
            self.server.forget(request_id)
            self._publish(
                "error",
                request_id=request_id,
                code="server_unavailable",
                message="AI server is not connected",
            )

    def _on_turn(self, frame: Frame) -> None:
        if frame.request_id != self._utterance_id:
            return
        try:
            verdict = TurnVerdict.from_frame(frame)
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            self.log.warning("malformed TURN body for %s: %s", frame.request_id, err)
            return
        self.log.debug("turn verdict for %s: %s", frame.request_id, verdict)
        self.turn.on_verdict(verdict)

    def on_reply_frame(self, frame: Frame) -> None:
        if frame.kind is FrameKind.TURN:
            self._on_turn(frame)
            return
        reply = self._replies.get(frame.request_id)
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
                self._finish_reply(reply, ReplySummary(), had_audio=bool(samples.size))
        elif frame.kind is FrameKind.END:
            self.metrics.frames_dropped += self.output.end_of_audio(tag=frame.request_id)
            try:
                summary = ReplySummary.from_frame(frame)
            except (ValueError, TypeError, UnicodeDecodeError):
                self.log.warning("malformed END body for %s", frame.request_id)
                summary = ReplySummary(status="error")
            self._finish_reply(
                reply, summary, had_audio=reply.first_audio_ms is not None or bool(len(self.output))
            )
        elif frame.kind is FrameKind.ERROR:
            self._replies.pop(frame.request_id, None)
            code, message = error_code_of(frame)
            self.log.warning("AI server error for %s: %s %s", frame.request_id, code, message)
            self._publish("error", request_id=frame.request_id, code=code, message=message)

    def _finish_reply(self, reply: PendingReply, summary: ReplySummary, *, had_audio: bool) -> None:
        reply.summary = summary
        if reply.first_audio_ms is not None or not had_audio:
            self._publish_reply(reply)

    def _publish_reply(self, reply: PendingReply) -> None:
        self._replies.pop(reply.request_id, None)
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
        self.echo.played(self.track.last_samples)
        for played in self._playing.frame_sent(tag, self.output.playing_tags):
            self._played(played)
        reply = self._replies.get(tag) if tag else None
        self.metrics.frames_out += 1
        if reply is None or reply.first_audio_ms is not None:
            return
        self._playing.started(reply)
        self._update_state()
        now = reply.played_at = time.perf_counter()
        reply.first_audio_ms = (
            round((now - reply.speech_end) * 1000, 1) if reply.speech_end else 0.0
        )
        if not reply.announce:
            self.metrics.last_first_audio_ms = reply.first_audio_ms
            self.log.info("first audio of %s after %.0f ms", reply.request_id, reply.first_audio_ms)
        if reply.summary is not None:
            self._publish_reply(reply)

    def _played(self, reply: PendingReply) -> None:
        """A reply or announcement finished playing."""
        if not reply.announce or reply.converse:
            self.listener.open_follow_up()
        self._update_state()
        if reply.announce:
            self._publish("announced", request_id=reply.request_id)

    def on_request_failed(self, request_id: str, reason: str) -> None:
        if request_id == self._utterance_id:
            self._stream_broken = True  # still being spoken: resent whole when it ends
            return
        reply = self._replies.pop(request_id, None)
        if reply is not None and reply.announce:
            self._publish(
                "error", request_id=request_id, code=reason, message=f"announce failed: {reason}"
            )
        elif reply is not None:
            self._publish(reason, request_id=request_id)

    async def close(self) -> None:
        """Stop playing and cancel whatever the server is still doing for this device."""
        if self.closed:
            return
        self.closed = True
        self.output.clear()
        self._playing.clear()
        replies, self._replies = self._replies, {}
        speaking = [self._utterance_id] if self._utterance_id else []
        for request_id in [*replies, *(speaking if self._utterance_streamed else [])]:
            await self.server.cancel(self.device_id, request_id)
        for request_id in [*replies, *speaking]:
            # the device is told, also when its connection dropped mid-turn (nothing silently lost)
            self._publish("interrupted", request_id=request_id, reason="session_closed")
        self.track.stop()
        await self.listener.close()

    def info(self) -> dict[str, Any]:
        return {"queued_frames": len(self.output), "pending_replies": list(self._replies)}


def _route_fields(summary: ReplySummary) -> dict[str, str]:
    """`route` and `route_reason` of a routed reply (absent when the server did not route)."""
    if summary.route is None:
        return {}
    return {"route": summary.route, "route_reason": summary.route_reason or ""}
