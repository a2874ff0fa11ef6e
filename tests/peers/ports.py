"""A port for a child process that must be told it before it starts (the gateway and the dialer
each name the other's address on their command line, so one of them cannot bind port 0), or one
where nobody listens (an unreachable bot).

The port comes from below the kernel's ephemeral range: ``bind(0)`` there, then closing the socket,
left the port free for any outgoing connection of a test running beside this one (pytest-xdist
workers) to be given by the kernel before the child bound it. Servers the test starts itself bind
port 0 and read the port back instead.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST = 20000


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port on 127.0.0.1 that nothing holds now and the kernel does not hand out on its own."""
    top = max(_ephemeral_start(), LOWEST + 1000)
    for _ in range(200):
        port = random.randrange(LOWEST, top)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {LOWEST}..{top}")
