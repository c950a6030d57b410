"""NAILA gateway: WebRTC audio from devices, MQTT signaling, VAD, barge-in, AI-server client.

Public API: `GatewayConfig` (settings, `from_env()`), `Gateway` (async context manager or
`await Gateway(config).run()`). CLI: `python -m naila_gateway --help`.
"""

__version__ = "0.1.0"

from naila_gateway.config import GatewayConfig
from naila_gateway.gateway import Gateway

__all__ = ["Gateway", "GatewayConfig", "__version__"]
