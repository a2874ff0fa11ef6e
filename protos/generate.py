"""Regenerate protos/*_pb2*.py from protos/*.proto (run from anywhere: `make proto`).

The generated modules are committed so that installing voxgate needs no protoc; a test checks
that they match what this script produces.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent


def generate(out_dir: Path = ROOT) -> list[Path]:
    """Run protoc for every .proto under protos/; return the generated files."""
    include = Path(protoc.__file__).resolve().parent / "_proto"
    protos = sorted((ROOT / "protos").glob("*.proto"))
    for proto in protos:
        rel = proto.relative_to(ROOT)
        code = protoc.main(
            [
                "protoc",
                f"-I{ROOT}",
                f"-I{include}",
                f"--python_out={out_dir}",
                f"--grpc_python_out={out_dir}",
                str(rel),
            ]
        )
        if code != 0:
            raise SystemExit(f"protoc failed on {rel} with {code}")
    return sorted((out_dir / "protos").glob("*_pb2*.py"))


if __name__ == "__main__":
    for path in generate():
        print(path.relative_to(ROOT))
    sys.exit(0)
