"""The dashboard's call search (dialer/web/calls_query.py) on a records store: filters, paging,
bad values, and that each filter is answered through an index of records-store migration 3
(SQLite's query plan; before it the campaign was only inside the JSON body and every search
scanned the table). And the recording proxy's rule for Exotel's credentials
(dialer/web/calls_recording.py): sent only to Exotel's hosts, over real sockets."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dialer.records import CallRecord, RecordStore
from dialer.web.calls_query import CallQuery, QueryError, page_sql, search
from dialer.web.calls_recording import RecordingProxy, allowed


def store_with(where: Path | str, n: int = 30) -> RecordStore:
    store = RecordStore(where / "r.db" if isinstance(where, Path) else where)
    for i in range(n):
        store.save(CallRecord(f"c{i:03d}", f"+91990000{i % 3}{i:03d}", "bot_first",
                              disposition="completed" if i % 2 else "no_answer",
                              agent_id="a1" if i % 5 == 0 else "",
                              custom={"campaign": "even" if i % 2 == 0 else "odd"}))
    return store


def ids(store: RecordStore, **query: str) -> list[str]:
    return [r.call_id for _, r in search(store, CallQuery.parse(query)).rows]


def test_filters_and_pages(store_url: str) -> None:
    store = store_with(store_url)  # SQLite and PostgreSQL
    try:
        assert len(ids(store, campaign="even", per="200")) == 15
        assert set(ids(store, campaign="odd", disposition="completed", per="200")) == {
            f"c{i:03d}" for i in range(1, 30, 2)}
        assert ids(store, agent="a1", per="200") == [f"c{i:03d}" for i in (25, 20, 15, 10, 5, 0)]
        assert ids(store, number="+919900001") == [f"c{i:03d}" for i in (28, 25, 22, 19, 16,
                                                                          13, 10, 7, 4, 1)]
        assert ids(store, number="+919900001004") == ["c004"]
        assert ids(store, call_id="c007") == ["c007"]
        pages = [search(store, CallQuery(per=12, page=p)) for p in (1, 2, 3)]
        assert [len(p.rows) for p in pages] == [12, 12, 6]
        assert [p.more for p in pages] == [True, True, False]
        seen = [r.call_id for p in pages for _, r in p.rows]
        assert seen == [f"c{i:03d}" for i in range(29, -1, -1)]  # newest first, each once
        now = time.time()
        assert len(search(store, CallQuery(since=now - 60, until=now + 60, per=200)).rows) == 30
        assert search(store, CallQuery(since=now + 60)).rows == []
    finally:
        store.close()


@pytest.mark.parametrize(("query", "field"), [
    ({"from": "yesterday"}, "from"), ({"to": "2026-13-01"}, "to"), ({"page": "0"}, "page"),
    ({"per": "1000"}, "per"), ({"per": "x"}, "per"), ({"number": "9" * 200}, "number")])
def test_bad_values_name_the_field(query: dict[str, str], field: str) -> None:
    with pytest.raises(QueryError, match=f"^{field}: "):
        CallQuery.parse(query)


def test_a_date_range_and_its_links() -> None:
    q = CallQuery.parse({"from": "2026-12-01", "to": "2026-12-01", "campaign": "c"})
    assert q.until is not None and q.since is not None and q.until - q.since == 86400
    assert q.params(page=2) == {"campaign": "c", "from": "2026-12-01T00:00",
                                "to": "2026-12-02T00:00", "page": "2"}
    assert CallQuery.parse(q.params()) == q


@pytest.mark.parametrize("query", [
    {"campaign": "even"}, {"number": "+9199"}, {"agent": "a1"}, {"disposition": "completed"},
    {"from": "2026-12-01"}, {}])
def test_every_filter_uses_an_index(tmp_path: Path, query: dict[str, str]) -> None:
    store = store_with(tmp_path, 3)
    try:
        sql, args = page_sql(CallQuery.parse(query))
        with store.db.connection() as conn:
            details = [str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args)]
        # the page's ids from the filter's index alone, then only their rows
        assert any("USING COVERING INDEX call_records_" in d for d in details), details
        assert "SCAN call_records" not in details, details  # the table read whole
    finally:
        store.close()


def test_a_store_from_before_gets_its_campaign_column(tmp_path: Path) -> None:
    store = store_with(tmp_path, 4)
    with store.db.connection() as conn:  # as version 2 left it: no campaign column filled
        for name in ("created", "campaign", "number", "agent", "disposition"):
            conn.execute(f"DROP INDEX call_records_{name}")
        conn.execute("DELETE FROM schema_migrations WHERE component = 'records' AND version = 3")
        conn.execute("ALTER TABLE call_records DROP COLUMN campaign")
    store.close()
    store = RecordStore(tmp_path / "r.db")
    try:
        assert ids(store, campaign="even") == ["c002", "c000"]
    finally:
        store.close()


def test_allowed_hosts() -> None:
    api = "http://127.0.0.1:4000/v2/accounts/AC1"
    assert allowed("http://127.0.0.1:4000/sim/recordings/r1.wav", api)
    assert not allowed("http://127.0.0.1:4001/r1.wav", api)  # another port: another server
    assert not allowed("http://evil.example/r.wav", api)
    assert allowed("https://recordings.exotel.com/a/b.wav", api)
    assert not allowed("http://recordings.exotel.com/a/b.wav", api)  # never in clear text
    assert not allowed("https://exotel.com.evil.example/b.wav", api)
    assert not allowed("file:///etc/passwd", api)


async def test_credentials_go_to_the_api_host_only() -> None:
    """The recording server gets the account's Basic credentials when it is the API's origin;
    the same server named otherwise (``localhost``) is not fetched at all."""
    seen: list[str] = []

    async def wav(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.Response(body=b"RIFF....WAVEdata", content_type="audio/wav")

    exotel = web.Application()
    exotel.router.add_get("/rec.wav", wav)
    async with TestServer(exotel, host="127.0.0.1") as upstream:
        base = f"http://127.0.0.1:{upstream.port}"
        proxy = RecordingProxy(f"{base}/v2/accounts/AC1", "key1", "tok1")

        async def front(request: web.Request) -> web.StreamResponse:
            host = "127.0.0.1" if request.match_info["which"] == "api" else "localhost"
            return await proxy.stream(request, "c1", f"http://{host}:{upstream.port}/rec.wav")

        app = web.Application()
        app.router.add_get("/r/{which}", front)
        app.on_cleanup.append(proxy.close)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            r = await client.get("/r/api")
            assert r.status == 200 and await r.read() == b"RIFF....WAVEdata"
            assert seen == ["Basic " + base64.b64encode(b"key1:tok1").decode()]
            r = await client.get("/r/other")
            assert r.status == 502 and "Exotel host" in (await r.json())["error"]
            assert len(seen) == 1 and proxy.refused == 1
