"""The gateway on a locked-down broker: TLS, client certificate, password, no anonymous access."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from naila_gateway import Gateway
from naila_gateway.cli import config_from_args
from naila_protocol.mqtt import MqttLink, MqttSettings, unique_client_id
from naila_protocol.topics import Topics
from tests.conftest import Broker
from tests.protocol.tls_certs import PASSWORD, USER, Pki, make_pki, start_tls_broker


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[Broker]:
    broker = start_tls_broker(tmp_path, pki)
    yield broker
    broker.stop()


def _flags(broker: Broker, pki: Pki, *, password: str = PASSWORD) -> list[str]:
    return [
        f"--mqtt-host={broker.host}",
        f"--mqtt-port={broker.port}",
        f"--mqtt-username={USER}",
        f"--mqtt-password={password}",
        f"--mqtt-tls-ca-file={pki.ca}",
        f"--mqtt-tls-cert-file={pki.client_cert}",
        f"--mqtt-tls-key-file={pki.client_key}",
        "--gateway-id=gw-tls",
    ]


async def test_gateway_publishes_status_over_tls(tls_broker: Broker, pki: Pki) -> None:
    config = config_from_args(_flags(tls_broker, pki))
    assert config.mqtt.uses_tls
    statuses: list[dict[str, object]] = []
    seen = asyncio.Event()

    def on_status(message: object) -> None:
        statuses.append(json.loads(message.payload))  # type: ignore[attr-defined]
        seen.set()

    observer = MqttLink(
        MqttSettings(
            host=tls_broker.host,
            port=tls_broker.port,
            username=USER,
            password=PASSWORD,
            tls_ca_file=str(pki.ca),
            tls_cert_file=str(pki.client_cert),
            tls_key_file=str(pki.client_key),
        ),
        client_id=unique_client_id("observer"),
        on_message=on_status,
        subscriptions=[(Topics().gateway_status, 1)],
    )
    async with observer, Gateway(config) as gateway:
        await asyncio.wait_for(gateway.mqtt.connected.wait(), 15)
        await asyncio.wait_for(seen.wait(), 15)
    assert statuses[0]["online"] is True and statuses[0]["gateway_id"] == "gw-tls"


async def test_gateway_with_a_wrong_password_stays_disconnected(
    tls_broker: Broker, pki: Pki
) -> None:
    config = config_from_args(_flags(tls_broker, pki, password="wrong"))
    async with Gateway(config) as gateway:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(gateway.mqtt.connected.wait(), 3)
        assert gateway.mqtt.connections == 0
