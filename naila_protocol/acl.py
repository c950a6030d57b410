"""A mosquitto ACL for NAILA: each device only its own topics, each service only what it needs.

`python -m naila_protocol.acl --device kitchen --device porch_cam > /etc/mosquitto/naila.acl`
writes one: a device user (user name = device id) may publish only its own status, signaling
answer/ICE and snapshot topics and read only its own offer, ICE, command, events, settings and
snapshot requests. The gateway, AI server and Home Assistant users get the topics their code
publishes and subscribes to (docs/security.md). Every topic comes from `Topics`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass

from naila_protocol.topics import DEFAULT_PREFIX, Topics, is_valid_device_id

ANY = "+"
UPLOAD_MEDIA = ("image", "audio", "video", "text")
HA_STATUS_TOPIC = "homeassistant/status"
"""Home Assistant's MQTT birth/will topic (the AI server watches it)."""


@dataclass(frozen=True, slots=True)
class Rights:
    """Topic filters one broker user may read (subscribe to) and write (publish to)."""

    read: tuple[str, ...]
    write: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServiceUsers:
    gateway: str = "naila_gateway"
    server: str = "naila_server"
    homeassistant: str = "homeassistant"


def device_rights(topics: Topics, device_id: str) -> Rights:
    own = topics.device
    return Rights(
        read=(
            topics.signaling_offer(device_id),
            topics.device_command(device_id),
            topics.device_events(device_id),
            topics.device_settings(device_id),
            topics.media_request(device_id),
            topics.signaling_ice(device_id),
        ),
        write=(
            own(device_id, "status"),
            topics.signaling_answer(device_id),
            topics.signaling_ice(device_id),
            topics.media_snapshot(device_id),
        ),
    )


def gateway_rights(topics: Topics) -> Rights:
    every = topics.device_wildcard
    return Rights(
        read=(
            every("status"),
            every("signaling/answer"),
            every("signaling/ice"),
            every("command"),
            every("settings"),
            topics.upload_reply(ANY),
        ),
        write=(
            topics.gateway_status,
            topics.gateway_metrics,
            every("status"),  # devices that join over HTTP (the gateway speaks for them)
            every("signaling/offer"),
            every("signaling/ice"),
            every("events"),
            every("settings"),
            *(topics.upload(ANY, media) for media in UPLOAD_MEDIA),
        ),
    )


def server_rights(topics: Topics) -> Rights:
    every = topics.device_wildcard
    return Rights(
        read=(
            every("status"),
            every("settings"),
            every("media/snapshot"),
            *(topics.upload(ANY, media) for media in UPLOAD_MEDIA),
            topics.server_media_request,
            topics.server_broadcast,
            topics.conversation_response_wildcard,
            topics.integration_status,
            HA_STATUS_TOPIC,
        ),
        write=(
            topics.server_status,
            topics.server_metrics,
            topics.server_media_response(ANY),
            every("media/request"),
            topics.alerts_wildcard,
            topics.alerts_all,
            topics.upload_reply(ANY),
            topics.conversation_request,
        ),
    )


def homeassistant_rights(topics: Topics) -> Rights:
    every = topics.device_wildcard
    return Rights(
        read=(
            topics.gateway_status,
            topics.gateway_metrics,
            topics.server_status,
            topics.server_metrics,
            every("status"),
            every("events"),
            every("settings"),
            every("media/snapshot"),
            topics.alerts_wildcard,
            topics.alerts_all,
            topics.upload_reply(ANY),
            topics.server_media_response(ANY),
            topics.conversation_request,
            "homeassistant/#",
        ),
        write=(
            every("command"),
            every("media/request"),
            every("settings"),
            *(topics.upload(ANY, media) for media in UPLOAD_MEDIA),
            topics.server_media_request,
            topics.server_broadcast,
            topics.conversation_response_wildcard,
            topics.integration_status,
            every("status"),  # an empty retained status removes a device (integration service)
            "homeassistant/#",
        ),
    )


def _block(user: str, rights: Rights) -> list[str]:
    both = [t for t in rights.read if t in rights.write]
    lines = [f"user {user}"]
    lines += [f"topic readwrite {t}" for t in both]
    lines += [f"topic read {t}" for t in rights.read if t not in both]
    lines += [f"topic write {t}" for t in rights.write if t not in both]
    return [*lines, ""]


def render_acl(
    device_ids: Iterable[str],
    *,
    prefix: str = DEFAULT_PREFIX,
    users: ServiceUsers | None = None,
) -> str:
    """The ACL file text; raises ValueError on a device id that is not one topic level."""
    topics = Topics(prefix)
    users = users or ServiceUsers()
    lines = [
        "# NAILA mosquitto ACL (naila_protocol/acl.py). Use with allow_anonymous false and",
        "# a password_file that holds one user per device (user name = device id).",
        "",
        *_block(users.gateway, gateway_rights(topics)),
        *_block(users.server, server_rights(topics)),
        *_block(users.homeassistant, homeassistant_rights(topics)),
    ]
    for device_id in device_ids:
        if not is_valid_device_id(device_id) or device_id in astuple(users):
            raise ValueError(f"{device_id!r} cannot be a device user")
        lines += _block(device_id, device_rights(topics, device_id))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m naila_protocol.acl", description="Write a mosquitto ACL for NAILA."
    )
    parser.add_argument("--device", action="append", default=[], help="a device id (repeat)")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="MQTT topic prefix")
    defaults = ServiceUsers()
    parser.add_argument("--gateway-user", default=defaults.gateway)
    parser.add_argument("--server-user", default=defaults.server)
    parser.add_argument("--homeassistant-user", default=defaults.homeassistant)
    args = parser.parse_args(argv)
    users = ServiceUsers(args.gateway_user, args.server_user, args.homeassistant_user)
    try:
        text = render_acl(args.device, prefix=args.prefix, users=users)
    except ValueError as err:
        parser.error(str(err))
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
