"""Shared fixtures for Coffer's end-to-end tests.

Every test talks to the real `target/release/coffer` binary (built by `scripts/test`):
`Server` starts `coffer server -dev` on a free loopback port with `HOME` in a temp dir,
waits for `GET /v1/sys/health` to answer 200, and on stop sends SIGINT and checks that
the server exits cleanly. `Cli` runs the same binary as a client.

Set COFFER_BIN to test another binary.

AWS tests use moto (`moto_server` from the same venv as pytest) as their IAM/STS:
the session-scoped `moto` fixture starts one on a free port, `aws` resets it per test
and bootstraps an admin user with moto's auth enforcement on (docs/moto-iam.md).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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


def require_plugins(*names: str) -> None:
    """Fails (never skips or passes) a test whose test guests were not built."""
    for name in names:
        if not (PLUGIN_DIR / f"{name}.wasm").exists():
            pytest.fail(f"{PLUGIN_DIR}/{name}.wasm is missing: scripts/test builds it",
                        pytrace=False)


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
        # Added to the server's environment on the next start().
        self.extra_env: dict[str, str] = {}

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
        env = clean_env(self.home)
        env.update(self.extra_env)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
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
        # Generous: mounting a Python/JS engine compiles it (tens of seconds on a cold
        # cache on a 2-core CI machine); a hung server still fails the test.
        kw.setdefault("timeout", 120)
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
        return hvac.Client(url=self.addr, token=token, timeout=120)

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


def ok(res, *, out_has=(), err_has=()):
    """Asserts a `Cli` result exited 0 and printed the given fragments; returns stdout."""
    code, out, err = res
    assert code == 0, f"exit {code}\nstdout:\n{out}\nstderr:\n{err}"
    for s in out_has:
        assert s in out, f"stdout lacks {s!r}:\n{out}\nstderr:\n{err}"
    for s in err_has:
        assert s in err, f"stderr lacks {s!r}:\n{err}"
    return out


def assert_204(r: requests.Response) -> None:
    assert r.status_code == 204, (
        f"{r.request.method} {r.url}: expected 204, got {r.status_code}: {r.text[:500]}"
    )
    assert r.content == b"", f"204 with a body: {r.content[:200]!r}"


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


# --- moto: IAM/STS for the AWS engine ------------------------------------------------

MOTO_REGION = "us-east-1"
MOTO_START_TIMEOUT = 20.0


def moto_server_bin() -> Path:
    """`moto_server` next to the running python (the venv's), else the repo's .venv."""
    for cand in (Path(sys.executable).parent / "moto_server", ROOT / ".venv" / "bin" / "moto_server"):
        if cand.exists():
            return cand
    pytest.fail("moto_server not found: install tests/requirements.txt into .venv "
                "(scripts/test does this)", pytrace=False)


class Moto:
    """A `moto_server` on 127.0.0.1 (port 0 = let it choose; the port is read from
    its ` * Running on http://127.0.0.1:PORT` log line)."""

    def __init__(self, port: int = 0, env: dict[str, str] | None = None):
        self.port = port
        self.extra_env = dict(env or {})
        self.logdir = Path(tempfile.mkdtemp(prefix="moto-log-"))
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Moto":
        assert self.proc is None, "moto already running"
        self.starts += 1
        self.log_path = self.logdir / f"moto.{self.starts}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        env.update(self.extra_env)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(moto_server_bin()), "-H", "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            )
        _live_processes.append(self.proc)
        deadline = time.monotonic() + MOTO_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"moto_server exited with {self.proc.returncode}\n{self.log()}",
                            pytrace=False)
            m = re.search(r"Running on http://127\.0\.0\.1:(\d+)", self.log())
            if m:
                self.port = int(m.group(1))
                try:
                    if requests.get(self.endpoint + "/moto-api/", timeout=2).status_code == 200:
                        return self
                except requests.RequestException:
                    pass
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"moto_server not ready after {MOTO_START_TIMEOUT}s\n{self.log()}",
                    pytrace=False)

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text if len(text) < 4000 else "...\n" + text[-4000:]

    # --- moto-api -------------------------------------------------------------

    def reset(self) -> None:
        """Forgets all state (not the auth setting: see reset_auth)."""
        r = requests.post(self.endpoint + "/moto-api/reset", timeout=10)
        assert r.status_code == 200, r.text

    def reset_auth(self, value: str) -> None:
        """"0": enforce signatures and IAM policies from now on; "inf": never."""
        r = requests.post(self.endpoint + "/moto-api/reset-auth", data=value.encode(),
                          headers={"Content-Type": "text/plain"}, timeout=10)
        assert r.status_code == 200, r.text

    # --- boto3 ------------------------------------------------------------------

    def client(self, service: str, key: str = "AKIAIOSFODNN7EXAMPLE", secret: str = "x",
               token: str | None = None, endpoint: str | None = None):
        import boto3
        from botocore.config import Config

        return boto3.client(
            service, endpoint_url=endpoint or self.endpoint, region_name=MOTO_REGION,
            aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=20),
        )


class AwsAccount:
    """A freshly reset moto with an admin IAM user (`Allow *`) and auth enforcement
    on: unknown or deleted keys get InvalidClientTokenId from then on."""

    def __init__(self, moto: Moto):
        self.moto = moto
        moto.reset_auth("inf")
        moto.reset()
        iam = moto.client("iam")
        self.admin_user = unique("coffer-admin")
        iam.create_user(UserName=self.admin_user)
        iam.put_user_policy(
            UserName=self.admin_user, PolicyName="admin",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        )
        k = iam.create_access_key(UserName=self.admin_user)["AccessKey"]
        self.access_key, self.secret_key = k["AccessKeyId"], k["SecretAccessKey"]
        moto.reset_auth("0")
        self.iam = moto.client("iam", self.access_key, self.secret_key)
        self.sts = moto.client("sts", self.access_key, self.secret_key)

    @property
    def endpoint(self) -> str:
        return self.moto.endpoint

    def root_config(self, endpoint: str | None = None) -> dict[str, str]:
        """The body of `aws/config/root` for this account."""
        ep = endpoint or self.endpoint
        return {"access_key": self.access_key, "secret_key": self.secret_key,
                "region": MOTO_REGION, "iam_endpoint": ep, "sts_endpoint": ep}

    # --- assertions helpers --------------------------------------------------------

    def user_of_key(self, access_key: str) -> str | None:
        """The IAM user owning access_key, None if no user has it."""
        for page in self.iam.get_paginator("list_users").paginate():
            for u in page["Users"]:
                keys = self.iam.list_access_keys(UserName=u["UserName"])["AccessKeyMetadata"]
                if any(k["AccessKeyId"] == access_key for k in keys):
                    return u["UserName"]
        return None

    def user_exists(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.iam.get_user(UserName=name)
            return True
        except ClientError as e:
            if e.response["Error"]["Code"] == "NoSuchEntity":
                return False
            raise

    def users(self) -> set[str]:
        return {u["UserName"] for page in self.iam.get_paginator("list_users").paginate()
                for u in page["Users"]} - {self.admin_user}

    def key_works(self, access_key: str, secret_key: str) -> bool:
        """Whether moto accepts the key (GetCallerIdentity); False on InvalidClientTokenId."""
        from botocore.exceptions import ClientError

        try:
            self.moto.client("sts", access_key, secret_key).get_caller_identity()
            return True
        except ClientError as e:
            code = e.response["Error"]["Code"]
            assert code in ("InvalidClientTokenId", "SignatureDoesNotMatch"), e
            return False

    def wait_user_gone(self, name: str, timeout: float = 30.0, what: str = "") -> float:
        """Polls until user `name` is gone; returns the seconds it took."""
        start = time.monotonic()
        while self.user_exists(name):
            if time.monotonic() - start > timeout:
                pytest.fail(f"IAM user {name} still exists after {timeout}s {what}",
                            pytrace=False)
            time.sleep(0.25)
        return time.monotonic() - start


class TcpProxy:
    """A loopback TCP forwarder to `target_port` that can be closed (connections
    refused) and reopened on the same port: makes an upstream unreachable without
    losing its state."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.open()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        assert self._listener is None
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        self.port = ls.getsockname()[1]
        ls.listen(64)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def close(self) -> None:
        """Stops listening and cuts every open connection."""
        ls, self._listener = self._listener, None
        if ls is not None:
            try:
                ls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            ls.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            if self._listener is not ls:
                client.close()
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            src.close()


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


@pytest.fixture(scope="session")
def moto():
    """One moto_server for the whole session (started on first use)."""
    m = Moto().start()
    try:
        yield m
    finally:
        m.stop()


@pytest.fixture
def aws(moto):
    """A reset moto with an admin user and auth enforcement on (see AwsAccount)."""
    acct = AwsAccount(moto)
    try:
        yield acct
    finally:
        try:
            moto.reset_auth("inf")
        except Exception:
            pass


def pytest_sessionfinish(session, exitstatus):
    for p in _live_processes:
        if p.poll() is None:
            p.kill()
            p.wait()
