"""The utterance being spoken on one device: its audio on the way to the AI server.

`AI_SERVER_PROTOCOL=stream`: CHUNK frames while it is spoken (and PARTIAL and TURN
subscriptions for the server's partial transcripts and end-of-turn verdicts), then a FINAL; `basic`: one frame once it ended. Audio leaves at
`AUDIO_SAMPLE_RATE`, resampled from WebRTC's 48 kHz.
"""

from __future__ import annotations

import numpy as np

from naila_gateway.config import GatewayConfig
from naila_gateway.pcm import WEBRTC_RATE, Resampler
from naila_gateway.replies import new_request_id
from naila_gateway.server_client import RequestListener, ServerClient
from naila_protocol.framing import Frame, FrameKind


class UtteranceUplink:
    """Request id, streamed frames and resampler of the current utterance (one at a time)."""

    def __init__(
        self,
        device_id: str,
        config: GatewayConfig,
        *,
        server: ServerClient,
        listener: RequestListener,
        semantic_turn: bool,
        turn_body: bytes = b"",
    ) -> None:
        self.device_id = device_id
        self.config = config
        self.server = server
        self._listener = listener
        self._semantic_turn = semantic_turn
        self._turn_body = turn_body
        """The TURN subscription's body (TurnSubscription: empty or text rules only)."""
        self.request_id: str | None = None
        """The utterance's request id while it is spoken (None: nobody is speaking to the server)."""
        self.streamed = False
        """Some of it reached the server as CHUNK frames."""
        self.broken = False
        """Chunks were lost with a server connection: it is sent again whole when it ends."""
        self._sent_frames = 0
        self._resampler: Resampler | None = None

    def begin(self) -> str:
        self.request_id = new_request_id()
        self.streamed = False
        self.broken = False
        self._sent_frames = 0
        self._resampler = Resampler(WEBRTC_RATE, self.config.sample_rate)
        return self.request_id

    def unsent(self, frames: list[np.ndarray]) -> int:
        """How many of the utterance's frames have not gone out yet."""
        return len(frames) - self._sent_frames

    def streaming(self) -> bool:
        """CHUNK frames go out while it is spoken."""
        return self.config.streaming and not self.broken

    def _pcm_after_sent(self, frames: list[np.ndarray]) -> bytes:
        assert self._resampler is not None
        rest = frames[self._sent_frames :]
        self._sent_frames = len(frames)
        return self._resampler.process(np.concatenate(rest)).tobytes() if rest else b""

    async def send_chunk(self, frames: list[np.ndarray]) -> None:
        """Stream the frames not sent yet (the utterance's frames so far)."""
        if self.request_id is None:
            return
        pcm = self._pcm_after_sent(frames)
        if not pcm:
            return
        if not self.streamed:
            self.server.register(self.request_id, self._listener)
        frame = Frame(
            self.device_id, self.config.sample_rate, self.request_id, FrameKind.CHUNK, pcm
        )
        if not await self.server.send(frame):
            self.broken = True
            return
        if not self.streamed:
            # ask for the server's partial transcripts (and end-of-turn verdicts) at pauses
            kinds = [FrameKind.PARTIAL, *([FrameKind.TURN] if self._semantic_turn else [])]
            for kind in kinds:
                body = self._turn_body if kind is FrameKind.TURN else b""
                await self.server.send(
                    Frame(self.device_id, self.config.sample_rate, frame.request_id, kind, body)
                )
        self.streamed = True

    def finish(self, frames: list[np.ndarray]) -> Frame | None:
        """The utterance ended with these frames: its last frame (FINAL or basic) to send.

        None when no utterance was being spoken.
        """
        request_id, self.request_id = self.request_id, None
        resampler, self._resampler = self._resampler, None
        if request_id is None or resampler is None:
            return None
        if self.config.streaming and self.broken:
            self.server.forget(request_id)
            request_id = new_request_id()
            whole = Resampler(WEBRTC_RATE, self.config.sample_rate)
            tail = whole.process(np.concatenate(frames)).tobytes() + whole.flush().tobytes()
            kind = FrameKind.FINAL
        elif self.config.streaming:
            rest = frames[self._sent_frames :]
            sent = resampler.process(np.concatenate(rest)).tobytes() if rest else b""
            tail = sent + resampler.flush().tobytes()
            kind = FrameKind.FINAL
        else:
            tail = resampler.process(np.concatenate(frames)).tobytes() + resampler.flush().tobytes()
            kind = FrameKind.BASIC
        return Frame(self.device_id, self.config.sample_rate, request_id, kind, tail)

    async def discard(self) -> str | None:
        """Too short: the server forgets what it got of it. Returns its request id."""
        request_id, self.request_id = self.request_id, None
        self._resampler = None
        if request_id is not None and self.streamed and not self.broken:
            await self.server.cancel(self.device_id, request_id)
        return request_id

    def failed(self, request_id: str) -> bool:
        """The server connection lost this request: True if it is the one still spoken."""
        if request_id != self.request_id:
            return False
        self.broken = True  # still being spoken: resent whole when it ends
        return True
