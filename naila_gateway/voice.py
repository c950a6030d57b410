"""One device's voice loop: VAD, listening mode and utterances in; replies out (playback.py).

Everything audio of a device, independent of the WebRTC connection carrying it: the utterance
on its way to the AI server is `uplink.UtteranceUplink`, the replies and the output track are
`playback.ReplyPlayer`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from naila_gateway.config import GatewayConfig
from naila_gateway.echo import EchoGuard
from naila_gateway.end_of_turn import TurnGate
from naila_gateway.listening import Listener, ListeningChoice
from naila_gateway.metrics import GatewayMetrics
from naila_gateway.pcm import FRAME_SECONDS
from naila_gateway.playback import EventPublisher, ReplyPlayer
from naila_gateway.replies import PendingReply
from naila_gateway.server_client import RequestListener, ServerClient
from naila_gateway.turn_audio import AudioTurn, SmartTurnJudge
from naila_gateway.uplink import UtteranceUplink
from naila_gateway.utterance import UtteranceDetector, UtteranceEvent
from naila_gateway.vad import make_vad
from naila_protocol.device_events import state_event, transcript_event, wake_event
from naila_protocol.framing import (
    TURN_TEXT_ONLY,
    Frame,
    FrameKind,
    PartialTranscript,
    TurnSubscription,
    TurnVerdict,
)
from naila_protocol.vocab import DeviceState, ListeningMode, Sound

__all__ = ["EventPublisher", "VoiceSession"]


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
        smart_turn: SmartTurnJudge | None = None,
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
        if self.turn.smart_turn and smart_turn is None:
            raise ValueError("AUDIO_END_OF_TURN=smart_turn needs the gateway's Smart Turn model")
        self.audio_turn = AudioTurn(smart_turn if self.turn.smart_turn else None, self.turn)
        self.echo = EchoGuard(config.echo)
        self.uplink = UtteranceUplink(
            device_id,
            config,
            server=server,
            listener=self,
            semantic_turn=self.turn.semantic,
            # Smart Turn runs here: the server's text rules only
            turn_body=TurnSubscription(TURN_TEXT_ONLY).to_json() if self.turn.smart_turn else b"",
        )
        self.replies = ReplyPlayer(
            device_id,
            config,
            server=server,
            listener=self,
            publish=publish,
            metrics=metrics,
            logger=logger,
            on_audio=self.echo.played,
            on_played=self._played,
            on_change=self._update_state,
        )
        self.output = self.replies.output
        self.track = self.replies.track
        self._last_speech_at: float | None = None
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

    @property
    def utterance_id(self) -> str | None:
        """The request id of the utterance being spoken to the AI server, if any."""
        return self.uplink.request_id

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
        if self.detector.active and self.utterance_id is not None:
            self.audio_turn.after_frame(self.detector.frames)
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
        if (
            self.detector.active
            and self.uplink.streaming()
            and (self.uplink.unsent(self.detector.frames) >= self.config.chunk_frames or event)
        ):
            await self.uplink.send_chunk(self.detector.frames)
        if event is UtteranceEvent.ENDED:
            await self._finish_utterance()
        elif event is UtteranceEvent.DISCARDED:
            self.detector.take_frames()
            request_id = await self.uplink.discard()
            self.log.debug("utterance %s too short: discarded", request_id)
        self._update_state()

    # listening ------------------------------------------------------------------------
    async def _on_utterance_start(self) -> None:
        """Speech began: it goes to the AI server only if the device listens for it now."""
        if not self.listener.accepts():
            self.log.debug("speech without a trigger (%s mode): not sent", self.listener.mode)
            return
        if self.replies.audible():
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
        if self.detector.active and self.uplink.request_id is None:
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
        if self.replies.playing:
            return DeviceState.RESPONDING
        if self.uplink.request_id is not None:
            return DeviceState.LISTENING
        if self.replies.pending:
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

    # utterances -----------------------------------------------------------------------
    def _begin_utterance(self) -> None:
        self.turn.reset()
        request_id = self.uplink.begin()
        self.log.debug("utterance %s started", request_id)

    async def _finish_utterance(self) -> None:
        frames = self.detector.take_frames()
        frame = self.uplink.finish(frames)
        if frame is None:
            return
        self.turn.ended_without_verdict()
        self.metrics.utterances += 1
        self.listener.consume()  # the window (after a wake word or a reply) is used
        duration_ms = round(len(frames) * FRAME_SECONDS * 1000)
        await self.replies.request(frame, self._last_speech_at, duration_ms)

    # replies --------------------------------------------------------------------------
    def reply_active(self) -> bool:
        """A reply is queued, playing, or awaited from the server."""
        return self.replies.active()

    async def interrupt(self, *, reason: str) -> None:
        """Barge-in or stop: silence within one frame, cancel the server's work, tell HA."""
        await self.replies.interrupt(reason=reason)

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

        With `media_url` the gateway fetches and plays that audio instead of `text`.
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
        await self.replies.announce(
            text, request_id, sound=sound, converse=converse, media_url=media_url
        )

    def _on_turn(self, frame: Frame) -> None:
        if frame.request_id != self.uplink.request_id:
            return
        try:
            verdict = TurnVerdict.from_frame(frame)
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            self.log.warning("malformed TURN body for %s: %s", frame.request_id, err)
            return
        self.log.debug("turn verdict for %s: %s", frame.request_id, verdict)
        self.turn.on_verdict(verdict)

    def _on_partial(self, frame: Frame) -> None:
        """A partial transcript of the utterance being spoken: shown, never acted on."""
        if frame.request_id != self.uplink.request_id:
            return  # the utterance ended: its final transcript comes with the reply
        try:
            partial = PartialTranscript.from_frame(frame)
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            self.log.warning("malformed PARTIAL body for %s: %s", frame.request_id, err)
            return
        self._publish_payload(
            transcript_event(frame.request_id, partial.text, audio_ms=partial.audio_ms)
        )

    def on_reply_frame(self, frame: Frame) -> None:
        if frame.kind is FrameKind.TURN:
            self._on_turn(frame)
        elif frame.kind is FrameKind.PARTIAL:
            self._on_partial(frame)
        else:
            self.replies.on_frame(frame)

    def _played(self, reply: PendingReply) -> None:
        """A reply or announcement finished playing."""
        if not reply.announce or reply.converse:
            self.listener.open_follow_up()
        self._update_state()

    def on_request_failed(self, request_id: str, reason: str) -> None:
        if not self.uplink.failed(request_id):
            self.replies.on_request_failed(request_id, reason)

    async def close(self) -> None:
        """Stop playing and cancel whatever the server is still doing for this device."""
        if self.closed:
            return
        self.closed = True
        speaking = [self.uplink.request_id] if self.uplink.request_id else []
        replies = await self.replies.close(speaking if self.uplink.streamed else [])
        for request_id in [*replies, *speaking]:
            # the device is told, also when its connection dropped mid-turn (nothing silently lost)
            self._publish("interrupted", request_id=request_id, reason="session_closed")
        await self.audio_turn.close()
        await self.listener.close()

    def info(self) -> dict[str, Any]:
        return self.replies.info()
