"""Loopback ports for the servers the tests start (tests/servers.py: moto, OpenBao, the test Key Vault).

Each xdist worker draws from its own range, below the kernel's ephemeral ports:
two workers asking the system for "any free port" at the same moment could be
handed the same one, and a server that then failed to bind would be mistaken for
the other worker's (which answers on that port).
"""

from __future__ import annotations

import os
import random
import socket

_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_INDEX = int(_WORKER[2:]) if _WORKER[2:].isdigit() else 0
_SPAN = 2000
_BASE = 20000 + (_INDEX % 6) * _SPAN  # gw0: 20000-21999, gw1: 22000-23999, …


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, with_next: bool = False) -> int:
    """A free loopback port of this worker's range (and the one after it, when ``with_next``)."""
    for _ in range(500):
        port = random.randrange(_BASE, _BASE + _SPAN - 1)
        if _free(port) and (not with_next or _free(port + 1)):
            return port
    raise RuntimeError(f"no free loopback port in {_BASE}-{_BASE + _SPAN - 1}")
