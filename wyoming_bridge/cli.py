"""Command line: argparse groups whose defaults come from environment variables."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from .app import DEFAULT_WYOMING_URI, ServerSettings
from .audio_socket import DEFAULT_HOST, DEFAULT_PORT, AudioSocketSettings
from .engines import RunnerSettings
from .gateway_connection import ConnectionLimits
from .llm import DEFAULT_SYSTEM_PROMPT, LlmSettings
from .mqtt_status import MqttSettings
from .pipeline import PipelineSettings
from .routing.settings import RoutingSettings
from .speculative import SpeculationMode, SpeculationSettings
from .stt import SttSettings
from .tts import TtsSettings
from .vision.config import add_vision_args


def _env(name: str, default: Any = None, cast: Callable[[str], Any] | None = None) -> Any:
    """A flag's default from the environment: the raw string, so argparse's `type` converts it
    and a malformed value is reported like a malformed flag."""
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return cast(value) if cast else value


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    limits, llm_defaults, runner = ConnectionLimits(), LlmSettings(), RunnerSettings()
    parser = argparse.ArgumentParser(
        prog="naila-server",
        description="NAILA AI server: STT -> LLM -> TTS for gateways (audio socket) "
        "and Home Assistant (Wyoming). Flags default to the environment variables shown.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sock = parser.add_argument_group("gateway audio socket")
    sock.add_argument(
        "--audio-socket-host",
        default=_env("AUDIO_SOCKET_HOST", DEFAULT_HOST),
        help="bind address [AUDIO_SOCKET_HOST]",
    )
    sock.add_argument(
        "--audio-socket-port",
        type=int,
        default=_env("AUDIO_SOCKET_PORT", DEFAULT_PORT),
        help="port, 0 = any free port [AUDIO_SOCKET_PORT]",
    )
    sock.add_argument(
        "--auth-token",
        default=_env("AUDIO_SOCKET_TOKEN"),
        help="shared token gateways must send in an AUTH frame [AUDIO_SOCKET_TOKEN]",
    )
    sock.add_argument(
        "--allow",
        action="append",
        default=_env("AUDIO_SOCKET_ALLOW", [], _split),
        metavar="ADDRESS",
        help="allowed peer address or CIDR (repeatable; default everyone) [AUDIO_SOCKET_ALLOW, comma separated]",
    )
    sock.add_argument("--max-connections", type=int, default=AudioSocketSettings().max_connections)
    sock.add_argument("--max-requests-per-connection", type=int, default=limits.max_requests)
    sock.add_argument(
        "--first-frame-timeout",
        type=float,
        default=limits.first_frame_timeout_s,
        help="seconds a new connection may stay silent",
    )
    sock.add_argument(
        "--idle-timeout",
        type=float,
        default=limits.idle_timeout_s,
        help="seconds without frames before an idle connection closes (0 = never)",
    )
    sock.add_argument("--request-timeout", type=float, default=limits.request_timeout_s)
    sock.add_argument(
        "--speculation",
        choices=[m.value for m in SpeculationMode],
        default=_env("SPECULATION", SpeculationMode.FULL.value),
        help="work started on chunked utterances before FINAL [SPECULATION]",
    )
    sock.add_argument(
        "--speculation-pause",
        type=float,
        default=SpeculationSettings().pause_s,
        help="seconds of pause that start speculation",
    )

    wyo = parser.add_argument_group("Wyoming (Home Assistant)")
    wyo.add_argument(
        "--uri",
        default=_env("WYOMING_URI", DEFAULT_WYOMING_URI),
        help="tcp://HOST:PORT or unix://PATH [WYOMING_URI]",
    )
    wyo.add_argument("--no-wyoming", action="store_true", help="do not run the Wyoming server")
    wyo.add_argument(
        "--zeroconf",
        nargs="?",
        const="naila",
        default=None,
        help="announce over zeroconf with optional name",
    )

    mqtt = parser.add_argument_group("MQTT (optional)")
    mqtt.add_argument(
        "--mqtt-host", default=_env("MQTT_HOST"), help="broker host; unset = MQTT off [MQTT_HOST]"
    )
    mqtt.add_argument("--mqtt-port", type=int, default=_env("MQTT_PORT", 1883), help="[MQTT_PORT]")
    mqtt.add_argument("--mqtt-username", default=_env("MQTT_USERNAME"), help="[MQTT_USERNAME]")
    mqtt.add_argument("--mqtt-password", default=_env("MQTT_PASSWORD"), help="[MQTT_PASSWORD]")
    mqtt.add_argument(
        "--mqtt-prefix", default=_env("MQTT_PREFIX", "naila"), help="topic prefix [MQTT_PREFIX]"
    )
    mqtt.add_argument("--server-id", default=_env("SERVER_ID", "ai-1"), help="[SERVER_ID]")
    routing = RoutingSettings()
    mqtt.add_argument(
        "--ha-timeout",
        type=float,
        default=_env("HA_TIMEOUT", routing.ha_timeout_s),
        help="seconds a final transcript waits for Home Assistant's agent before the LLM "
        "answers [HA_TIMEOUT]",
    )
    mqtt.add_argument(
        "--no-ha-routing",
        action="store_true",
        help="never ask Home Assistant; the LLM answers every device",
    )

    stt = parser.add_argument_group("speech to text (faster-whisper)")
    stt.add_argument(
        "--stt-model",
        default=_env("STT_MODEL"),
        help="tiny.en (packaged, default), base (packaged Whisper base) or a CTranslate2 "
        "model dir [STT_MODEL]",
    )
    stt.add_argument("--stt-device", default=_env("STT_DEVICE", "cpu"), help="[STT_DEVICE]")
    stt.add_argument(
        "--stt-compute-type", default=_env("STT_COMPUTE_TYPE", "int8"), help="[STT_COMPUTE_TYPE]"
    )
    stt.add_argument("--stt-language", default=_env("STT_LANGUAGE", "en"), help="[STT_LANGUAGE]")
    stt.add_argument(
        "--stt-beam-size", type=int, default=_env("STT_BEAM_SIZE", 1), help="[STT_BEAM_SIZE]"
    )
    stt.add_argument("--stt-threads", type=int, default=0, help="0 = CTranslate2 default")
    stt.add_argument(
        "--stt-vad-filter", action="store_true", help="run faster-whisper's VAD (slower)"
    )

    llm = parser.add_argument_group("language model (llama.cpp)")
    llm.add_argument(
        "--llm-model",
        default=_env("LLM_MODEL"),
        help="GGUF file; default packaged SmolLM2-135M-Instruct [LLM_MODEL]",
    )
    llm.add_argument(
        "--system-prompt",
        default=_env("LLM_SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT),
        help="[LLM_SYSTEM_PROMPT]",
    )
    llm.add_argument(
        "--llm-max-tokens",
        type=int,
        default=_env("LLM_MAX_TOKENS", llm_defaults.max_tokens),
        help="[LLM_MAX_TOKENS]",
    )
    llm.add_argument("--llm-temperature", type=float, default=llm_defaults.temperature)
    llm.add_argument(
        "--llm-context", type=int, default=llm_defaults.context_size, help="context size in tokens"
    )
    llm.add_argument("--llm-threads", type=int, default=0, help="0 = all cores but one")
    llm.add_argument(
        "--history-turns",
        type=int,
        default=llm_defaults.history_turns,
        help="remembered exchanges per conversation",
    )
    llm.add_argument(
        "--history-ttl",
        type=float,
        default=llm_defaults.history_ttl_s,
        help="seconds a conversation is remembered",
    )
    llm.add_argument(
        "--history-tokens",
        type=int,
        default=llm_defaults.history_tokens,
        help="most tokens of remembered exchanges in a prompt",
    )
    llm.add_argument(
        "--llm-kv-cache",
        action=argparse.BooleanOptionalAction,
        default=llm_defaults.kv_cache,
        help="keep each conversation's evaluated prompt between turns",
    )

    tts = parser.add_argument_group("text to speech (Piper)")
    tts.add_argument(
        "--tts-voice",
        default=_env("TTS_VOICE"),
        help="Piper .onnx voice; default packaged en_US-joe-medium [TTS_VOICE]",
    )
    tts.add_argument(
        "--tts-voice-config", default=_env("TTS_VOICE_CONFIG"), help="[TTS_VOICE_CONFIG]"
    )
    tts.add_argument("--tts-speaker", type=int, default=None)
    tts.add_argument(
        "--tts-threads",
        type=int,
        default=TtsSettings().threads,
        help="ONNX Runtime threads for Piper (0 = its default)",
    )
    tts.add_argument("--tts-length-scale", type=float, default=None)
    tts.add_argument(
        "--sentence-silence", type=float, default=0.0, help="seconds of silence after each sentence"
    )
    tts.add_argument(
        "--first-clause-words",
        type=int,
        default=PipelineSettings().first_clause_words,
        help="the first clause is spoken early once it has this many words",
    )
    tts.add_argument(
        "--context-timeout",
        type=float,
        default=PipelineSettings().context_timeout_s,
        help="seconds the vision context (e.g. a camera snapshot) may add before the LLM starts",
    )

    engines = parser.add_argument_group("engine queues")
    engines.add_argument(
        "--queue-limit", type=int, default=runner.queue_limit, help="jobs waiting per engine"
    )
    engines.add_argument(
        "--job-timeout", type=float, default=runner.timeout_s, help="seconds a job may wait and run"
    )

    add_vision_args(parser)
    parser.add_argument("--log-level", default=_env("LOG_LEVEL", "INFO"), help="[LOG_LEVEL]")
    parser.add_argument("--debug", action="store_true", help="same as --log-level DEBUG")
    return parser


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    return ServerSettings(
        stt=SttSettings(
            model=args.stt_model,
            device=args.stt_device,
            compute_type=args.stt_compute_type,
            language=args.stt_language or None,
            beam_size=args.stt_beam_size,
            cpu_threads=args.stt_threads,
            vad_filter=args.stt_vad_filter,
        ),
        llm=LlmSettings(
            model=args.llm_model,
            system_prompt=args.system_prompt,
            max_tokens=args.llm_max_tokens,
            temperature=args.llm_temperature,
            context_size=args.llm_context,
            threads=args.llm_threads,
            history_turns=args.history_turns,
            history_ttl_s=args.history_ttl,
            history_tokens=args.history_tokens,
            kv_cache=args.llm_kv_cache,
        ),
        tts=TtsSettings(
            voice=args.tts_voice,
            voice_config=args.tts_voice_config,
            speaker=args.tts_speaker,
            length_scale=args.tts_length_scale,
            sentence_silence_s=args.sentence_silence,
            threads=args.tts_threads,
        ),
        runners=RunnerSettings(queue_limit=args.queue_limit, timeout_s=args.job_timeout),
        pipeline=PipelineSettings(
            first_clause_words=args.first_clause_words, context_timeout_s=args.context_timeout
        ),
        speculation=SpeculationSettings(
            mode=SpeculationMode(args.speculation), pause_s=args.speculation_pause
        ),
        audio_socket=AudioSocketSettings(
            host=args.audio_socket_host,
            port=args.audio_socket_port,
            max_connections=args.max_connections,
            allow=list(args.allow),
            limits=ConnectionLimits(
                auth_token=args.auth_token,
                first_frame_timeout_s=args.first_frame_timeout,
                idle_timeout_s=args.idle_timeout,
                max_requests=args.max_requests_per_connection,
                request_timeout_s=args.request_timeout,
            ),
        ),
        wyoming_uri=None if args.no_wyoming else args.uri,
        zeroconf=args.zeroconf,
        mqtt=MqttSettings(
            host=args.mqtt_host,
            port=args.mqtt_port,
            username=args.mqtt_username,
            password=args.mqtt_password,
            prefix=args.mqtt_prefix,
            server_id=args.server_id,
        ),
        routing=RoutingSettings(enabled=not args.no_ha_routing, ha_timeout_s=args.ha_timeout),
    )
