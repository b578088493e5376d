"""A real PostgreSQL server for tests, made with initdb and pg_ctl from the Debian package `postgresql`
(`make system-deps` installs it): a throwaway cluster on a free port of 127.0.0.1 that asks for a password.

PostgreSQL refuses to run as root: as root the cluster lives in a fresh folder owned by the `postgres` user the
package makes, and its commands run as that user (runuser); anyone else runs them as themselves.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ports import free_port

# Where Debian puts the server's programs (they are not on PATH): one folder per major version.
DEBIAN_BINARIES = Path("/usr/lib/postgresql")


def binaries_or_skip() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted((p for p in DEBIAN_BINARIES.glob("*/bin") if (p / "pg_ctl").is_file()),
                      key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)])
    if not versions:
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed: `make system-deps` installs "
                    "the Debian package postgresql")
    return versions[-1]


@dataclass
class PostgresServer:
    folder: Path
    port: int
    password: str
    as_user: list[str]  # the command's prefix that runs the server's programs as their owner
    bin: Path

    @classmethod
    def start(cls, tmp_path: Path) -> PostgresServer:
        bin_dir = binaries_or_skip()
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                pytest.skip("running as root, and runuser is missing: PostgreSQL cannot be started as another user")
            try:
                import pwd

                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root, and there is no `postgres` user to run PostgreSQL as")
            folder = Path(tempfile.mkdtemp(prefix="yuqing-pg-"))  # tmp_path's parents are root's alone
            os.chown(folder, owner.pw_uid, owner.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        else:
            folder, as_user = tmp_path, []
        server = cls(folder, free_port(), secrets.token_hex(12), as_user, bin_dir)
        server._init()
        return server

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self.as_user, str(self.bin / program), *args], capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}")

    def _init(self) -> None:
        password_file = self.folder / "password"
        password_file.write_text(self.password, encoding="utf-8")
        if self.as_user:
            os.chown(password_file, os.stat(self.folder).st_uid, os.stat(self.folder).st_gid)
        self._run("initdb", "-D", str(self.folder / "data"), "-U", "postgres", "-E", "UTF8", "--locale=C",
                  "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}", "--no-sync")
        # Throwaway data: no fsync. The socket in our folder: the system's may not be writable to us.
        options = (f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder} "
                   "-c fsync=off -c full_page_writes=off -c synchronous_commit=off")
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w", "-t", "60",
                  "-o", options, "start")

    def url(self, database: str = "postgres", password: bool = True) -> str:
        secret = f":{self.password}" if password else ""
        return f"postgresql+psycopg://postgres{secret}@127.0.0.1:{self.port}/{database}"

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            if self.as_user:
                shutil.rmtree(self.folder, ignore_errors=True)
