"""Shared pytest configuration."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow(seconds): the test takes about this long on a quiet 2-core machine; "
        "the run starts the slowest first (pytest_collection_modifyitems)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``slow`` first, the longest first; the others after them in their
    order. With ``--dist load`` handing tests out one at a time (the Makefile), the long tests
    start at once on every worker and the short ones fill the gaps, instead of a long test
    started late running alone at the end."""

    def seconds(item: pytest.Item) -> float:
        mark = item.get_closest_marker("slow")
        return float(mark.args[0]) if mark is not None and mark.args else 0.0

    items.sort(key=lambda item: -seconds(item))


@pytest.fixture(autouse=True)
def _control_token_file(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``voxgate dialer run`` makes its control token file (voxgate_shared.control_token) in a
    per-test directory, never in the user's home; child processes inherit the variable."""
    path = tmp_path_factory.mktemp("control-token") / "control-token"
    monkeypatch.setenv("VOXGATE_CONTROL_TOKEN_FILE", str(path))


@pytest.fixture(scope="session")
def pg_server():  # type: ignore[no-untyped-def]
    """A throwaway PostgreSQL server for this test process (one per xdist worker), started on
    first use and deleted at the end (tests/pg_server.py); skipped, with how to get one, on a
    machine without PostgreSQL binaries."""
    from pg_server import PgServer, find_bindir, missing_reason

    bindir = find_bindir()
    if bindir is None:
        pytest.skip(missing_reason())
    server = PgServer(bindir)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Makes URLs of fresh, empty databases of one dialect (the test runs once per dialect):
    a SQLite file in a new temporary directory, or a new database on :func:`pg_server`."""
    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")
        return server.fresh_url
    return lambda: str(tmp_path_factory.mktemp("store") / "c.db")


@pytest.fixture
def store_url(new_store_url) -> str:  # type: ignore[no-untyped-def]
    """The URL of a fresh, empty database, on SQLite and on PostgreSQL (see
    :func:`new_store_url`)."""
    return str(new_store_url())
