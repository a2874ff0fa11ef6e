"""RFC 6455 frames as a client sends them, for tests that drive the gateway's parser byte by
byte (over TCP, or directly)."""

from __future__ import annotations

import os
import struct


def client_frame(
    opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0,
    mask: bytes | None = None,
) -> bytes:
    """One frame as a client sends it (masked with ``mask``, or a random one, unless
    ``masked`` is False)."""
    first = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head = bytes((first, mask_bit | n))
    elif n < 65536:
        head = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, n)
    if not masked:
        return head + payload
    mask = os.urandom(4) if mask is None else mask
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
