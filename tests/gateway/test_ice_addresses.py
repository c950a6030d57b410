"""WEBRTC_ICE_ADDRESSES: parsing, matching, and the host candidates a real offer carries."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

from naila_gateway import GatewayConfig
from naila_gateway.cli import config_from_args
from naila_gateway.ice_addresses import IceAddressSelection, selected_addresses

AVAILABLE = [
    ("lo", "127.0.0.1"),
    ("eth0", "192.168.1.5"),
    ("docker0", "172.17.0.1"),
    ("wg0", "10.8.0.2"),
    ("eth0", "fd00::5"),
]


@pytest.mark.parametrize(
    ("entries", "ipv6", "expected"),
    [
        (["eth0"], True, ["192.168.1.5", "fd00::5"]),
        (["eth0"], False, ["192.168.1.5"]),
        (["192.168.1.0/24", "10.8.0.2"], True, ["192.168.1.5", "10.8.0.2"]),
        (["127.0.0.1"], True, ["127.0.0.1"]),
        (["fd00::/8"], True, ["fd00::5"]),
        (["10.0.0.0/8", "wg0"], True, ["10.8.0.2"]),
        (["eth1"], True, []),
    ],
)
def test_selection(entries: list[str], ipv6: bool, expected: list[str]) -> None:
    selection = IceAddressSelection.parse(entries)
    assert selected_addresses(selection, True, ipv6, AVAILABLE) == expected


@pytest.mark.parametrize("entry", ["300.1.1.1", "10.0.0.0/33", "eth 0", "a;b", "x" * 40])
def test_bad_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="WEBRTC_ICE_ADDRESSES"):
        IceAddressSelection.parse([entry])


def test_env_flag_and_validation(capsys: pytest.CaptureFixture[str]) -> None:
    config = GatewayConfig.from_env({"WEBRTC_ICE_ADDRESSES": "eth0, 10.0.0.0/8"})
    assert config.ice_addresses == ["eth0", "10.0.0.0/8"]
    assert not GatewayConfig().ice_selection  # empty: every address (aioice's own choice)
    assert config_from_args(["--ice-addresses", "127.0.0.1"]).ice_addresses == ["127.0.0.1"]
    with pytest.raises(SystemExit):
        config_from_args(["--ice-addresses", "999.1.1.1"])
    assert "WEBRTC_ICE_ADDRESSES" in capsys.readouterr().err


_GATHER = textwrap.dedent(
    """
    import asyncio, sys
    from aiortc import RTCConfiguration, RTCPeerConnection
    from naila_gateway.ice_addresses import IceAddressFilter, IceAddressSelection

    async def offer_hosts(entries):
        chosen = IceAddressFilter(IceAddressSelection.parse(entries))
        chosen.install()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            pc.addTransceiver("audio")
            await pc.setLocalDescription(await pc.createOffer())
            lines = pc.localDescription.sdp.splitlines()
            return sorted({l.split()[4] for l in lines if l.startswith("a=candidate:")})
        finally:
            await pc.close()
            chosen.uninstall()

    for spec in sys.argv[1:]:
        print(spec, asyncio.run(offer_hosts(spec.split(","))))
    """
)


@pytest.mark.skipif(
    shutil.which("unshare") is None or shutil.which("ip") is None, reason="no unshare/ip"
)
def test_offer_carries_only_the_selected_addresses_in_a_private_namespace() -> None:
    """Its own network namespace (loopback only) with two extra addresses on lo."""
    script = (
        "ip link set lo up && ip addr add 198.18.0.1/32 dev lo && "
        "ip addr add 198.18.0.2/32 dev lo && "
        f'exec "{sys.executable}" -c "$0" 198.18.0.2 198.18.0.0/24 127.0.0.1 lo'
    )
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", script, _GATHER],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["198.18.0.2"] == "['198.18.0.2']"
    assert lines["198.18.0.0/24"] == "['198.18.0.1', '198.18.0.2']"
    assert lines["127.0.0.1"] == "['127.0.0.1']"
    assert lines["lo"] == "['127.0.0.1', '198.18.0.1', '198.18.0.2', '::1']"
