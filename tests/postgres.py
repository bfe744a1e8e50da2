"""A real PostgreSQL server for the tests: a cluster of its own in a temporary folder, listening
on 127.0.0.1, started with Debian's `postgresql` binaries (which `.ci/run` installs).

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user (made by
the Debian package), else as whoever runs the tests. Durability is off (fsync, synchronous
commit) unless asked for: the tests are about behaviour, not about surviving power cuts.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import free_port

USER = "bot"
PASSWORD = "pg-secret-Tr0ub4dor-and-3"  # must never show in the bot's output
_databases = itertools.count(1)


def binaries() -> Path | None:
    """The folder of pg_ctl and initdb: Debian keeps them under /usr/lib/postgresql/N/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    return Path(versions[-1]).parent if versions else None


def _version(path: str) -> int:
    number = path.split("/")[4]
    return int(number) if number.isdigit() else 0


class PostgresServer:
    def __init__(self) -> None:
        bindir = binaries()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = bindir
        self.root = Path(tempfile.mkdtemp(prefix="bot-pg-"))
        self.port = free_port()
        self.runner = self._unprivileged_user()
        self._run(
            "initdb", "-D", self.data, "-U", USER, f"--pwfile={self._pwfile()}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip

    @property
    def data(self) -> str:
        return str(self.root / "data")

    def _unprivileged_user(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                user = pwd.getpwnam(name)
                os.chown(self.root, user.pw_uid, user.pw_gid)
                return user
        raise RuntimeError("running as root, and there is no postgres user to run PostgreSQL as")

    def _pwfile(self) -> Path:
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self.runner:
            os.chown(pwfile, self.runner.pw_uid, self.runner.pw_gid)
        return pwfile

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.runner:
            command = ["runuser", "-u", self.runner.pw_name, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self, durable: bool = False) -> None:
        """Durable: with PostgreSQL's own defaults (fsync, synchronous commit), as the
        benchmark wants it; the tests go without."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        options += " -c max_connections=200"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"bot_test_{os.getpid()}_{next(_databases)}"
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name],
            check=True, capture_output=True, env=env, timeout=60,
        )  # fmt: skip
        return self.url(name)


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A started server, removed afterwards; skips (fails in CI) when PostgreSQL is missing."""
    try:
        server = PostgresServer()
    except RuntimeError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    try:
        server.start()
        yield server
    finally:
        server.remove()
