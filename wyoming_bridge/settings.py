"""The AI server's settings tree: every flag, variable and default of `naila-server`."""

from __future__ import annotations

from dataclasses import dataclass, replace

from naila_protocol.mqtt import MqttSettings
from naila_protocol.settings import nested, setting
from naila_protocol.topics import DEFAULT_SERVER_ID

from .audio_socket import AudioSocketSettings
from .engines import RunnerSettings
from .llm import LlmSettings
from .pipeline import PipelineSettings
from .routing.settings import RoutingSettings
from .speculative import SpeculationSettings
from .stt import SttSettings
from .tts import TtsSettings
from .turn_detector import TurnSettings
from .vision.config import VisionConfig

DEFAULT_WYOMING_URI = "tcp://0.0.0.0:10300"
ZEROCONF_NAME = "naila"
"""Name announced by `--zeroconf` without a value."""
_WYOMING, _MQTT = "Wyoming (Home Assistant)", "MQTT"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The AI server's settings tree; defaults run the packaged models."""

    audio_socket: AudioSocketSettings = nested(AudioSocketSettings)
    speculation: SpeculationSettings = nested(SpeculationSettings)
    turn: TurnSettings = nested(TurnSettings)
    wyoming: bool = setting(
        True, env="WYOMING_ENABLED", flag="--wyoming", group=_WYOMING, help="run the Wyoming server"
    )
    wyoming_uri: str | None = setting(
        DEFAULT_WYOMING_URI,
        env="WYOMING_URI",
        flag="--uri",
        group=_WYOMING,
        help="tcp://HOST:PORT or unix://PATH (none = no Wyoming server)",
    )
    zeroconf: str | None = setting(
        None,
        env="WYOMING_ZEROCONF",
        flag="--zeroconf",
        const=ZEROCONF_NAME,
        group=_WYOMING,
        help=f"announce the Wyoming server over mDNS under this name ({ZEROCONF_NAME} if none given)",
    )
    mqtt: MqttSettings = nested(MqttSettings, host=None)
    """MQTT is optional on the server: no host, no status, metrics or vision."""
    server_id: str = setting(
        DEFAULT_SERVER_ID,
        env="SERVER_ID",
        group=_MQTT,
        help="id of this server in {prefix}/server/... topics",
    )
    stt: SttSettings = nested(SttSettings)
    llm: LlmSettings = nested(LlmSettings)
    tts: TtsSettings = nested(TtsSettings)
    pipeline: PipelineSettings = nested(PipelineSettings)
    runners: RunnerSettings = nested(RunnerSettings)
    vision: VisionConfig = nested(VisionConfig)
    routing: RoutingSettings = nested(RoutingSettings)
    """Home Assistant first for device utterances (needs MQTT and the NAILA integration)."""
    log_level: str = setting(
        "INFO", env="LOG_LEVEL", group="logging", help="DEBUG, INFO, WARNING, ..."
    )

    @property
    def wyoming_address(self) -> str | None:
        """Where the Wyoming server listens; None when it is off."""
        return self.wyoming_uri if self.wyoming else None

    @property
    def vision_config(self) -> VisionConfig:
        """Vision settings with this server's topic prefix and id."""
        return replace(self.vision, prefix=self.mqtt.prefix, server_id=self.server_id)
