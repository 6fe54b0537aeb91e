"""Whether a server listens beyond this machine, and the one message (same words in the app, the CLI
and the REST server) that says what to do before opening it to others."""

from __future__ import annotations

import ipaddress

LOOPBACK = "127.0.0.1"


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; False for '' and 0.0.0.0 (every interface)."""
    host = (host or "").strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_door_message(what: str, address: str | None, fix: str) -> str:
    """`what` would listen on `address` (beyond this machine) without a login or key: why it refuses."""
    where = address or "every network interface"
    return (
        f"{what} refuses to listen on {where} without a login: anyone who reaches this machine could use it. "
        f"{fix}, or listen on {LOOPBACK} only."
    )


APP_FIX = "Add a login ([auth] in ui/.streamlit/secrets.toml or .streamlit/secrets.toml, see docs/APP.md)"
SERVE_FIX = "Create an API key (`python -m genlab serve keys add NAME` or Settings)"
