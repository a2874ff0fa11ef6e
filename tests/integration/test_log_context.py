"""JSON log lines carry the call's ids (issue 16, "Operable"): a bot-first call over the
emulator, the gateway and the dialer in one process; the dialer's call runner's lines name the
call (``call_id``), the gateway's stream task's name the stream, Exotel's call sid (``leg_sid``)
and the dialer's call id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from test_dialer_flows import CUSTOMER, call, customer, stack

from voxgate_shared.logs import JsonFormatter


@contextmanager
def json_lines() -> Iterator[list[dict[str, Any]]]:
    """Every log line (DEBUG up) as parsed JSON, formatted when logged."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        lines += [json.loads(line) for line in out.getvalue().splitlines()]


async def test_a_calls_log_lines_name_the_call_and_its_stream() -> None:
    # the customer asks for a human and there is no agent: the call runner warns
    cust = customer("streaming 100", "dtmf 0", "wait 1500", "hangup")
    with json_lines() as lines:
        async with stack("http", customers={CUSTOMER: cust}) as st:
            rec = await call(st)
    mine = [line for line in lines if line.get("call_id") == rec.call_id]
    runner = [line for line in mine if line["logger"] == "dialer.runner"]
    gateway = [line for line in mine if line["logger"].startswith("gateway.")]
    assert runner and gateway, lines
    assert any("no agent" in line["message"] for line in runner), runner
    assert all(line.get("stream_sid") and line.get("leg_sid") == rec.customer_leg_sid
               for line in gateway), gateway
