"""Shared fixtures for Coffer's end-to-end tests.

Every test talks to the real `target/release/coffer` binary (built by `scripts/test`):
`Server` starts `coffer server -dev` on a free loopback port with `HOME` in a temp dir,
waits for `GET /v1/sys/health` to answer 200, and on stop sends SIGINT and checks that
the server exits cleanly. `Cli` runs the same binary as a client.

Set COFFER_BIN to test another binary.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import hvac
import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("COFFER_BIN", ROOT / "target" / "release" / "coffer"))
PLUGIN_DIR = ROOT / "target" / "test-plugins"

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0

ENVELOPE_KEYS = {
    "request_id",
    "lease_id",
    "renewable",
    "lease_duration",
    "data",
    "wrap_info",
    "warnings",
    "auth",
    "mount_type",
}

_live_processes: list[subprocess.Popen] = []

# Tests only ever talk to loopback servers: never through a proxy from the environment.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_binary() -> None:
    if not BIN.exists():
        pytest.fail(
            f"{BIN} does not exist: build it with `cargo build --release` "
            "(scripts/test does this)",
            pytrace=False,
        )


def clean_env(home: Path) -> dict[str, str]:
    """The caller's environment without Vault/Coffer settings, with HOME=home."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VAULT_", "COFFER_", "BAO_"))
    }
    env["HOME"] = str(home)
    env["NO_COLOR"] = "1"
    return env


class Server:
    """A `coffer server -dev` process on 127.0.0.1:<free port>.

    token=None lets the server pick its root token (read back from the banner);
    store_token=False passes -dev-no-store-token.
    """

    def __init__(
        self,
        *flags: str,
        token: str | None = "",
        store_token: bool = False,
        home: Path | None = None,
    ):
        require_binary()
        self.flags = list(flags)
        if token == "":
            token = "root-" + secrets.token_hex(8)
        self.fixed_token = token
        self.token = token
        self.store_token = store_token
        self.port = free_port()
        self.addr = f"http://127.0.0.1:{self.port}"
        self.home = Path(home) if home else Path(tempfile.mkdtemp(prefix="coffer-home-"))
        self.logdir = Path(tempfile.mkdtemp(prefix="coffer-log-"))
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    # --- lifecycle ---------------------------------------------------------

    def argv(self) -> list[str]:
        argv = [
            str(BIN),
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{self.port}",
        ]
        if self.fixed_token is not None:
            argv.append(f"-dev-root-token-id={self.fixed_token}")
        if not self.store_token:
            argv.append("-dev-no-store-token")
        return argv + self.flags

    def start(self) -> "Server":
        assert self.proc is None, "server already running"
        self.starts += 1
        self.stdout_path = self.logdir / f"stdout.{self.starts}"
        self.stderr_path = self.logdir / f"stderr.{self.starts}"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=clean_env(self.home),
                cwd=self.home,
            )
        _live_processes.append(self.proc)
        self._wait_ready()
        if self.fixed_token is None:
            self.token = self._token_from_banner()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"coffer server exited with {self.proc.returncode} before it was ready\n"
                    f"argv: {self.argv()}\n{self.output()}",
                    pytrace=False,
                )
            try:
                r = requests.get(self.addr + "/v1/sys/health", timeout=2)
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        self.kill()
        pytest.fail(
            f"coffer server not ready after {START_TIMEOUT}s (last health answer: {last})\n"
            f"argv: {self.argv()}\n{self.output()}",
            pytrace=False,
        )

    def _token_from_banner(self) -> str:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            m = re.search(r"Root Token: (\S+)", self.stdout())
            if m:
                return m.group(1)
            time.sleep(0.05)
        pytest.fail(f"no 'Root Token:' line in the banner\n{self.output()}", pytrace=False)

    def stop(self, check: bool = True) -> int | None:
        """SIGINT, then wait; with check, assert a clean exit (0) within STOP_TIMEOUT."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            if check:
                pytest.fail(
                    f"coffer server did not exit within {STOP_TIMEOUT}s of SIGINT\n"
                    + self.output(),
                    pytrace=False,
                )
            return None
        if check:
            assert rc == 0, f"coffer server exited with {rc} after SIGINT\n{self.output()}"
        return rc

    def kill(self) -> None:
        """kill -9: no chance to flush or clean up."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    def restart(self) -> "Server":
        self.stop()
        return self.start()

    # --- output ------------------------------------------------------------

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def output(self) -> str:
        def tail(s: str) -> str:
            return s if len(s) < 6000 else "...\n" + s[-6000:]

        return (
            f"--- server stdout ---\n{tail(self.stdout())}\n"
            f"--- server stderr ---\n{tail(self.stderr())}"
        )

    # --- clients -------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.addr + "/v1/" + path.lstrip("/")

    def request(self, method: str, path: str, token: str | None = "", **kw) -> requests.Response:
        """Raw HTTP to /v1/<path>; token="" means the root token, None no token."""
        headers = dict(kw.pop("headers", {}) or {})
        if token == "":
            token = self.token
        if token is not None:
            headers.setdefault("X-Vault-Token", token)
        kw.setdefault("timeout", 30)
        return requests.request(method, self.url(path), headers=headers, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def list(self, path, **kw):
        return self.request("LIST", path, **kw)

    def client(self, token: str | None = "") -> hvac.Client:
        if token == "":
            token = self.token
        # hvac falls back to VAULT_TOKEN / ~/.vault-token when token is None;
        # an explicit value keeps the test independent of the machine.
        return hvac.Client(url=self.addr, token=token, timeout=30)

    def enable(self, path: str, type_: str = "kv", **body) -> None:
        body["type"] = type_
        r = self.post(f"sys/mounts/{path}", json=body)
        assert r.status_code in (200, 204), f"enable {path}: {r.status_code} {r.text}"
        if type_ in ("kv", "kv-v2") and (
            type_ == "kv-v2" or (body.get("options") or {}).get("version") == "2"
        ):
            wait_kv_v2_ready(self, path)


def wait_kv_v2_ready(server: Server, mount: str, timeout: float = 10.0) -> None:
    """Vault may answer 400 'Upgrading from non-versioned to versioned data' right
    after a kv v2 mount is enabled; clients (and Vault's own tests) retry."""
    deadline = time.monotonic() + timeout
    while True:
        r = server.get(f"{mount}/config")
        if r.status_code == 200 or "Upgrading" not in r.text or time.monotonic() > deadline:
            return
        time.sleep(0.1)


class Cli:
    """Runs `coffer <args>` as a client against a server."""

    def __init__(self, server: Server, home: Path | None = None):
        self.server = server
        self.home = Path(home) if home else Path(tempfile.mkdtemp(prefix="coffer-cli-home-"))

    def env(self, token: str | None = "") -> dict[str, str]:
        env = clean_env(self.home)
        env["COFFER_ADDR"] = self.server.addr
        if token == "":
            token = self.server.token
        if token is not None:
            env["COFFER_TOKEN"] = token
        return env

    def __call__(
        self, *args: str, input: str | None = None, token: str | None = "", env=None
    ) -> tuple[int, str, str]:
        require_binary()
        r = subprocess.run(
            [str(BIN), *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env=env if env is not None else self.env(token),
            timeout=60,
            cwd=self.home,
        )
        return r.returncode, r.stdout, r.stderr


# --- output parsing helpers ------------------------------------------------------


def parse_table(text: str) -> dict[str, str]:
    """Rows of every `Key  Value` table in CLI output, as {key: value}.

    A table is a header line, a line of dash groups, and rows up to a blank line
    or a `=== ... ===` header. Columns are separated by two or more spaces.
    """
    rows: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines) - 1:
        if re.fullmatch(r"-+( +-+)+", lines[i + 1].strip()) and lines[i].strip():
            j = i + 2
            while j < len(lines) and lines[j].strip() and not lines[j].startswith("="):
                parts = re.split(r" {2,}", lines[j].strip(), maxsplit=1)
                rows[parts[0]] = parts[1] if len(parts) > 1 else ""
                j += 1
            i = j
        else:
            i += 1
    return rows


def sections(text: str) -> dict[str, str]:
    """Splits `vault kv`-style output at `==== Title ====` lines: {title: body}."""
    out: dict[str, str] = {}
    title = None
    buf: list[str] = []
    for line in text.splitlines():
        m = re.fullmatch(r"=+ (.+?) =+", line.strip())
        if m:
            if title is not None:
                out[title] = "\n".join(buf).strip("\n")
            title, buf = m.group(1), []
        else:
            buf.append(line)
    if title is not None:
        out[title] = "\n".join(buf).strip("\n")
    return out


def assert_json(r: requests.Response, status: int) -> dict:
    """Asserts status and `Content-Type: application/json` (exactly), returns the body."""
    assert r.status_code == status, (
        f"{r.request.method} {r.url}: expected {status}, got {r.status_code}: {r.text[:500]}"
    )
    ct = r.headers.get("Content-Type")
    assert ct == "application/json", (
        f"{r.request.method} {r.url}: Content-Type must be exactly application/json, got {ct!r}"
    )
    try:
        return r.json()
    except ValueError:
        pytest.fail(f"{r.request.method} {r.url}: body is not JSON: {r.text[:500]!r}")


def assert_envelope(body: dict) -> dict:
    missing = ENVELOPE_KEYS - set(body)
    assert not missing, f"envelope lacks {sorted(missing)}: {json.dumps(body)[:500]}"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                        body["request_id"]), body["request_id"]
    return body


def assert_errors(r: requests.Response, status: int, *fragments: str) -> list[str]:
    """Asserts a `{"errors":[...]}` answer whose messages contain every fragment."""
    body = assert_json(r, status)
    assert isinstance(body.get("errors"), list), f"no errors list: {body}"
    joined = "\n".join(str(e) for e in body["errors"])
    for frag in fragments:
        assert frag.lower() in joined.lower(), (
            f"{r.request.method} {r.url}: expected an error mentioning {frag!r}, got {body['errors']}"
        )
    return body["errors"]


def assert_204(r: requests.Response) -> None:
    assert r.status_code == 204, (
        f"{r.request.method} {r.url}: expected 204, got {r.status_code}: {r.text[:500]}"
    )
    assert r.content == b"", f"204 with a body: {r.content[:200]!r}"


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


# --- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    """One default dev server per test module (tests use unique mounts and paths)."""
    s = Server().start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def cli(server):
    return Cli(server)


@pytest.fixture(scope="module")
def client(server):
    return server.client()


@pytest.fixture
def make_server():
    """Factory for servers with custom flags; all are stopped (SIGINT) at the end."""
    started: list[Server] = []

    def make(*flags, start=True, **kw) -> Server:
        s = Server(*flags, **kw)
        started.append(s)
        return s.start() if start else s

    yield make
    for s in started:
        s.stop()


def pytest_sessionfinish(session, exitstatus):
    for p in _live_processes:
        if p.poll() is None:
            p.kill()
            p.wait()
