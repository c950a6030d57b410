"""Settings of the gateway's HTTP side: WHIP signaling, the device page, uploads, access control."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Where the page and WHIP listen and who may use them (docs/gateway.md, "HTTP")."""

    port: int | None = None
    """Listen port: None = no HTTP side, 0 = any free port (tests); the add-on uses 8099."""
    host: str = "127.0.0.1"
    """Listen address ('0.0.0.0' for phones on the network)."""
    token: str | None = None
    """Access token for signaling, events and uploads (Bearer header, cookie or ?token=)."""
    tls_cert_file: str | None = None
    """PEM certificate: serve HTTPS (phones open the microphone only on HTTPS or localhost)."""
    tls_key_file: str | None = None
    trusted_proxy: str | None = None
    """Address of a proxy that authenticated the user already (HA ingress: 172.30.32.2)."""
    allowed_origins: tuple[str, ...] = ()
    """Origins besides the gateway's own that may POST/DELETE/PATCH (same-origin otherwise)."""
    max_sessions: int = 16
    """WebRTC sessions opened over HTTP at once."""
    request_rate: float = 2.0
    """Signaling and upload requests per second a client address may make on average."""
    request_burst: int = 20
    max_upload_bytes: int = 8 * 1024 * 1024
    upload_timeout: float = 60.0
    """Seconds an upload waits for the AI server's answer."""

    def __post_init__(self) -> None:
        if self.port is not None and not 0 <= self.port <= 65535:
            raise ValueError("HTTP_PORT must be 0-65535")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE go together")
        if self.max_sessions < 1 or self.request_burst < 1 or self.request_rate < 0:
            raise ValueError("HTTP_MAX_SESSIONS/HTTP_REQUEST_BURST >= 1, HTTP_REQUEST_RATE >= 0")
        if self.max_upload_bytes < 1024 or self.upload_timeout <= 0:
            raise ValueError("HTTP_MAX_UPLOAD_BYTES >= 1024 and HTTP_UPLOAD_TIMEOUT > 0")

    @property
    def enabled(self) -> bool:
        return self.port is not None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert_file else "http"


def _origins(text: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())


def _optional(text: str) -> str | None:
    return text or None


# field -> (environment variable, flag, parser, help)
_OPTIONS: dict[str, tuple[str, str, Callable[[str], Any], str]] = {
    "port": ("HTTP_PORT", "--http-port", int, "page/WHIP port (unset: no HTTP; 0: any free)"),
    "host": ("HTTP_HOST", "--http-host", str, "page/WHIP listen address"),
    "token": ("HTTP_TOKEN", "--http-token", _optional, "access token for signaling and uploads"),
    "tls_cert_file": ("HTTP_TLS_CERT_FILE", "--http-tls-cert-file", _optional, "PEM cert: HTTPS"),
    "tls_key_file": ("HTTP_TLS_KEY_FILE", "--http-tls-key-file", _optional, "PEM key of the cert"),
    "trusted_proxy": (
        "HTTP_TRUSTED_PROXY",
        "--http-trusted-proxy",
        _optional,
        "address of an authenticating proxy (HA ingress) that needs no token",
    ),
    "allowed_origins": (
        "HTTP_ALLOWED_ORIGINS",
        "--http-allowed-origins",
        _origins,
        "comma-separated extra origins allowed to signal (same-origin otherwise)",
    ),
    "max_sessions": ("HTTP_MAX_SESSIONS", "--http-max-sessions", int, "WHIP sessions at once"),
    "request_rate": (
        "HTTP_REQUEST_RATE",
        "--http-request-rate",
        float,
        "signaling/upload requests per second per client (0 = no limit)",
    ),
    "request_burst": ("HTTP_REQUEST_BURST", "--http-request-burst", int, "requests at once"),
    "max_upload_bytes": ("HTTP_MAX_UPLOAD_BYTES", "--http-max-upload-bytes", int, "upload size"),
    "upload_timeout": ("HTTP_UPLOAD_TIMEOUT", "--http-upload-timeout", float, "upload answer wait"),
}


HTTP_ENV_NAMES = frozenset(env for env, _, _, _ in _OPTIONS.values())
"""Every environment variable of the HTTP settings."""


def http_settings_from(values: Mapping[str, str | None]) -> HttpSettings:
    """From HTTP_* variables (unset or empty = default); ValueError names the variable."""
    parsed: dict[str, Any] = {}
    for name, (env, _, parse, _) in _OPTIONS.items():
        raw = values.get(env)
        if raw is None or raw == "":
            continue
        try:
            parsed[name] = parse(raw)
        except ValueError:
            raise ValueError(f"{env}: {raw!r} is not valid") from None
    return HttpSettings(**parsed)


def http_settings_from_env(environ: Mapping[str, str] | None = None) -> HttpSettings:
    return http_settings_from(os.environ if environ is None else environ)


def add_http_arguments(parser: argparse.ArgumentParser) -> None:
    """The 'HTTP (page, WHIP)' flag group; values keep their environment variable names."""
    defaults = HttpSettings()
    group = parser.add_argument_group("HTTP (device page, WHIP signaling, uploads)")
    for name, (env, flag, _, text) in _OPTIONS.items():
        group.add_argument(
            flag,
            dest=f"http__{env}",
            default=None,
            metavar=env,
            help=f"{text} [env {env}, default {getattr(defaults, name)!r}]",
        )


def http_settings_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> HttpSettings:
    """Environment overridden by the flags of add_http_arguments."""
    merged: dict[str, str | None] = dict(environ)
    for key, value in vars(args).items():
        if key.startswith("http__") and value is not None:
            merged[key.removeprefix("http__")] = value
    return http_settings_from(merged)


assert set(_OPTIONS) == {f.name for f in fields(HttpSettings)}
