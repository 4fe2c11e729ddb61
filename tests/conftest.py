"""Fixtures that start a real `berth serve` and drive it with real clients.

Every test that takes `server` runs twice: once on the embedded SQLite default and once on
PostgreSQL (the database URL comes from BERTH_TEST_POSTGRES_URL, which scripts/test sets after
starting a throwaway cluster). Each server gets its own data directory, database and port.
"""

import base64
import itertools
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid

import pytest
import requests

BERTH = os.environ.get("BERTH_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "target", "quick", "berth"
)
ROOT_KEY = "AKIABERTHTESTROOT001"
ROOT_SECRET = "berth-test-root-secret-0123456789abcdef"
_counter = itertools.count()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_url():
    url = os.environ.get("BERTH_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("BERTH_TEST_POSTGRES_URL is not set: run the suite with ./scripts/test")
    return url


def create_database(base_url):
    name = "berth_" + uuid.uuid4().hex[:16]
    subprocess.run(["psql", base_url, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    return base_url.rsplit("/", 1)[0] + "/" + name


class Server:
    """One `berth serve` process with its own data directory and database."""

    def __init__(self, backend, tmp, extra_env=None, extra_args=None):
        self.backend = backend
        self.dir = tmp
        self.data_dir = os.path.join(tmp, "data")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.metadata = create_database(postgres_url()) if backend == "postgres" else None
        self.extra_env = dict(extra_env or {})
        self.extra_args = list(extra_args or [])
        self.proc = None
        self.stdout = ""
        self._token = None

    def env(self, **overrides):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
        env.update(
            BERTH_ROOT_ACCESS_KEY_ID=ROOT_KEY,
            BERTH_ROOT_SECRET_ACCESS_KEY=ROOT_SECRET,
            AWS_ACCESS_KEY_ID=ROOT_KEY,
            AWS_SECRET_ACCESS_KEY=ROOT_SECRET,
            BERTH_ENDPOINT=self.url,
            RUST_LOG=os.environ.get("RUST_LOG", "info"),
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def start(self, **env_overrides):
        args = [BERTH, "serve", "--listen", self.host, "--data-dir", self.data_dir]
        if self.metadata:
            args += ["--metadata", self.metadata]
        args += self.extra_args
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=self.env(**env_overrides),
            text=True,
        )
        lines = []
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("listening on"):
                self.stdout = "".join(lines)
                self._token = None
                return self
        self.stop()
        raise RuntimeError("berth did not start:\n" + "".join(lines) + self.server_log())

    def server_log(self):
        try:
            with open(os.path.join(self.dir, "server.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self, **env_overrides):
        self.stop()
        return self.start(**env_overrides)

    def berth(self, *args, check=True, input=None, env=None):
        """Runs the berth CLI against this server."""
        return subprocess.run(
            [BERTH, *args],
            capture_output=True,
            text=True,
            check=check,
            input=input,
            env=env or self.env(),
        )

    def sql(self, statement):
        """Runs one statement on the server's metadata database, as an operator (or an older
        release) would, for tests of states the API cannot reach. Stop the server first."""
        if self.metadata:
            subprocess.run(["psql", self.metadata, "-q", "-c", statement], check=True)
        else:
            with sqlite3.connect(os.path.join(self.data_dir, "berth.db")) as db:
                db.execute(statement)

    def token(self):
        if self._token is None:
            self._token = self.berth("login-password").stdout.strip()
        return self._token

    def auth(self):
        return ("AWS", self.token())

    def create_repo(self, name, *args):
        return self.berth("repo", "create", name, *args)

    def request(self, method, path, **kw):
        kw.setdefault("auth", self.auth())
        kw.setdefault("allow_redirects", False)
        return requests.request(method, self.url + path, **kw)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    return request.param


@pytest.fixture
def make_server(backend):
    servers = []
    dirs = []

    def make(**kw):
        tmp = tempfile.mkdtemp(prefix=f"berth-test-{next(_counter)}-")
        dirs.append(tmp)
        s = Server(backend, tmp, **kw)
        servers.append(s)
        return s.start()

    yield make
    for s in servers:
        s.kill()
    # Whatever a test sent, the server must never have panicked (a panic in a handler is
    # caught by hyper and would otherwise go unnoticed as a dropped connection).
    panics = [s.server_log() for s in servers if "panicked at" in s.server_log()]
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
    assert not panics, "berth panicked:\n" + panics[0][-4000:]


@pytest.fixture
def server(make_server):
    return make_server()


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
