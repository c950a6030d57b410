"""Run an add-on's run.sh for real in bash, with a stand-in for the Supervisor's `bashio`
functions and for the final `exec`; returns the environment the program would start with."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ADDONS = Path(__file__).parents[1] / "addons"

# bashio stand-in: option NAME is the environment variable OPT_NAME (a list: one item a line),
# service value KEY of SERVICE is SVC_SERVICE_KEY; `exec` records the command and its
# environment instead of replacing the shell.
BASHIO_SHIM = r"""
bashio::config() { local v="OPT_$1"; printf '%s' "${!v-}"; }
bashio::config.has_value() { local v="OPT_$1"; [ -n "${!v-}" ]; }
bashio::config.true() { local v="OPT_$1"; [ "${!v-}" = true ]; }
bashio::services.available() { local v="SVC_$1_host"; [ -n "${!v-}" ]; }
bashio::services() { local v="SVC_$1_$2"; printf '%s' "${!v-}"; }
bashio::discovery() { return 0; }
bashio::var.json() { echo '{}'; }
bashio::log.info() { echo "INFO: $*" >&2; }
bashio::log.warning() { echo "WARNING: $*" >&2; }
bashio::exit.nok() { echo "FATAL: $*" >&2; builtin exit 1; }
exec() { printf '%s\n' "$@" > "$EXEC_ARGS"; env > "$EXEC_ENV"; builtin exit 0; }
"""


def option_text(value: object) -> str:
    """An option as bashio prints it: lists one item a line, booleans true/false."""
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def run_addon(
    tmp: Path,
    addon: str,
    options: dict[str, object],
    token_file: Path,
    services: dict[str, dict[str, object]] | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """Run `addons/<addon>/run.sh`; return the environment it would exec the program with."""
    shim = tmp / "bashio.sh"
    shim.write_text(BASHIO_SHIM)
    exec_env, exec_args = tmp / f"{addon}.env", tmp / f"{addon}.args"
    env = {
        "PATH": os.environ["PATH"],
        "EXEC_ENV": str(exec_env),
        "EXEC_ARGS": str(exec_args),
        "NAILA_TOKEN_FILE": str(token_file),
        **{f"OPT_{key}": option_text(value) for key, value in options.items()},
        **{
            f"SVC_{service}_{key}": str(value)
            for service, values in (services or {}).items()
            for key, value in values.items()
        },
        **(extra_env or {}),
    }
    script = ADDONS / addon / "run.sh"
    done = subprocess.run(
        ["bash", "-c", f'source "{shim}"; source "{script}"'],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    lines = exec_env.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)
