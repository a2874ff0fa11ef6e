"""The compiled gateway core's guard: stale binaries are refused, fresh ones reported."""

from __future__ import annotations

import os
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import gateway
import gateway.session


def _pair(tmp_path: Path, name: str, source_mtime: float, binary_mtime: float) -> None:
    source, binary = tmp_path / f"{name}.py", tmp_path / f"{name}{EXTENSION_SUFFIXES[0]}"
    source.write_text("x = 1\n")
    binary.write_bytes(b"\0")
    os.utime(source, (source_mtime, source_mtime))
    os.utime(binary, (binary_mtime, binary_mtime))


def test_no_binaries_means_pure_python(tmp_path: Path) -> None:
    (tmp_path / "session.py").write_text("x = 1\n")
    assert gateway.compiled_modules(tmp_path) == []


def test_fresh_binaries_are_reported_in_the_listed_order(tmp_path: Path) -> None:
    _pair(tmp_path, "vad", 1000, 2000)
    _pair(tmp_path, "session", 1000, 2000)
    _pair(tmp_path, "metrics", 1000, 2000)  # not a hot module: never reported
    assert gateway.compiled_modules(tmp_path) == ["session", "vad"]


def test_a_binary_older_than_its_source_is_refused_with_the_fix(tmp_path: Path) -> None:
    _pair(tmp_path, "vad", 1000, 2000)
    _pair(tmp_path, "wire", 3000, 2000)
    with pytest.raises(ImportError, match=r"wire\.py changed.*make fast.*make pure"):
        gateway.compiled_modules(tmp_path)


def test_the_running_package_reports_its_core() -> None:
    assert gateway.CORE == ("compiled (mypyc)" if gateway.compiled_modules() else "pure Python")
    # `make test-pure` runs the gateway's tests on a copy without binaries and says so here
    expected = os.environ.get("VOXGATE_EXPECT_CORE")
    if expected:
        assert gateway.CORE == expected
    if gateway.CORE == "pure Python":
        assert not any(gateway.session.__file__.endswith(s) for s in EXTENSION_SUFFIXES)
