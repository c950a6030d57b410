"""Image entity per camera device: the last snapshot it sent, with its time."""

from __future__ import annotations

from homeassistant.components.image import ImageEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .entity import NailaDeviceScopedEntity
from .hub import NailaConfigEntry, NailaHub
from .models import SIGNAL_NEW_CAMERA, snapshot_key
from .payloads import Snapshot

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NailaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create a snapshot image entity for each known camera and for each new one."""
    hub = entry.runtime_data.hub
    async_add_entities(
        NailaSnapshotImage(hass, hub, device_id) for device_id in sorted(hub.cameras)
    )

    @callback
    def _add_camera(device_id: str) -> None:
        async_add_entities([NailaSnapshotImage(hass, hub, device_id)])

    entry.async_on_unload(
        async_dispatcher_connect(hass, hub.signal(SIGNAL_NEW_CAMERA), _add_camera)
    )


class NailaSnapshotImage(NailaDeviceScopedEntity, ImageEntity):
    """The last snapshot of one camera device; the state is the snapshot's time."""

    _attr_translation_key = "snapshot"

    def __init__(self, hass: HomeAssistant, hub: NailaHub, device_id: str) -> None:
        NailaDeviceScopedEntity.__init__(
            self, hub, snapshot_key(device_id), f"devices/{device_id}/snapshot", device_id
        )
        ImageEntity.__init__(self, hass)
        self._image: bytes | None = None

    def _update_from_hub(self) -> None:
        if snapshot := self.hub.snapshots.get(self._device_id):
            self._handle_value(snapshot)

    def _handle_value(self, value: Snapshot) -> None:
        self._image = value.image
        self._attr_content_type = value.content_type
        self._attr_image_last_updated = value.timestamp or dt_util.utcnow()
        self._attr_extra_state_attributes = {
            "width": value.width,
            "height": value.height,
            "request_id": value.request_id,
        }

    async def async_image(self) -> bytes | None:
        """Return the last snapshot's bytes."""
        return self._image
