"""``voxgate report campaign|agents`` on a campaign database (table, csv, jsonl, html; the
one-line errors) and ``voxgate campaign export``'s lead columns and formats."""

from __future__ import annotations

import csv
import io
import json
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from calling_time import daytime_zone

from dialer.campaign.model import AgentSpec, CampaignSpec, Lead, Limits
from dialer.campaign.store import AttemptResult, CampaignStore, Outcome
from voxgate.cli import main

ESCALATED = {
    "number": "+919800000001", "mode": "bot_first", "answered": True, "escalated": True,
    "escalation_reason": "dtmf", "bridged": True, "agent_id": "a1",
    "disposition": "agent_handled", "latencies": {"escalation_to_bridge": 1500.0},
    "timeline": [["dial", 0.0], ["answered", 1000.0], ["stream_started", 1200.0],
                 ["escalation_requested", 4000.0], ["agent_dialled", 4100.0],
                 ["agent_answered", 5000.0], ["bridged", 5500.0], ["bridge_ended", 50500.0]],
}
CONTAINED = {
    "number": "+919800000002", "mode": "bot_first", "answered": True,
    "disposition": "bot_completed", "hangup_reason": "entered:42",
    "timeline": [["dial", 0.0], ["answered", 1000.0], ["stream_started", 1200.0],
                 ["ended", 9000.0]],
}


@pytest.fixture
def db(store_url: str) -> str:
    """A campaign database (SQLite, then PostgreSQL: each test runs on both)."""
    store = CampaignStore(store_url)
    spec = CampaignSpec("c1", timezone=daytime_zone(), limits=Limits(wrap_up_s=15),
                        agents=(AgentSpec("a1", "+919811111111"),
                                AgentSpec("a2", "+919822222222")))
    store.create_campaign(spec, time.time())
    store.add_leads("c1", [Lead("9800000001", name="Asha"), Lead("9800000002"),
                           Lead("9800000003")], time.time())
    for body, outcome in ((ESCALATED, Outcome.ESCALATED), (CONTAINED, Outcome.COMPLETED)):
        claim = store.claim_next("c1", time.time())
        assert claim is not None
        record = {**body, "call_id": claim.call_id}
        result = AttemptResult(outcome, str(body["disposition"]), live=True,
                               escalated=bool(body.get("escalated")),
                               connected=bool(body.get("bridged")), record=record)
        store.finish_attempt(claim.call_id, result, time.time())
    store.close()
    return store_url


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class Page(HTMLParser):
    """The tags and the text of a page; fails on a script or anything fetched."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        assert tag not in ("script", "link", "img", "iframe")
        for name, value in attrs:
            assert name not in ("src", "href"), (tag, name, value)

    def handle_data(self, data: str) -> None:
        self.text.append(data.strip())


def test_campaign_report_formats(db: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, "campaign", "c1", "--db", str(db))
    assert code == 0 and "Disposition funnel" in out and "bot_containment  0.5" in out
    code, out, _ = report(capsys, "campaign", "c1", "--db", str(db), "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    funnel = {r["stage"]: r["calls"] for r in rows if r["section"] == "funnel"}
    assert (funnel["dialled"], funnel["bot_handled"], funnel["bridged"]) == (2, 2, 1)
    code, out, _ = report(capsys, "campaign", "c1", "--db", str(db), "--format", "csv")
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == ["section", "row", "column", "value"]
    assert ["rates", "escalation_rate", "value", "0.5"] in table
    page = tmp_path / "c1.html"
    code, out, _ = report(capsys, "campaign", "c1", "--db", str(db), "--format", "html",
                          "--out", str(page))
    assert code == 0 and out == f"report written to {page}\n"
    parsed = Page()
    parsed.feed(page.read_text())
    parsed.close()
    assert parsed.tags.count("svg") == 2 and parsed.tags.count("rect") >= 6
    assert "style" in parsed.tags and "bot_containment" in parsed.text
    assert "1500" in parsed.text  # the escalation_to_bridge p50


def test_agents_report_formats(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, "agents", "c1", "--db", str(db), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["agent"] for r in rows] == ["a1", "a2"]
    assert {k: rows[0][k] for k in ("calls", "talk_s", "wrap_up_s", "aht_s", "wait_p50_ms")} == {
        "calls": "1", "talk_s": "45", "wrap_up_s": "15", "aht_s": "60", "wait_p50_ms": "1500"}
    code, out, _ = report(capsys, "agents", "c1", "--db", str(db), "--format", "jsonl")
    assert [json.loads(line)["calls"] for line in out.splitlines()] == [1, 0]
    code, out, _ = report(capsys, "agents", "c1", "--db", str(db), "--format", "html")
    assert out.startswith("<!DOCTYPE html>") and "Talk time per agent" in out


@pytest.mark.parametrize("args, message", [
    (["campaign", "nope"], "no campaign named 'nope'"),
    (["people", "c1"], "unknown report 'people': campaign or agents"),
    (["campaign", "c1", "--format", "pdf"], "--format pdf: one of table, csv, jsonl, html"),
    (["campaign", "c1", "--out", "/nonexistent/r.html"],
     "--out /nonexistent/r.html: no such directory '/nonexistent'"),
])
def test_bad_input_is_one_line_and_exit_2(
    db: str, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = report(capsys, *args, "--db", str(db))
    assert (code, out, err) == (2, "", f"voxgate report: {message}\n")


def test_no_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = report(capsys, "agents", "c1", "--db", str(tmp_path / "none.db"))
    assert (code, err) == (2, f"voxgate report: no campaign database at {tmp_path}/none.db\n")


def export(db: str, out: Path, *more: str) -> int:
    return main(["campaign", "export", "c1", "--db", str(db), "--out", str(out), *more])


def test_lead_export_has_lead_id_outcomes_and_attempts(db: str, tmp_path: Path) -> None:
    assert export(db, tmp_path / "leads.csv") == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "leads.csv").read_text())))
    got = [{k: r[k] for k in ("lead_id", "attempts", "final_outcome", "bot_outcome")}
           for r in rows]
    assert got == [
        {"lead_id": "1", "attempts": "1", "final_outcome": "escalated",
         "bot_outcome": "escalated:dtmf"},
        {"lead_id": "2", "attempts": "1", "final_outcome": "completed",
         "bot_outcome": "entered:42"},
        {"lead_id": "3", "attempts": "0", "final_outcome": "", "bot_outcome": ""},
    ]


def test_jsonl_export_writes_json_lines(db: str, tmp_path: Path) -> None:
    """The bug: --out leads.jsonl wrote CSV into the file."""
    assert export(db, tmp_path / "leads.jsonl") == 0
    lines = (tmp_path / "leads.jsonl").read_text().splitlines()
    rows: list[dict[str, Any]] = [json.loads(line) for line in lines]
    assert (rows[0]["phone"], rows[0]["name"]) == ("+919800000001", "Asha")
    assert len(rows) == 3
    assert export(db, tmp_path / "attempts.out", "--format", "jsonl", "--attempts") == 0
    attempts = [json.loads(line) for line in (tmp_path / "attempts.out").read_text().splitlines()]
    assert [a["outcome"] for a in attempts] == ["escalated", "completed"]


def test_unknown_export_extension_is_refused(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export(db, tmp_path / "leads.txt") == 2
    assert capsys.readouterr().err == (
        f"voxgate campaign: --out {tmp_path}/leads.txt: unknown extension '.txt': name it .csv "
        "or .jsonl, or give --format csv|jsonl\n")
    assert not (tmp_path / "leads.txt").exists()
    assert export(db, tmp_path / "leads.txt", "--format", "csv") == 0
    assert (tmp_path / "leads.txt").read_text().startswith("phone,name")
    assert export(db, tmp_path / "leads.csv", "--format", "xml") == 2
