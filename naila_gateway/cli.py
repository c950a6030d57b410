"""Command line: grouped flags mirroring the environment variables (flags win over env)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from naila_gateway.config import SERVER_PROTOCOLS, VAD_MODES, GatewayConfig, env_name
from naila_gateway.http.settings import add_http_arguments, http_settings_from_args
from naila_gateway.listening import ListeningSettings, add_listening_arguments
from naila_gateway.video.config import VideoConfig, add_video_arguments

# (group title, [(field, flag, help)])
_GROUPS: list[tuple[str, list[tuple[str, str, str]]]] = [
    (
        "MQTT",
        [
            ("mqtt_host", "--mqtt-host", "broker host"),
            ("mqtt_port", "--mqtt-port", "broker port"),
            ("mqtt_username", "--mqtt-username", "broker user name"),
            ("mqtt_password", "--mqtt-password", "broker password"),
            ("mqtt_prefix", "--mqtt-prefix", "topic prefix"),
            ("mqtt_tls_ca_file", "--mqtt-tls-ca-file", "broker CA certificate (PEM): use TLS"),
            ("mqtt_tls_cert_file", "--mqtt-tls-cert-file", "client certificate (PEM)"),
            ("mqtt_tls_key_file", "--mqtt-tls-key-file", "client certificate key (PEM)"),
            ("gateway_id", "--gateway-id", "id published in gateway/status and metrics"),
            ("metrics_interval", "--metrics-interval", "seconds between gateway/metrics messages"),
            (
                "signaling_rate",
                "--signaling-rate",
                "signaling messages/s per device (0 = no limit)",
            ),
            (
                "signaling_burst",
                "--signaling-burst",
                "signaling messages a device may send at once",
            ),
        ],
    ),
    (
        "AI server",
        [
            ("ai_server_host", "--ai-server-host", "audio socket host"),
            ("ai_server_port", "--ai-server-port", "audio socket port"),
            ("ai_server_token", "--ai-server-token", "shared token sent as the first (auth) frame"),
            (
                "ai_server_protocol",
                "--ai-server-protocol",
                f"{'|'.join(SERVER_PROTOCOLS)}: stream utterances while spoken, or one basic frame each way",
            ),
            (
                "reply_timeout",
                "--reply-timeout",
                "seconds without reply frames before the device is told",
            ),
        ],
    ),
    (
        "WebRTC",
        [
            ("ice_servers", "--ice-servers", "comma-separated STUN/TURN URLs (none by default)"),
            (
                "ice_addresses",
                "--ice-addresses",
                "comma-separated interfaces, addresses or CIDRs for ICE host candidates",
            ),
            ("opus_bitrate", "--opus-bitrate", "Opus bitrate of audio sent to devices (mono)"),
            ("jitter_frames", "--jitter-frames", "receive jitter buffer depth in 20 ms frames"),
            (
                "output_buffer_seconds",
                "--output-buffer-seconds",
                "reply audio a device may have queued",
            ),
        ],
    ),
    (
        "Audio",
        [
            ("vad_mode", "--vad-mode", f"{'|'.join(VAD_MODES)}"),
            (
                "vad_threshold",
                "--vad-threshold",
                "energy: mean |amplitude| (default 500); silero: probability (0.5)",
            ),
            ("silence_frames", "--silence-frames", "20 ms frames of silence ending an utterance"),
            ("sample_rate", "--sample-rate", "PCM rate sent to the AI server"),
            ("preroll_frames", "--preroll-frames", "frames kept before speech starts"),
            ("min_speech_frames", "--min-speech-frames", "speech frames an utterance needs"),
            ("max_utterance_seconds", "--max-utterance-seconds", "longest utterance"),
            ("chunk_frames", "--chunk-frames", "frames per streamed chunk"),
        ],
    ),
    ("Logging", [("log_level", "--log-level", "DEBUG, INFO, WARNING, ...")]),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="naila-gateway",
        description="NAILA gateway: WebRTC voice devices <-> MQTT signaling <-> AI server.",
        epilog="Every flag defaults to its environment variable, then to the built-in default.",
    )
    defaults = GatewayConfig()
    for title, options in _GROUPS:
        group = parser.add_argument_group(title)
        for name, flag, text in options:
            default = getattr(defaults, name)
            group.add_argument(
                flag,
                dest=name,
                default=None,
                metavar=env_name(name),
                help=f"{text} [env {env_name(name)}, default {default!r}]",
            )
    add_video_arguments(parser)
    add_listening_arguments(parser)
    add_http_arguments(parser)
    return parser


def config_from_args(argv: Sequence[str] | None = None) -> GatewayConfig:
    """Environment first, then flags; validated. Exits with a usage error on bad values."""
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {
        name: value
        for name, value in vars(args).items()
        if value is not None and not name.startswith(("video_", "listening_", "http__"))
    }
    try:
        config = GatewayConfig.from_env()
        config.video = VideoConfig.from_namespace(args)
        config.listening = ListeningSettings.from_namespace(args)
        config.http = http_settings_from_args(args, os.environ)
        env_like = {env_name(name): value for name, value in overrides.items()}
        flagged = GatewayConfig.from_env(env_like)
        for name in overrides:
            setattr(config, name, getattr(flagged, name))
        config.validate()
    except ValueError as err:
        parser.error(str(err))
    return config
