"""Sensors from the gateway and AI server metrics."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import NailaEntity
from .hub import NailaConfigEntry, NailaHub
from .metric_keys import GatewayMetric, ServerMetric
from .models import GATEWAY, SERVER, metrics_key, status_key

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class NailaSensorEntityDescription(SensorEntityDescription):
    """A metric of the gateway or the server; `key` is the metric's JSON key.

    Headline metrics are enabled; per-stage timings and drop counters are diagnostic and
    disabled by default (enable them in the entity settings to follow a slow stage).
    """

    source: str


SENSORS: tuple[NailaSensorEntityDescription, ...] = (
    NailaSensorEntityDescription(
        key=GatewayMetric.SESSIONS,
        translation_key="sessions",
        source=GATEWAY,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    NailaSensorEntityDescription(
        key=GatewayMetric.CPU_PERCENT,
        translation_key="cpu_percent",
        source=GATEWAY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
    ),
    NailaSensorEntityDescription(
        key=GatewayMetric.UTTERANCES,
        translation_key="utterances",
        source=GATEWAY,
        state_class=SensorStateClass.TOTAL_INCREASING,
    ),
    NailaSensorEntityDescription(
        key=GatewayMetric.LAST_FIRST_AUDIO_MS,
        translation_key="last_first_audio",
        source=GATEWAY,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
    ),
    NailaSensorEntityDescription(
        key=GatewayMetric.FRAMES_DROPPED,
        translation_key="frames_dropped",
        source=GATEWAY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    NailaSensorEntityDescription(
        key=ServerMetric.ACTIVE_REQUESTS,
        translation_key="active_requests",
        source=SERVER,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    NailaSensorEntityDescription(
        key=ServerMetric.REQUESTS_TOTAL,
        translation_key="requests_total",
        source=SERVER,
        state_class=SensorStateClass.TOTAL_INCREASING,
    ),
    NailaSensorEntityDescription(
        key=ServerMetric.FIRST_AUDIO_MS,
        translation_key="first_audio",
        source=SERVER,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
    ),
    NailaSensorEntityDescription(
        key=ServerMetric.STT_MS,
        translation_key="stt_time",
        source=SERVER,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    NailaSensorEntityDescription(
        key=ServerMetric.LLM_FIRST_TOKEN_MS,
        translation_key="llm_first_token",
        source=SERVER,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NailaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the metric sensors of the gateway and the server."""
    hub = entry.runtime_data.hub
    async_add_entities(NailaMetricSensor(hub, description) for description in SENSORS)


class NailaMetricSensor(NailaEntity, SensorEntity):
    """One metric; unavailable while its publisher is offline."""

    entity_description: NailaSensorEntityDescription

    def __init__(self, hub: NailaHub, description: NailaSensorEntityDescription) -> None:
        source = description.source
        super().__init__(hub, metrics_key(source), f"{source}/{description.key}", source)
        self.entity_description = description
        self._availability_key = status_key(source)

    def _source_available(self) -> bool:
        status = self.hub.status[self.entity_description.source]
        return status is not None and status.online

    def _update_from_hub(self) -> None:
        self._handle_value(self.hub.metrics[self.entity_description.source])

    def _handle_value(self, value: dict[str, float | bool | None]) -> None:
        metric = value.get(self.entity_description.key)
        self._attr_native_value = None if isinstance(metric, bool) else metric
