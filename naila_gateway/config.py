"""Gateway settings: one frozen tree, filled from environment variables and CLI flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from naila_gateway.echo import EchoSettings
from naila_gateway.end_of_turn import EndOfTurnMode, EndOfTurnSettings
from naila_gateway.http.settings import HttpSettings
from naila_gateway.ice_addresses import IceAddressSelection
from naila_gateway.listening.settings import ListeningSettings
from naila_gateway.media import MediaSettings
from naila_gateway.video.config import VideoConfig
from naila_protocol.framing import DEFAULT_AUDIO_PORT
from naila_protocol.mqtt import MqttSettings
from naila_protocol.settings import load_settings, nested, setting

VAD_MODES = ("energy", "silero")
SERVER_PROTOCOLS = ("stream", "basic")
SAMPLE_RATES = (8000, 16000, 24000, 32000, 48000)
ENERGY_DEFAULT_THRESHOLD = 500.0
"""Mean absolute int16 amplitude above which a 20 ms frame counts as speech."""
SILERO_DEFAULT_THRESHOLD = 0.5
"""Silero speech probability above which a frame counts as speech."""

_MQTT, _AI, _RTC, _AUDIO = "MQTT", "AI server", "WebRTC", "Audio"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything the gateway can be told; each field names its variable and flag."""

    mqtt: MqttSettings = nested(MqttSettings)
    gateway_id: str = setting(
        "naila-gateway",
        env="GATEWAY_ID",
        group=_MQTT,
        help="id published in gateway/status and metrics",
    )
    metrics_interval: float = setting(
        10.0,
        env="METRICS_INTERVAL",
        group=_MQTT,
        help="seconds between gateway/metrics messages",
    )
    signaling_rate: float = setting(
        20.0,
        env="SIGNALING_RATE",
        group=_MQTT,
        help="signaling messages/s a device may send on average (0 = no limit)",
    )
    signaling_burst: int = setting(
        60,
        env="SIGNALING_BURST",
        group=_MQTT,
        help="signaling messages a device may send at once (a browser trickles a dozen ICE candidates)",
    )
    ai_server_host: str = setting(
        "127.0.0.1", env="AI_SERVER_HOST", group=_AI, help="audio socket host"
    )
    ai_server_port: int = setting(
        DEFAULT_AUDIO_PORT, env="AI_SERVER_PORT", group=_AI, help="audio socket port"
    )
    ai_server_standby: list[str] = setting(
        [],
        env="AI_SERVER_STANDBY",
        flag="--ai-server-standby",
        group=_AI,
        help="comma-separated host:port of standby AI servers, tried in order when the first "
        "is unreachable or its connection drops (same token)",
    )
    ai_server_token: str | None = setting(
        None,
        env="AI_SERVER_TOKEN",
        group=_AI,
        help="shared token sent as the first (auth) frame",
    )
    ai_server_keepalive: float = setting(
        5.0,
        env="AI_SERVER_KEEPALIVE",
        group=_AI,
        help="seconds between PING frames that keep an idle audio socket open",
    )
    ai_server_protocol: str = setting(
        "stream",
        env="AI_SERVER_PROTOCOL",
        group=_AI,
        choices=SERVER_PROTOCOLS,
        help="stream: CHUNK/FINAL while the user speaks, streamed replies; basic: one frame each way",
    )
    reply_timeout: float = setting(
        10.0,
        env="AI_SERVER_REPLY_TIMEOUT",
        flag="--reply-timeout",
        group=_AI,
        help="seconds without reply frames before the device is told",
    )
    ice_servers: list[str] = setting(
        [],
        env="WEBRTC_ICE_SERVERS",
        flag="--ice-servers",
        group=_RTC,
        help="comma-separated STUN/TURN URLs (none on a local network)",
    )
    ice_addresses: list[str] = setting(
        [],
        env="WEBRTC_ICE_ADDRESSES",
        flag="--ice-addresses",
        group=_RTC,
        help="comma-separated interfaces, addresses or CIDRs for ICE host candidates "
        "(none: every address)",
    )
    opus_bitrate: int = setting(
        24000,
        env="WEBRTC_OPUS_BITRATE",
        flag="--opus-bitrate",
        group=_RTC,
        help="Opus bitrate of audio sent to devices (mono), 6000-510000",
    )
    jitter_frames: int = setting(
        1,
        env="WEBRTC_JITTER_FRAMES",
        flag="--jitter-frames",
        group=_RTC,
        help="receive jitter buffer depth in 20 ms frames, 1-8 (aiortc's own default is 4)",
    )
    output_buffer_seconds: float = setting(
        60.0,
        env="AUDIO_OUTPUT_BUFFER_SECONDS",
        flag="--output-buffer-seconds",
        group=_RTC,
        help="reply audio a device may have queued",
    )
    vad_mode: str = setting(
        "energy",
        env="AUDIO_VAD_MODE",
        flag="--vad-mode",
        group=_AUDIO,
        choices=VAD_MODES,
        help="voice activity detector",
    )
    vad_threshold: float | None = setting(
        None,
        env="AUDIO_VAD_THRESHOLD",
        flag="--vad-threshold",
        group=_AUDIO,
        help=f"energy: mean |amplitude| ({ENERGY_DEFAULT_THRESHOLD:g}); "
        f"silero: probability ({SILERO_DEFAULT_THRESHOLD:g})",
    )
    silence_frames: int = setting(
        15,
        env="AUDIO_SILENCE_FRAMES",
        flag="--silence-frames",
        group=_AUDIO,
        help="20 ms frames of silence that end an utterance (15 = 300 ms)",
    )
    sample_rate: int = setting(
        16000,
        env="AUDIO_SAMPLE_RATE",
        flag="--sample-rate",
        group=_AUDIO,
        choices=tuple(str(rate) for rate in SAMPLE_RATES),
        parse=int,
        help="rate of the PCM sent to the AI server",
    )
    preroll_frames: int = setting(
        15,
        env="AUDIO_PREROLL_FRAMES",
        flag="--preroll-frames",
        group=_AUDIO,
        help="frames kept before speech starts",
    )
    min_speech_frames: int = setting(
        10,
        env="AUDIO_MIN_SPEECH_FRAMES",
        flag="--min-speech-frames",
        group=_AUDIO,
        help="speech frames an utterance needs",
    )
    max_utterance_seconds: float = setting(
        30.0,
        env="AUDIO_MAX_UTTERANCE_SECONDS",
        flag="--max-utterance-seconds",
        group=_AUDIO,
        help="longest utterance",
    )
    chunk_frames: int = setting(
        2,
        env="AUDIO_CHUNK_FRAMES",
        flag="--chunk-frames",
        group=_AUDIO,
        help="frames per CHUNK sent while an utterance is spoken (stream protocol)",
    )
    end_of_turn: EndOfTurnSettings = nested(EndOfTurnSettings)
    """Fixed hang-over or semantic end of turn (naila_gateway/end_of_turn.py)."""
    echo: EchoSettings = nested(EchoSettings)
    """Barge-in that ignores the device's own reply (naila_gateway/echo.py)."""
    log_level: str = setting(
        "INFO", env="LOG_LEVEL", group="Logging", help="DEBUG, INFO, WARNING, ..."
    )
    video: VideoConfig = nested(VideoConfig)
    """Camera motion gating (docs/gateway_video.md)."""
    listening: ListeningSettings = nested(ListeningSettings)
    """Listening modes and the wake word (docs/gateway.md "Listening modes")."""
    http: HttpSettings = nested(HttpSettings)
    """Device page and WHIP signaling (HTTP_* variables, docs/gateway.md)."""
    media: MediaSettings = nested(MediaSettings)
    """Limits on announcements' media_url (naila_gateway/media.py)."""

    @property
    def effective_vad_threshold(self) -> float:
        if self.vad_threshold is not None:
            return self.vad_threshold
        return SILERO_DEFAULT_THRESHOLD if self.vad_mode == "silero" else ENERGY_DEFAULT_THRESHOLD

    @property
    def ice_selection(self) -> IceAddressSelection:
        return IceAddressSelection.parse(self.ice_addresses)

    @property
    def ai_servers(self) -> list[tuple[str, int]]:
        """The AI server, then each standby: (host, port) in the order they are tried."""
        return [(self.ai_server_host, self.ai_server_port)] + [
            parse_server_address(entry) for entry in self.ai_server_standby
        ]

    @property
    def streaming(self) -> bool:
        return self.ai_server_protocol == "stream"

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        if self.vad_mode not in VAD_MODES:
            raise ValueError(f"AUDIO_VAD_MODE must be one of {VAD_MODES}, not {self.vad_mode!r}")
        if self.ai_server_protocol not in SERVER_PROTOCOLS:
            raise ValueError(f"AI_SERVER_PROTOCOL must be one of {SERVER_PROTOCOLS}")
        if self.sample_rate not in SAMPLE_RATES:
            raise ValueError(f"AUDIO_SAMPLE_RATE {self.sample_rate} is not supported")
        if not 6000 <= self.opus_bitrate <= 510000:
            raise ValueError("WEBRTC_OPUS_BITRATE must be between 6000 and 510000")
        if not 1 <= self.jitter_frames <= 8:
            raise ValueError("WEBRTC_JITTER_FRAMES must be between 1 and 8")
        if self.signaling_rate < 0 or self.signaling_burst < 1:
            raise ValueError("SIGNALING_RATE must be >= 0 and SIGNALING_BURST >= 1")
        for name in ("silence_frames", "min_speech_frames", "chunk_frames"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        self.ice_selection  # noqa: B018 (raises for a bad entry)
        self.ai_servers  # noqa: B018 (raises for a bad standby address)
        if self.preroll_frames < 0 or self.max_utterance_seconds <= 0:
            raise ValueError("preroll_frames must be >= 0 and max_utterance_seconds > 0")
        self.end_of_turn.validate()
        self.echo.validate()
        self.media.validate()
        if self.media.max_seconds + 2 > self.output_buffer_seconds:
            raise ValueError(
                "MEDIA_MAX_SECONDS + 2 s (a sound before it) must fit AUDIO_OUTPUT_BUFFER_SECONDS"
            )
        if self.end_of_turn.mode is EndOfTurnMode.SEMANTIC and not self.streaming:
            raise ValueError("AUDIO_END_OF_TURN=semantic needs AI_SERVER_PROTOCOL=stream")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewayConfig:
        """Defaults overridden by the environment variables that are set and non-empty."""
        return load_settings(cls, environ)


def parse_server_address(entry: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`; a bare host means the default audio socket port)."""
    text = entry.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or str(DEFAULT_AUDIO_PORT)
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:  # a bare host name or IPv6 address
        host, port = text, str(DEFAULT_AUDIO_PORT)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"AI_SERVER_STANDBY entry {entry!r} is not host:port")
    return host, int(port)
