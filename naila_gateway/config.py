"""Gateway settings: one dataclass, filled from environment variables and CLI flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from naila_gateway.echo import EchoSettings
from naila_gateway.end_of_turn import EndOfTurnMode, EndOfTurnSettings
from naila_gateway.http.settings import HttpSettings, http_settings_from_env
from naila_gateway.ice_addresses import IceAddressSelection
from naila_gateway.listening.settings import ListeningSettings
from naila_gateway.video.config import VideoConfig
from naila_protocol.mqtt import MqttSettings
from naila_protocol.topics import DEFAULT_PREFIX

VAD_MODES = ("energy", "silero")
SERVER_PROTOCOLS = ("stream", "basic")
ENERGY_DEFAULT_THRESHOLD = 500.0
"""Mean absolute int16 amplitude above which a 20 ms frame counts as speech."""
SILERO_DEFAULT_THRESHOLD = 0.5
"""Silero speech probability above which a frame counts as speech."""


@dataclass(slots=True)
class GatewayConfig:
    """Everything the gateway can be told; field metadata names the environment variable."""

    # MQTT
    mqtt_host: str = field(default="127.0.0.1", metadata={"env": "MQTT_HOST"})
    mqtt_port: int = field(default=1883, metadata={"env": "MQTT_PORT"})
    mqtt_username: str | None = field(default=None, metadata={"env": "MQTT_USERNAME"})
    mqtt_password: str | None = field(default=None, metadata={"env": "MQTT_PASSWORD"})
    mqtt_prefix: str = field(default=DEFAULT_PREFIX, metadata={"env": "MQTT_PREFIX"})
    mqtt_tls_ca_file: str | None = field(default=None, metadata={"env": "MQTT_TLS_CA_FILE"})
    """CA certificate (PEM) of the broker: turns TLS on."""
    mqtt_tls_cert_file: str | None = field(default=None, metadata={"env": "MQTT_TLS_CERT_FILE"})
    mqtt_tls_key_file: str | None = field(default=None, metadata={"env": "MQTT_TLS_KEY_FILE"})
    gateway_id: str = field(default="naila-gateway", metadata={"env": "GATEWAY_ID"})
    metrics_interval: float = field(default=10.0, metadata={"env": "METRICS_INTERVAL"})
    signaling_rate: float = field(default=20.0, metadata={"env": "SIGNALING_RATE"})
    """Signaling messages per second a device may send on average (0 = no limit)."""
    signaling_burst: int = field(default=60, metadata={"env": "SIGNALING_BURST"})
    """Messages a device may send at once (a browser trickles a dozen ICE candidates)."""
    # AI server
    ai_server_host: str = field(default="127.0.0.1", metadata={"env": "AI_SERVER_HOST"})
    ai_server_port: int = field(default=9999, metadata={"env": "AI_SERVER_PORT"})
    ai_server_token: str | None = field(default=None, metadata={"env": "AI_SERVER_TOKEN"})
    ai_server_protocol: str = field(default="stream", metadata={"env": "AI_SERVER_PROTOCOL"})
    """'stream': CHUNK/FINAL while the user speaks, streamed replies; 'basic': one frame each way."""
    reply_timeout: float = field(default=10.0, metadata={"env": "AI_SERVER_REPLY_TIMEOUT"})
    # WebRTC
    ice_servers: list[str] = field(default_factory=list, metadata={"env": "WEBRTC_ICE_SERVERS"})
    """STUN/TURN URLs (comma separated in the environment); none on a local network."""
    ice_addresses: list[str] = field(default_factory=list, metadata={"env": "WEBRTC_ICE_ADDRESSES"})
    """Interfaces, addresses or CIDRs offered as ICE host candidates (empty: every address)."""
    opus_bitrate: int = field(default=24000, metadata={"env": "WEBRTC_OPUS_BITRATE"})
    jitter_frames: int = field(default=1, metadata={"env": "WEBRTC_JITTER_FRAMES"})
    """Receive jitter buffer depth in 20 ms frames (aiortc's own default is 4)."""
    output_buffer_seconds: float = field(
        default=60.0, metadata={"env": "AUDIO_OUTPUT_BUFFER_SECONDS"}
    )
    # Audio in
    vad_mode: str = field(default="energy", metadata={"env": "AUDIO_VAD_MODE"})
    vad_threshold: float | None = field(default=None, metadata={"env": "AUDIO_VAD_THRESHOLD"})
    """None: 500 (energy) or 0.5 (silero)."""
    silence_frames: int = field(default=15, metadata={"env": "AUDIO_SILENCE_FRAMES"})
    """20 ms frames of silence that end an utterance (15 = 300 ms)."""
    sample_rate: int = field(default=16000, metadata={"env": "AUDIO_SAMPLE_RATE"})
    """Rate of the PCM sent to the AI server."""
    preroll_frames: int = field(default=15, metadata={"env": "AUDIO_PREROLL_FRAMES"})
    min_speech_frames: int = field(default=10, metadata={"env": "AUDIO_MIN_SPEECH_FRAMES"})
    max_utterance_seconds: float = field(
        default=30.0, metadata={"env": "AUDIO_MAX_UTTERANCE_SECONDS"}
    )
    chunk_frames: int = field(default=2, metadata={"env": "AUDIO_CHUNK_FRAMES"})
    """Frames per CHUNK sent while an utterance is spoken (stream protocol)."""
    end_of_turn: EndOfTurnSettings = field(
        default_factory=EndOfTurnSettings, metadata={"env": None}
    )
    """Fixed hang-over or semantic end of turn (AUDIO_END_OF_TURN*, naila_gateway/end_of_turn.py)."""
    echo: EchoSettings = field(default_factory=EchoSettings, metadata={"env": None})
    """Barge-in that ignores the device's own reply (AUDIO_ECHO*, naila_gateway/echo.py)."""
    log_level: str = field(default="INFO", metadata={"env": "LOG_LEVEL"})
    video: VideoConfig = field(default_factory=VideoConfig, metadata={"env": None})
    """Camera motion gating (VIDEO_* variables, docs/gateway_video.md)."""
    listening: ListeningSettings = field(default_factory=ListeningSettings, metadata={"env": None})
    """Listening modes and the wake word (docs/gateway.md "Listening modes")."""
    http: HttpSettings = field(default_factory=HttpSettings, metadata={"env": None})
    """Device page and WHIP signaling (HTTP_* variables, docs/gateway.md)."""

    @property
    def effective_vad_threshold(self) -> float:
        if self.vad_threshold is not None:
            return self.vad_threshold
        return SILERO_DEFAULT_THRESHOLD if self.vad_mode == "silero" else ENERGY_DEFAULT_THRESHOLD

    @property
    def mqtt(self) -> MqttSettings:
        """The broker connection (naila_protocol.mqtt) these settings describe."""
        return MqttSettings(
            host=self.mqtt_host,
            port=self.mqtt_port,
            username=self.mqtt_username,
            password=self.mqtt_password,
            prefix=self.mqtt_prefix,
            tls_ca_file=self.mqtt_tls_ca_file,
            tls_cert_file=self.mqtt_tls_cert_file,
            tls_key_file=self.mqtt_tls_key_file,
        )

    @property
    def ice_selection(self) -> IceAddressSelection:
        return IceAddressSelection.parse(self.ice_addresses)

    @property
    def streaming(self) -> bool:
        return self.ai_server_protocol == "stream"

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        if self.vad_mode not in VAD_MODES:
            raise ValueError(f"AUDIO_VAD_MODE must be one of {VAD_MODES}, not {self.vad_mode!r}")
        if self.ai_server_protocol not in SERVER_PROTOCOLS:
            raise ValueError(f"AI_SERVER_PROTOCOL must be one of {SERVER_PROTOCOLS}")
        if self.sample_rate not in (8000, 16000, 24000, 32000, 48000):
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
        if self.preroll_frames < 0 or self.max_utterance_seconds <= 0:
            raise ValueError("preroll_frames must be >= 0 and max_utterance_seconds > 0")
        self.end_of_turn.validate()
        self.echo.validate()
        if self.end_of_turn.mode is EndOfTurnMode.SEMANTIC and not self.streaming:
            raise ValueError("AUDIO_END_OF_TURN=semantic needs AI_SERVER_PROTOCOL=stream")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewayConfig:
        """Defaults overridden by any of the environment variables that are set and non-empty."""
        environ = os.environ if environ is None else environ
        config = cls(
            video=VideoConfig.from_env(environ),
            end_of_turn=EndOfTurnSettings.from_env(environ),
            echo=EchoSettings.from_env(environ),
            listening=ListeningSettings.from_env(environ),
            http=http_settings_from_env(environ),
        )
        for item in fields(cls):
            if item.metadata["env"] is None:
                continue
            raw = environ.get(item.metadata["env"], "")
            if raw != "":
                setattr(config, item.name, _convert(item.name, getattr(config, item.name), raw))
        return config


_FLOAT_FIELDS = frozenset({"vad_threshold", "reply_timeout", "metrics_interval", "signaling_rate"})


def _convert(name: str, current: object, raw: str) -> object:
    if name in ("ice_servers", "ice_addresses"):
        return [url.strip() for url in raw.split(",") if url.strip()]
    if name in _FLOAT_FIELDS or isinstance(current, float):
        return float(raw)
    if isinstance(current, int):
        return int(raw)
    return raw


def env_name(field_name: str) -> str:
    """Environment variable of one config field."""
    for item in fields(GatewayConfig):
        if item.name == field_name:
            return str(item.metadata["env"])
    raise KeyError(field_name)
