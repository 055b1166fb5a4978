"""A throwaway PostgreSQL cluster for tests and benchmarks: ``initdb`` and ``pg_ctl`` in
a temporary directory, reachable only through a unix socket in that directory.

PostgreSQL refuses to run as root; as root the cluster runs as the ``postgres`` user
(Debian's package creates it). Nothing here is used by the ledger itself.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["TempCluster", "ClusterUnavailable", "find_binaries"]

log = logging.getLogger("punchcard.store.sql")

FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")  # tests: the server never crashes


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server binaries, or no user to run them as."""


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's layout."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ClusterUnavailable("running as root and there is no postgres user to run the server as")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TempCluster:
    """``with TempCluster() as cluster: cluster.url("postgres")``."""

    def __init__(self, settings: tuple[str, ...] = (), max_connections: int = 200):
        self.bin = find_binaries()
        if self.bin is None:
            raise ClusterUnavailable("PostgreSQL server binaries (initdb, pg_ctl) were not found")
        self.user = _run_as()
        self.settings = (f"max_connections={max_connections}", *settings)
        self.dir: Path | None = None
        self.port = _free_port()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.dir}&port={self.port}"

    def _run(self, *args: str) -> None:
        kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid} if self.user else {}
        done = subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True, text=True, check=False,
                              **kwargs)
        if done.returncode != 0:
            raise ClusterUnavailable(f"{args[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout}")

    def start(self) -> TempCluster:
        self.dir = Path(tempfile.mkdtemp(prefix="punchcard-pg-"))
        if self.user:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = " ".join([f"-k {self.dir}", "-c listen_addresses=''", f"-p {self.port}",
                            *(f"-c {s}" for s in self.settings)])
        self._run("pg_ctl", "-D", str(data), "-l", str(self.dir / "server.log"), "-o", options, "-w", "start")
        log.info("throwaway PostgreSQL cluster in %s", self.dir)
        return self

    def stop(self) -> None:
        if self.dir is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> TempCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
