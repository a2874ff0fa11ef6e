"""No module over 600 lines outside tests and benches (issue 15): a module that long has
taken a second job; split it by job, as ``dialer/campaign/store/`` and ``dialer/flows/`` are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot_adapters", "dialer", "exotel_sim", "gateway", "voxgate", "voxgate_shared")
LIMIT = 600


def test_no_module_is_over_600_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }
    assert len(sizes) > 100  # the walk found the code
    over = {name: n for name, n in sizes.items() if n > LIMIT}
    assert over == {}, f"split these by job: {over}"
