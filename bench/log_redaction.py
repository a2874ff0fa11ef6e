"""What log redaction (voxgate_shared.redact.RedactingFilter) adds to a log record, per line kind.

    .venv/bin/python bench/log_redaction.py [N]

Prints, for typical lines (a stream start, a websockets DEBUG header and frame line, the
dialer's settings line), the microseconds the filter adds to building and formatting the record.
"""

from __future__ import annotations

import logging
import sys
import time

from voxgate_shared.redact import RedactingFilter, SecretRegistry

LINES: list[tuple[str, tuple[object, ...]]] = [
    ("stream %s: call %s started (mulaw 8000 Hz) with adapter echo at 8000 Hz",
     ("MZ43f48fdbf9bdd0ad739b135b36d4cd", "6ff28f02eac3725acba87c0c3dfbc58b")),
    ("< %s: %s", ("Authorization", "Basic dm94Omd3LXBhc3N3MHJkLVhrMg==")),
    ("> TEXT %r [%d bytes]", ('{"event":"media","stream_sid":"MZ43f4...//w=="}}', 304)),
    ("dialer settings: %s", ({"stream_url": "wss://u:p@gw.example.com", "crm_secret": "<set>",
                              "api_token": "<set>", "hold_loops": 10, "greeting_text": "x" * 40},)),
]


def per_record_us(
    msg: str, args: tuple[object, ...], n: int, filt: RedactingFilter | None
) -> float:
    start = time.perf_counter()
    for _ in range(n):
        record = logging.LogRecord("bench", logging.INFO, __file__, 1, msg, args, None)
        if filt is None:
            record.getMessage()
        else:
            filt.filter(record)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    registry = SecretRegistry()
    registry.add("ctl-t0ken-Pz4", "gw-passw0rd-Xk2", "exotel-api-t0ken-7Hq", "crm-s3cret-Vb8")
    filt = RedactingFilter(registry)
    print(f"{'line':32} {'record':>10} {'+filter':>10}   ({n} records each)")
    for msg, args in LINES:
        base = per_record_us(msg, args, n, None)
        with_filter = per_record_us(msg, args, n, filt)
        print(f"{msg[:30]!r:32} {base:8.1f}us {with_filter - base:+8.1f}us")


if __name__ == "__main__":
    main()
