"""The vision service: builds its jobs and hands each only what it needs (docs/architecture.md).

MQTT dispatch `dispatch.py`, uploads `uploads.py`, snapshots `snapshots.py`, camera frames
`frames.py`, alerts `alerts.py`, stored media by id `media_fetch.py`, the visual context of a
spoken question `sources.py`; their tasks are owned by one `JobPool` (`jobs.py`).
"""

from __future__ import annotations

import asyncio
import logging

from naila_protocol.mqtt import MqttLink, MqttSettings, unique_client_id
from naila_protocol.topics import Topics

from .alerts import AlertDebouncer, AlertPublisher
from .analysis import Analyzer
from .config import VisionConfig
from .devices import DeviceRegistry
from .dispatch import VisionDispatch
from .frames import CameraFrames
from .jobs import JobPool
from .link import VisionLink
from .live import Attachments, LiveFrames
from .media_fetch import MediaFetch
from .snapshots import Snapshots, SnapshotTimeoutError
from .sources import VisualContextSources
from .store import MediaStore
from .uploads import Answerer, Transcriber, Uploads

__all__ = ["Answerer", "SnapshotTimeoutError", "Transcriber", "VisionService"]

_LOGGER = logging.getLogger(__name__)
RETENTION_EVERY = 3600.0
"""Seconds between age-based retention passes of the media store."""


class VisionService:
    """One per AI server; several servers split uploads via a shared subscription group."""

    def __init__(
        self,
        config: VisionConfig,
        analyzer: Analyzer,
        *,
        store: MediaStore | None = None,
        transcriber: Transcriber | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        self.config = config
        self.analyzer = analyzer
        self.store = store
        self.topics = topics = Topics(config.prefix)
        self.devices = devices = DeviceRegistry(config.zones)
        self.live = LiveFrames(config.live_frame_max_age)
        self.attachments = Attachments(config.attachment_max_age)
        self.ready = asyncio.Event()
        self.stats: dict[str, int] = {"uploads": 0, "snapshots": 0, "frames": 0, "alerts": 0}
        self.jobs = JobPool()
        self.link = VisionLink()
        publish = self.link.publish
        self.alerts = AlertPublisher(
            debouncer=AlertDebouncer(config.alert_cooldown, config.alert_clear_after),
            alert_classes=config.alert_classes,
            topics=topics,
            publish=publish,
            devices=devices,
            store=store if config.store_alerts else None,
            stats=self.stats,
        )
        self.frames = CameraFrames(
            config=config,
            analyzer=analyzer,
            live=self.live,
            alerts=self.alerts,
            jobs=self.jobs,
            stats=self.stats,
        )
        self.snapshots = Snapshots(
            config=config,
            topics=topics,
            link=self.link,
            analyzer=analyzer,
            devices=devices,
            store=store,
            stats=self.stats,
        )
        self.sources = VisualContextSources(
            config=config,
            analyzer=analyzer,
            devices=devices,
            live=self.live,
            attachments=self.attachments,
            snapshots=self.snapshots,
            store=store,
        )
        self.uploads = Uploads(
            config=config,
            analyzer=analyzer,
            topics=topics,
            publish=publish,
            attachments=self.attachments,
            context_text=self.sources.context_text,
            stats=self.stats,
            store=store,
            transcriber=transcriber,
            answerer=answerer,
        )
        self.dispatch = VisionDispatch(
            topics=topics,
            share_group=config.share_group,
            jobs=self.jobs,
            devices=devices,
            snapshots=self.snapshots,
            frames=self.frames,
            uploads=self.uploads,
            media=MediaFetch(store, topics, publish),
        )
        self._retention_started = False
        # The hooks the server, the pipeline and the audio socket call.
        self.on_message = self.dispatch.on_message
        self.context_provider = self.sources.context_text
        self.video_frame_handler = self.frames.video_frame_handler
        self.handle_video_frame = self.frames.handle_video_frame
        self.request_snapshot = self.snapshots.request
        self.snapshot_context = self.snapshots.context

    @property
    def subscriptions(self) -> list[tuple[str, int]]:
        return self.dispatch.subscriptions

    def bind(self, link: MqttLink) -> None:
        """Use the process's MQTT link (MQTT 5, `subscriptions`, `on_message`, `on_link_state`)."""
        self.link.link = link

    def on_link_state(self, up: bool) -> None:
        """MqttLink state callback: `ready` while subscribed."""
        if up:
            _LOGGER.info("vision service subscribed (group %s)", self.config.share_group)
            self.ready.set()
        else:
            self.ready.clear()

    def start(self) -> None:
        """Start the background jobs (media retention) of a bound service."""
        if self.store is not None and not self._retention_started:
            self._retention_started = True
            self.jobs.spawn_background(_retention_loop(self.store, RETENTION_EVERY))

    async def run(
        self,
        hostname: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        reconnect_delay: float = 2.0,
    ) -> None:
        """Serve on a link of its own until cancelled (a vision-only process, tests)."""
        settings = MqttSettings(host=hostname, port=port, username=username, password=password)
        link = MqttLink(
            settings,
            client_id=unique_client_id(f"naila-vision-{self.config.server_id}"),
            on_message=self.on_message,
            on_state=self.on_link_state,
            subscriptions=self.subscriptions,
            mqtt5=True,
            backoff_initial=reconnect_delay / 4,
            backoff_max=reconnect_delay,
        )
        self.bind(link)
        self.start()
        try:
            await link.run()
        finally:
            self.link.link = None

    async def close(self) -> None:
        await self.jobs.close()

    async def release(self) -> None:
        """After close(): free the detector models and the media store."""
        self.analyzer.close()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)


async def _retention_loop(store: MediaStore, every: float) -> None:
    """Age-based retention also runs when nothing new is stored."""
    while True:
        try:
            await asyncio.to_thread(store.enforce_retention)
        except Exception:
            _LOGGER.exception("media retention failed")
        await asyncio.sleep(every)
