"""Shared pytest configuration."""

import pytest


@pytest.fixture(autouse=True)
def _control_token_file(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``voxgate dialer run`` makes its control token file (voxgate_shared.control_token) in a
    per-test directory, never in the user's home; child processes inherit the variable."""
    path = tmp_path_factory.mktemp("control-token") / "control-token"
    monkeypatch.setenv("VOXGATE_CONTROL_TOKEN_FILE", str(path))
