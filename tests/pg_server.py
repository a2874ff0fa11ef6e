"""A throwaway PostgreSQL server for the test run: found, initialised in a temporary directory,
started on a free loopback port (its unix socket in that directory, ``fsync`` off), stopped and
deleted at the end. Binaries from ``pg_config --bindir``, then ``/usr/lib/postgresql/*/bin``,
then the ``pgserver`` wheel (``pip install -e '.[dev]'`` brings it where it has wheels). Run as
root, the server runs as the ``postgres`` user (or ``nobody``): PostgreSQL refuses root."""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

__all__ = ["PgServer", "find_bindir", "missing_reason"]

_TOOLS = ("initdb", "pg_ctl", "postgres")
NO_SERVER = (
    "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found: install PostgreSQL "
    "(apt-get install postgresql) or the pgserver wheel (pip install -e '.[dev]')"
)


def _complete(bindir: str | Path) -> bool:
    return all(os.access(Path(bindir) / t, os.X_OK) for t in _TOOLS)


def find_bindir() -> Path | None:
    """Where ``initdb``, ``pg_ctl`` and ``postgres`` are, or ``None``."""
    candidates: list[str] = []
    if shutil.which("pg_config"):
        try:
            out = subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for bindir in candidates:
        if bindir and _complete(bindir):
            return Path(bindir)
    spec = importlib.util.find_spec("pgserver")  # the wheel's binaries, without importing it
    if spec is not None and spec.origin:
        bindir = str(Path(spec.origin).parent / "pginstall" / "bin")
        if _complete(bindir):
            return Path(bindir)
    return None


def missing_reason() -> str:
    return "" if find_bindir() is not None else NO_SERVER


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


class PgServer:
    """One server; :meth:`fresh_url` makes a new empty database on it."""

    def __init__(self, bindir: Path, *, durable: bool = False) -> None:
        """``durable``: ``fsync``, ``synchronous_commit`` and ``full_page_writes`` on, as in
        production (for benchmarks); off by default (a test run needs no durability)."""
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="voxgate-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.user = _run_as()
        if self.user is not None:
            os.chmod(self.dir, 0o700)
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-sync", "--locale=C",
        )
        fast = "-F -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        fast = "" if durable else fast
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "60",
            "-o", f"-p {self.port} -h 127.0.0.1 -k {self.dir} {fast}-c max_connections=200",
            "start",
        )
        self.base = f"postgresql://postgres@127.0.0.1:{self.port}"
        self._watchdog = self._start_watchdog()

    def _start_watchdog(self) -> subprocess.Popen[bytes]:
        """A detached shell that stops the server and deletes its directory if this process
        dies without :meth:`stop` (a test run killed at its timeout leaves no server behind)."""
        stop = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
        if self.user is not None:
            stop = ["runuser", "-u", self.user.pw_name, "--", *stop]
        script = (
            f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 2; done; "
            f"{shlex.join(stop)} >/dev/null 2>&1; rm -rf {shlex.quote(str(self.dir))}"
        )
        return subprocess.Popen(
            ["sh", "-c", script], start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user.pw_name, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def fresh_url(self) -> str:
        """A new empty database's URL (``CREATE DATABASE ... TEMPLATE template0``)."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(f"{self.base}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')  # type: ignore[arg-type]
        return f"{self.base}/{name}"

    def stop(self) -> None:
        self._watchdog.kill()
        self._watchdog.wait()
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
