"""A PostgreSQL cluster and a Redis server of a test's own, which it may stop and restart at will.

Tests that take a service down must never touch the machine's shared ones: each gets a cluster
made by initdb in a temporary folder and a redis-server, both on free loopback ports, stopped
and deleted on the way out. PostgreSQL's Debian binaries live in /usr/lib/postgresql/<version>/bin;
without them the test is skipped, and under CI=true it fails.
"""

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.real_services import IN_CI

START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    return free_port()


def postgres_bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        message = "PostgreSQL's server binaries (initdb, pg_ctl under /usr/lib/postgresql/*/bin)"
        if IN_CI:
            pytest.fail(f"{message} are required under CI=true but are missing", pytrace=False)
        pytest.skip(f"{message} are not installed")
    return Path(found[-1]).parent


def _as_postgres_user() -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _wait_for_port(port: int, *, up: bool, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                listening = True
        except OSError:
            listening = False
        if listening == up:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} on port {port} did not {'start' if up else 'stop'} in time")


class PrivatePostgres:
    """initdb'd into a temporary folder, trusting local connections, on its own port."""

    def __init__(self):
        self.bin_dir = postgres_bin_dir()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data_dir = self.folder / "data"
        self.log_path = self.folder / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-o", options, "-w", "start")
        _wait_for_port(self.port, up=True, what="PostgreSQL")

    def stop(self) -> None:
        # fast: open connections are cut, as in a real restart; the port closes before this returns.
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        _wait_for_port(self.port, up=False, what="PostgreSQL")

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def psql(self, sql: str) -> None:
        subprocess.run(
            [str(self.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", sql],
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def destroy(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *arguments: str) -> None:
        subprocess.run(
            [*_as_postgres_user(), str(self.bin_dir / program), *arguments],
            check=True,
            cwd=self.folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )


class PrivateRedis:
    """A redis-server on its own port, without persistence, in the foreground of a child process."""

    def __init__(self):
        if shutil.which("redis-server") is None:
            if IN_CI:
                pytest.fail("redis-server is required under CI=true but is missing", pytrace=False)
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="faults-redis-"))
        self.process: subprocess.Popen | None = None

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=open(self.folder / "redis.log", "a"),
            stderr=subprocess.STDOUT,
        )
        _wait_for_port(self.port, up=True, what="Redis")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        _wait_for_port(self.port, up=False, what="Redis")

    def destroy(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


# --- the product's processes on private services ----------------------------------------------

TEMPLATE_DATABASE = "template_wechatcms"
BASE_DIR = Path(__file__).resolve().parent.parent


def product_environment(*, database_url: str, redis: PrivateRedis, queue: str, **more: str) -> dict[str, str]:
    """What gunicorn, a worker and beat of one private deployment share: database, cache, broker, queues."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": database_url,
        "CACHE_URL": redis.url(1),
        "CELERY_BROKER_URL": redis.url(0),
        # settings_test names one queue per process unless told: all of this deployment's share one.
        "CELERY_TEST_QUEUE": queue,
        **more,
    }


def private_postgres_migrated() -> PrivatePostgres:
    """A started cluster holding the migrated schema as a template, so each test's database is a quick copy."""
    cluster = PrivatePostgres()
    cluster.start()
    url = cluster.create_database(TEMPLATE_DATABASE)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "DATABASE_URL": url},
        check=True,
    )
    return cluster


def database_from_template(cluster: PrivatePostgres, name: str) -> str:
    cluster.psql(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DATABASE}"')
    return cluster.url(name)


def manage_py_shell(environment: dict[str, str], code: str) -> str:
    """Runs `code` in Django against the environment's database; its standard output."""
    finished = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=BASE_DIR,
        env=environment,
        check=False,
        capture_output=True,
        text=True,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"manage.py shell failed:\n{finished.stdout[-2000:]}\n{finished.stderr[-3000:]}")
    return finished.stdout


class CeleryProcess:
    """`celery -A <app> <arguments>` in a child process, logging to a file, for tests that kill and restart it."""

    def __init__(self, arguments: list[str], *, environment: dict[str, str], log_path: Path, app: str = "config"):
        self.arguments, self.environment, self.log_path, self.app = arguments, environment, log_path, app
        self.process: subprocess.Popen | None = None

    def start(self, *, ready_line: str) -> None:
        self.spawn(ready_line=ready_line)
        self.wait_until_ready()

    def spawn(self, *, ready_line: str) -> None:
        self.ready_line = ready_line
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", self.app, *self.arguments],
                cwd=BASE_DIR,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + 60
        while self.ready_line not in self.log_text()[self.log_offset :]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"celery {self.arguments[0]} did not start:\n{self.log_text()[-3000:]}", pytrace=False)
            time.sleep(0.05)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.running():
            self.process.send_signal(sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.running():
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def beat_process(environment: dict[str, str], log_path: Path) -> CeleryProcess:
    # Ticks at least every second, so a due entry is sent within a second of its time.
    return CeleryProcess(["beat", "--loglevel=INFO", "--max-interval", "1"], environment=environment, log_path=log_path)


BEAT_READY_LINE = "beat: Starting..."
