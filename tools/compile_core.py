"""Compile the gateway's hot modules in place with mypyc (``make fast``).

The modules are listed in ``gateway.COMPILED_MODULES``. They share one support library,
``gateway/core__mypyc*.so``, inside the package so that the compiled core imports from anywhere.
``make pure`` removes the result; the gateway then runs the same source as plain Python.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def modules() -> list[str]:
    """``COMPILED_MODULES`` read from gateway/__init__.py without importing the package (whose
    import refuses stale compiled modules, which this script is about to replace)."""
    tree = ast.parse((ROOT / "gateway" / "__init__.py").read_text())
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "COMPILED_MODULES":
            names = ast.literal_eval(node.value)
            return [f"gateway/{name}.py" for name in names]
    raise SystemExit("gateway/__init__.py has no COMPILED_MODULES")


def main() -> int:
    from mypyc.build import mypycify
    from setuptools import setup

    os.chdir(ROOT)  # mypycify takes paths relative to the project
    paths = modules()
    setup(
        name="voxgate-gateway-core",
        ext_modules=mypycify(paths, group_name="gateway.core"),
        script_args=["build_ext", "--inplace"],
    )
    for path in paths:  # mypyc skips unchanged modules; mark every binary as built from now
        for binary in (ROOT / path).parent.glob(Path(path).stem + ".*.so"):
            binary.touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
