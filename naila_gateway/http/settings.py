"""Settings of the gateway's HTTP side: WHIP signaling, the device page, uploads, access control."""

from __future__ import annotations

from dataclasses import dataclass

from naila_protocol.settings import env_names, setting

_GROUP = "HTTP (device page, WHIP signaling, uploads)"


def _origins(text: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Where the page and WHIP listen and who may use them (docs/gateway.md, "HTTP")."""

    port: int | None = setting(
        None,
        env="HTTP_PORT",
        group=_GROUP,
        help="page/WHIP port (none: no HTTP side; 0: any free port; the add-on uses 8099)",
    )
    host: str = setting(
        "127.0.0.1",
        env="HTTP_HOST",
        group=_GROUP,
        help="page/WHIP listen address (0.0.0.0 for phones on the network)",
    )
    token: str | None = setting(
        None,
        env="HTTP_TOKEN",
        group=_GROUP,
        help="access token for signaling, events and uploads (Bearer header, cookie or ?token=)",
    )
    tls_cert_file: str | None = setting(
        None,
        env="HTTP_TLS_CERT_FILE",
        group=_GROUP,
        help="PEM certificate: serve HTTPS (phones open the microphone only on HTTPS)",
    )
    tls_key_file: str | None = setting(
        None, env="HTTP_TLS_KEY_FILE", group=_GROUP, help="PEM key of the certificate"
    )
    trusted_proxy: str | None = setting(
        None,
        env="HTTP_TRUSTED_PROXY",
        group=_GROUP,
        help="address of a proxy that authenticated the user already (HA ingress: 172.30.32.2)",
    )
    allowed_origins: tuple[str, ...] = setting(
        (),
        env="HTTP_ALLOWED_ORIGINS",
        group=_GROUP,
        parse=_origins,
        help="comma-separated origins besides the gateway's own that may POST/DELETE/PATCH",
    )
    max_sessions: int = setting(
        16, env="HTTP_MAX_SESSIONS", group=_GROUP, help="WebRTC sessions opened over HTTP at once"
    )
    request_rate: float = setting(
        2.0,
        env="HTTP_REQUEST_RATE",
        group=_GROUP,
        help="signaling and upload requests per second a client address may make (0 = no limit)",
    )
    request_burst: int = setting(
        20, env="HTTP_REQUEST_BURST", group=_GROUP, help="requests a client may make at once"
    )
    max_upload_bytes: int = setting(
        8 * 1024 * 1024, env="HTTP_MAX_UPLOAD_BYTES", group=_GROUP, help="largest upload"
    )
    upload_timeout: float = setting(
        60.0,
        env="HTTP_UPLOAD_TIMEOUT",
        group=_GROUP,
        help="seconds an upload waits for the AI server's answer",
    )

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


HTTP_ENV_NAMES = frozenset(env_names(HttpSettings))
"""Every environment variable of the HTTP settings."""
