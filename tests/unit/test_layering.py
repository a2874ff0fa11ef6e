"""The layers of docs/architecture.md, enforced by walking every module's imports (``ast``).

Every ``import`` counts: at module level, inside functions and under ``TYPE_CHECKING`` (a
type-only import still ties one part to another). The rules:

(a) A pure core (the Makefile's ``STRICT`` list, plus :data:`PURE_EXTRA`) imports no I/O or
    concurrency: none of :data:`IMPURE_MODULES` (asyncio, sockets, TLS, SQLite, HTTP and gRPC
    stacks, processes, ``os``/``shutil``/``tempfile`` file access), never calls ``open()``, and
    never reads the clock. The clock rule: ``time.time``, ``time.monotonic`` and the other
    readers (:data:`CLOCK_READERS`), ``time.sleep``, ``datetime.now``/``utcnow``/``today`` and
    ``date.today`` may appear in a pure core only as a *parameter's default value*
    (``clock: Callable[[], float] = time.monotonic``): the driver passes its clock, a test
    passes a fake one, and nothing in the core reads the time by itself. Converting a time
    it was given (``time.gmtime(t)``, ``datetime.fromtimestamp(t, tz)``) is pure, and so is
    drawing random numbers (``random``, ``secrets``). Only a module's own import lines are
    checked: a pure core may use a driver's types (under ``TYPE_CHECKING``) or values it is
    handed, never open one itself. The Makefile's STRICT list is about typing: the drivers in
    it are named in :data:`STRICT_DRIVERS`.
(b) ``dialer`` imports neither ``gateway`` nor ``exotel_sim``: what the planes share is in
    ``voxgate_shared``; running the dialer on an embedded emulator is the composition root's job.
(c) No part below the composition root (``gateway``, ``bot_adapters``, ``dialer``,
    ``exotel_sim``, ``voxgate_shared``) imports ``voxgate``; ``voxgate_shared`` imports none of
    the parts but ``bot_adapters.contract``.
(d) No import cycle between modules.
(e) ``bot_adapters`` imports from ``gateway`` only its pure cores: the fake call
    (``bot_adapters.testing``) runs the gateway's own playout model (``gateway.playout``,
    ``gateway.chunker``), never its asyncio drivers.

Known exceptions are listed in :data:`EXCEPTIONS`, each named and explained; a listed exception
that no longer happens fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("gateway", "bot_adapters", "dialer", "exotel_sim", "voxgate", "voxgate_shared")
BELOW_ROOT = ("gateway", "bot_adapters", "dialer", "exotel_sim", "voxgate_shared")

PURE_EXTRA: tuple[str, ...] = ()
"""Modules held to rule (a) that are not (yet) in the Makefile's STRICT list."""

STRICT_DRIVERS: dict[str, str] = {
    "bot_adapters.testing": "FakeCall runs an adapter's async hooks: a test driver",
    "dialer.campaign.store": "the campaign store, SQLite or PostgreSQL (every module of it)",
    "dialer.db": "the dialect layer: SQLite and PostgreSQL connections, migrations, db CLI",
    "dialer.campaign.service_runs": "the service's table of started campaigns, in SQLite",
    "dialer.private_files": "its job is files: databases and exports made 0600",
    "dialer.signals": "its job is SIGINT/SIGTERM on the event loop",
    "gateway.batching": "the event loop's batcher of per-stream work",
    "gateway.control": "the gateway's HTTP client of the control API (aiohttp)",
}
"""Modules the Makefile checks with ``mypy --strict`` that are drivers by design, not pure
cores (the STRICT list is about typing; everything else in it is held to rule (a)). A module
named here covers its submodules."""

PURE_HELPERS = frozenset({"websockets.utils", "websockets.speedups"})
"""Pure functions of I/O libraries a pure core may import (the WebSocket XOR mask)."""

IMPURE_MODULES = frozenset({
    "asyncio", "socket", "ssl", "selectors", "sqlite3", "aiohttp", "grpc", "websockets",
    "httpx", "uvloop", "urllib.request", "http.client", "http.server", "subprocess",
    "multiprocessing", "os", "shutil", "tempfile", "signal",
})
CLOCK_READERS = frozenset({
    "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
    "process_time", "sleep",
})
DATETIME_READERS = frozenset({"now", "utcnow", "today"})
NEEDS_ARGUMENT = frozenset({"localtime", "gmtime", "ctime", "asctime"})  # () reads the clock

EXCEPTIONS: dict[str, str] = {}
"""Known violations, a ``fnmatch`` pattern of ``"rule: detail"`` -> why it is still there."""


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported (the longest known prefix for our own modules)
    line: int


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for part in PARTS:
        for path in sorted((ROOT / part).rglob("*.py")):
            if "_pb2" not in path.name:
                found[_module_name(path)] = path
    return found


MODULES = _modules()


class _Trees(dict[str, ast.Module]):
    """Each module's syntax tree, parsed when first asked for (not at collection: every test
    process collects this file, and parsing the whole tree costs a second)."""

    def __missing__(self, name: str) -> ast.Module:
        tree = self[name] = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
        return tree


TREES = _Trees()


def _ours(name: str) -> str:
    """``name``, or the longest prefix of it that is one of our modules."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return name


@functools.cache
def imports_of(module: str) -> tuple[Import, ...]:
    """Every import in ``module``, resolved (relative imports too)."""
    return tuple(_imports(module))


def _imports(module: str) -> Iterator[Import]:
    is_package = MODULES[module].name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, _ours(alias.name), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                full = f"{source}.{alias.name}"
                yield Import(module, _ours(full if full in MODULES else source), node.lineno)


def _pure_cores() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"^STRICT := \$\(wildcard (.*?)\)$", text, re.MULTILINE)
    assert match, "the Makefile's STRICT list is gone"
    cores = set(PURE_EXTRA)
    for entry in match.group(1).split():
        path = ROOT / entry
        paths = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []
        cores.update(_module_name(p) for p in paths)
    return sorted(m for m in cores if not any(
        m == d or m.startswith(d + ".") for d in STRICT_DRIVERS))


PURE_CORES = _pure_cores()


def _parameter_defaults(tree: ast.AST) -> set[int]:
    """ids of the expression nodes that are (inside) a parameter's default value."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    inside.update(id(n) for n in ast.walk(default))
    return inside


def _clock_aliases(tree: ast.AST) -> tuple[set[str], set[str], set[str]]:
    """Local names bound to the ``time`` module, to a clock reader, to ``datetime``/``date``."""
    time_mods, readers, date_types = {"time"}, set(), {"datetime", "date"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "time":
                    time_mods.add(a.asname or a.name)
        elif isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
            for a in node.names:
                if node.module == "time" and a.name in CLOCK_READERS | NEEDS_ARGUMENT:
                    readers.add(a.asname or a.name)
                elif node.module == "datetime" and a.name in ("datetime", "date"):
                    date_types.add(a.asname or a.name)
    return time_mods, readers, date_types


def purity_violations(module: str) -> Iterator[str]:
    """Rule (a) for one module: ``"a: module imports X"``, ``"a: module reads the clock"`` ..."""
    for imp in imports_of(module):
        top = imp.target.split(".")[0]
        if imp.target in PURE_HELPERS:
            continue
        if imp.target in IMPURE_MODULES or top in IMPURE_MODULES or any(
            imp.target.startswith(m + ".") for m in IMPURE_MODULES
        ):
            yield f"a: {module} imports {imp.target}"
    tree = TREES[module]
    defaults = _parameter_defaults(tree)
    time_mods, readers, date_types = _clock_aliases(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "open":
            yield f"a: {module} calls open()"
        if id(node) in defaults:
            continue
        name = ""
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner, attr = node.value.id, node.attr
            if owner in time_mods and attr in CLOCK_READERS:
                name = f"time.{attr}"
            elif owner in date_types and attr in DATETIME_READERS:
                name = f"{owner}.{attr}"
        elif isinstance(node, ast.Name) and node.id in readers and node.id not in NEEDS_ARGUMENT:
            name = node.id
        if isinstance(node, ast.Call) and not node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(
                func.value, ast.Name) else ""
            if called in NEEDS_ARGUMENT and (owner in time_mods or called in readers):
                name = f"time.{called}()"
        if name:
            yield f"a: {module} reads the clock ({name})"


def direction_violations(module: str) -> Iterator[str]:
    """Rules (b), (c) and (e) for one module."""
    part = module.split(".")[0]
    for imp in imports_of(module):
        target_part = imp.target.split(".")[0]
        if part == "dialer" and target_part in ("gateway", "exotel_sim"):
            yield f"b: {module} imports {imp.target}"
        if part in BELOW_ROOT and target_part == "voxgate":
            yield f"c: {module} imports {imp.target}"
        if part == "bot_adapters" and target_part == "gateway" and imp.target not in PURE_CORES:
            yield f"e: {module} imports {imp.target}"
        if part == "voxgate_shared" and target_part in PARTS and target_part != part \
                and imp.target != "bot_adapters.contract":
            yield f"c: {module} imports {imp.target}"


def import_cycles() -> list[list[str]]:
    """The strongly connected components (more than one module) of the import graph."""
    graph = {m: sorted({i.target for i in imports_of(m) if i.target in MODULES} - {m})
             for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, iterative
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = graph[node]
            if i < len(targets):
                work.append((node, i + 1))
                nxt = targets[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])

    for module in graph:
        if module not in index:
            visit(module)
    return sorted(found)


@functools.cache
def all_violations() -> list[str]:
    found = [v for m in PURE_CORES if m in MODULES for v in purity_violations(m)]
    found += [v for m in MODULES for v in direction_violations(m)]
    found += ["d: " + " <-> ".join(c) for c in import_cycles()]
    return sorted(set(found))


def _excused(violation: str) -> bool:
    return any(fnmatch.fnmatchcase(violation, pattern) for pattern in EXCEPTIONS)


def test_the_layers_hold() -> None:
    found = all_violations()
    unexplained = [v for v in found if not _excused(v)]
    assert not unexplained, "layering broken (docs/architecture.md, Layers):\n" + "\n".join(
        unexplained)
    gone = [p for p in EXCEPTIONS if not any(fnmatch.fnmatchcase(v, p) for v in found)]
    if gone:  # a warning, not a failure: the fix may land in another change first
        warnings.warn("fixed, so take them off EXCEPTIONS: " + ", ".join(gone), stacklevel=1)


def test_the_pure_cores_are_found() -> None:
    assert {"gateway.protocol", "gateway.frames", "dialer.campaign.inputs",
            "dialer.campaign.check", "voxgate_shared.control"} <= set(PURE_CORES)
    assert "dialer.campaign.store.sqlite" not in PURE_CORES  # a driver (STRICT_DRIVERS)
    assert all(m in MODULES for m in PURE_CORES), "a STRICT entry names no module"


@pytest.mark.parametrize(("source", "expected"), [
    ("import asyncio\n", ["a: m imports asyncio"]),
    ("from os import path\n", ["a: m imports os"]),
    ("import time\nx = time.monotonic()\n", ["a: m reads the clock (time.monotonic)"]),
    ("from time import time\nx = time()\n", ["a: m reads the clock (time)"]),
    ("from datetime import datetime\nx = datetime.now()\n",
     ["a: m reads the clock (datetime.now)"]),
    ("import time\nx = time.localtime()\n", ["a: m reads the clock (time.localtime())"]),
    ("import time\ndef f(clock=time.monotonic):\n    return clock()\n", []),
    ("import time\ndef f(t: float):\n    return time.gmtime(t)\n", []),
    ("x = open('f').read()\n", ["a: m calls open()"]),
])
def test_the_purity_rule_on_small_sources(source: str, expected: list[str]) -> None:
    MODULES["m"] = ROOT / "m.py"
    TREES["m"] = ast.parse(source)
    imports_of.cache_clear()
    try:
        assert sorted(set(purity_violations("m"))) == expected
    finally:
        del MODULES["m"], TREES["m"]
        imports_of.cache_clear()


@pytest.mark.parametrize(("source", "expected"), [
    ("from gateway.playout import Playout\n", []),
    ("from gateway.connection import StreamCallControl\n",
     ["e: bot_adapters.m imports gateway.connection"]),
])
def test_bot_adapters_take_only_the_gateways_pure_cores(source: str, expected: list[str]) -> None:
    MODULES["bot_adapters.m"] = ROOT / "bot_adapters" / "m.py"
    TREES["bot_adapters.m"] = ast.parse(source)
    imports_of.cache_clear()
    try:
        assert list(direction_violations("bot_adapters.m")) == expected
    finally:
        del MODULES["bot_adapters.m"], TREES["bot_adapters.m"]
        imports_of.cache_clear()
