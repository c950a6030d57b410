"""Simulated NAILA voice device (a Python aiortc peer signaling over MQTT like a real device).

Public API: `SimDevice`, `SimDeviceConfig`, `Turn`; speech sources in `naila_sim.audio`
(`load_wav`, `load_pcm`, `speak_text`, `tone`); `loopback_host_addresses()` for
loopback-only runs. CLI: `python -m naila_sim --help`.
"""

from naila_sim.audio import load_pcm, load_wav, speak_text, tone
from naila_sim.device import SimDevice, SimDeviceConfig, Turn
from naila_sim.loopback import loopback_host_addresses

__all__ = [
    "SimDevice",
    "SimDeviceConfig",
    "Turn",
    "load_pcm",
    "load_wav",
    "loopback_host_addresses",
    "speak_text",
    "tone",
]
