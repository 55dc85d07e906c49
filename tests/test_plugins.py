"""Plugin catalog, versioned mounts, hot reload, capabilities and path-help (issue 5).

Uses target/test-plugins/versioned-v1.wasm and versioned-v2.wasm: one engine
(tests/guests/versioned) built twice by scripts/test, reporting v1.0.0 and v2.0.0 in
info() and in every answer; `sneaky.wasm` (imports an interface nobody is granted),
`hostile.wasm` (spins on `loop`) and `passgen.wasm` (a JavaScript engine whose compile
takes seconds).

Run with `-s` to see the measured reload times.
"""

import base64
import glob
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import PLUGIN_DIR, Cli, assert_errors, assert_json

V1 = PLUGIN_DIR / "versioned-v1.wasm"
V2 = PLUGIN_DIR / "versioned-v2.wasm"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture
def plugin_dir():
    for p in (V1, V2):
        if not p.exists():
            pytest.fail(f"{p} is missing: scripts/test builds it", pytrace=False)
    d = Path(tempfile.mkdtemp(prefix="coffer-plugins-"))
    shutil.copy(V1, d / "versioned-v1.wasm")
    shutil.copy(V2, d / "versioned-v2.wasm")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def srv(make_server, plugin_dir):
    return make_server(f"-dev-plugin-dir={plugin_dir}")


def mount_info(server, path):
    return assert_json(server.get("sys/mounts"), 200)["data"][path]


def register(server, name, **body):
    return server.put(f"sys/plugins/catalog/secret/{name}", json=body, timeout=120)


def reload(server, **body):
    return server.put("sys/plugins/reload/backend", json=body, timeout=120)


class Load:
    """Client threads doing reads and writes against a mount until stopped; records
    every failure and which engine version served each request."""

    def __init__(self, server, mount, threads=4):
        self.server, self.mount = server, mount
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.samples: list[tuple[float, float, str]] = []  # (start, end, version)
        self.count = 0
        self.finished = 0  # workers that ran until told to stop
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)
        ]

    def run(self, i):
        session = requests.Session()
        session.headers["X-Vault-Token"] = self.server.token
        n = 0
        written: dict[str, str] = {}  # this worker's keys -> the value it last wrote
        while not self.stop.is_set():
            n += 1
            key = f"k{i}-{n % 20}"
            value = f"v{n}"
            for method, path, body in (
                ("PUT", f"{self.mount}/data/{key}", {"value": value}),
                ("GET", f"{self.mount}/data/{key}", None),
                ("GET", f"{self.mount}/version", None),
            ):
                start = time.monotonic()
                try:
                    r = session.request(method, self.server.url(path), json=body, timeout=30)
                    end = time.monotonic()
                    problem = None
                    if r.status_code not in (200, 204):
                        problem = f"{r.status_code} {r.text[:200]}"
                    elif method == "PUT":
                        written[key] = value
                    elif path.endswith("/version"):
                        version = r.json()["data"]["version"]
                    elif r.json()["data"].get("value") != written.get(key):
                        # A wrong answer is a failure as much as an error status is.
                        problem = f"read {r.json()['data']!r}, expected {written.get(key)!r}"
                except Exception as e:  # noqa: BLE001 - any worker error is a failure
                    with self.lock:
                        self.failures.append(f"{method} {path}: {e!r}")
                    continue
                with self.lock:
                    self.count += 1
                    if problem is not None:
                        self.failures.append(f"{method} {path}: {problem}")
                    elif path.endswith("/version"):
                        self.samples.append((start, end, version))
        with self.lock:
            self.finished += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)
        # A worker that died of an unexpected error would silently stop generating load.
        if exc[0] is None:
            assert self.finished == len(self.threads), (
                f"only {self.finished} of {len(self.threads)} load workers ran to the end")


def wait_for(pred, timeout=15.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


# --- the main flow ---------------------------------------------------------------------


def test_register_mount_reload_under_load(srv, plugin_dir):
    cli = Cli(srv)
    rc, out, err = cli("plugin", "register", f"-sha256={sha(V1)}", "-version=v1.0.0",
                       "-command=versioned-v1.wasm", "secret", "versioned")
    assert rc == 0, err
    assert out.strip() == "Success! Registered plugin: versioned"

    rc, out, err = cli("secrets", "enable", "-path=ver", "versioned")
    assert rc == 0, err
    assert "Success! Enabled the versioned secrets engine at: ver/" in out
    info = mount_info(srv, "ver/")
    assert info["running_plugin_version"] == "v1.0.0"
    assert info["running_sha256"] == sha(V1)

    # Data and leases issued by v1.
    assert_json(srv.put("ver/data/before", json={"value": "old"}), 200)
    leases = []
    for _ in range(3):
        body = assert_json(srv.get("ver/creds"), 200)
        assert body["data"]["issued_by"] == "v1.0.0" and body["lease_id"]
        leases.append((body["lease_id"], body["data"]["token"]))

    # v2 is uploaded (not in the plugin directory's command form) while v1 serves.
    with Load(srv, "ver") as load:
        time.sleep(1.0)
        t = time.monotonic()
        rc, out, err = cli("plugin", "register", f"-file={V2}", "-version=v2.0.0",
                           "secret", "versioned")
        register_s = time.monotonic() - t
        assert rc == 0, err
        assert out.strip() == "Success! Registered plugin: versioned"
        time.sleep(0.5)
        # Registration alone does not change what runs.
        assert mount_info(srv, "ver/")["running_plugin_version"] == "v1.0.0"

        t0 = time.monotonic()
        r = reload(srv, plugin="versioned")
        t1 = time.monotonic()
        body = assert_json(r, 200)
        assert body["data"]["reload_id"]
        [report] = body["data"]["reloaded"]
        assert report["mount"] == "ver/" and report["version"] == "v2.0.0"
        # The first request that reaches v2.
        first_v2 = wait_for(lambda: next(
            (end for start, end, v in sorted(load.samples) if v == "v2.0.0"), None))
        time.sleep(1.0)

    assert load.failures == [], load.failures[:5]
    versions = {v for _, _, v in load.samples}
    assert versions == {"v1.0.0", "v2.0.0"}, versions
    # Every request that started after the reload answered was served by v2.
    late = [v for start, _, v in load.samples if start > t1]
    assert late and set(late) == {"v2.0.0"}
    print(f"\n[plugins] {load.count} requests under load, 0 failed; register v2 (upload) "
          f"{register_s*1000:.0f} ms; reload call {(t1 - t0)*1000:.1f} ms "
          f"(server-side {report['elapsed_ms']:.1f} ms, from_cache={report['from_cache']}); "
          f"reload call to first request served by v2: {(first_v2 - t0)*1000:.1f} ms")

    info = mount_info(srv, "ver/")
    assert info["running_plugin_version"] == "v2.0.0"
    assert info["running_sha256"] == sha(V2)

    # v1's data is served by v2.
    data = assert_json(srv.get("ver/data/before"), 200)["data"]
    assert data == {"value": "old", "written_by": "v1.0.0", "served_by": "v2.0.0"}

    # v1's leases are renewed and revoked by v2.
    lease_id, token = leases[0]
    assert_json(srv.put("sys/leases/renew", json={"lease_id": lease_id, "increment": 600}), 200)
    rec = assert_json(srv.get(f"ver/leases/{token}"), 200)["data"]
    assert rec["issued_by"] == "v1.0.0" and rec["renewed_by"] == ["v2.0.0"]
    for lease_id, token in leases:
        r = srv.put("sys/leases/revoke", json={"lease_id": lease_id, "sync": True})
        assert r.status_code == 204, r.text
        rec = assert_json(srv.get(f"ver/leases/{token}"), 200)["data"]
        assert rec["issued_by"] == "v1.0.0" and rec["revoked_by"] == "v2.0.0"


def test_pinned_version_and_mount_reload(srv):
    for path, version in ((V1, "v1.0.0"), (V2, "v2.0.0")):
        assert register(srv, "pin", sha256=sha(path), component=b64(path)).status_code in (200, 204)
    cli = Cli(srv)
    rc, out, err = cli("secrets", "enable", "-path=pinned", "-plugin-version=v1.0.0", "pin")
    assert rc == 0, err
    assert "Success! Enabled the pin secrets engine version v1.0.0 at: pinned/" in out
    srv.enable("newest", "pin")
    assert mount_info(srv, "pinned/")["running_plugin_version"] == "v1.0.0"
    assert mount_info(srv, "pinned/")["plugin_version"] == "v1.0.0"
    assert mount_info(srv, "newest/")["running_plugin_version"] == "v2.0.0"

    # Reloading a pinned mount keeps its version; tune + reload moves it (Vault's flow).
    rc, out, err = cli("plugin", "reload", "-mounts=pinned/")
    assert rc == 0, err
    assert out.strip() == "Success! Reloaded mounts: [pinned/]"
    assert assert_json(srv.get("pinned/version"), 200)["data"]["version"] == "v1.0.0"
    assert srv.post("sys/mounts/pinned/tune", json={"plugin_version": "v2.0.0"}).status_code == 204
    rc, out, err = cli("plugin", "reload", "-plugin=pin")
    assert rc == 0, err
    assert out.strip() == "Success! Reloaded plugin: pin"
    assert assert_json(srv.get("pinned/version"), 200)["data"]["version"] == "v2.0.0"

    assert_errors(srv.post("sys/mounts/nope", json={"type": "pin", "config": {"plugin_version": "v9.9.9"}}),
                  400, "plugin pin version v9.9.9 not found")
    assert_errors(reload(srv), 400, "plugin or mounts must be provided")
    assert_errors(reload(srv, plugin="pin", mounts=["pinned/"]), 400, "cannot be set at the same time")
    assert_errors(reload(srv, mounts=["missing/"]), 400, "no secrets engine mounted at missing/")
    body = assert_json(reload(srv, plugin="unmounted"), 200)
    assert body["warnings"] == ["no mounts of plugin unmounted to reload"]


# --- refusals ----------------------------------------------------------------------------


def test_tampered_component_is_refused(srv, plugin_dir):
    # A digest that does not match the file.
    r = register(srv, "tampered", sha256=sha(V2), command="versioned-v1.wasm")
    errs = assert_errors(r, 400, "checksums did not match")
    assert sha(V2) in errs[0] and sha(V1) in errs[0]
    # ... or the uploaded bytes.
    assert_errors(register(srv, "tampered", sha256=sha(V2), component=b64(V1)), 400,
                  "checksums did not match")
    assert srv.get("sys/plugins/catalog/secret/tampered").status_code == 404

    # The file is swapped after registration: a reload refuses it and the mount keeps
    # serving the verified version.
    shutil.copy(V1, plugin_dir / "swap.wasm")
    assert register(srv, "swap", sha256=sha(V1), command="swap.wasm").status_code in (200, 204)
    srv.enable("swap", "swap")
    shutil.copy(V2, plugin_dir / "swap.wasm")
    assert_errors(reload(srv, plugin="swap"), 400, "checksums did not match")
    assert assert_json(srv.get("swap/version"), 200)["data"]["version"] == "v1.0.0"

    # Vault's digest and command errors.
    assert_errors(register(srv, "x", command="versioned-v1.wasm"), 400, "missing SHA-256 value")
    assert_errors(register(srv, "x", sha256="zz", command="versioned-v1.wasm"), 400,
                  "Could not decode SHA-256 value from Hex")
    assert_errors(register(srv, "x", sha256=sha(V1)), 400, "missing command value")
    assert_errors(register(srv, "x", sha256=sha(V1), command="../versioned-v1.wasm"), 400,
                  "must be a file name in the plugin directory")


def test_version_mismatch_is_refused(srv):
    r = register(srv, "versioned", sha256=sha(V1), command="versioned-v1.wasm", version="v2.0.0")
    assert_errors(r, 400, "plugin version mismatch: versioned reported version (v1.0.0) "
                          "did not match requested version (v2.0.0)")
    assert_errors(register(srv, "versioned", sha256=sha(V1), command="versioned-v1.wasm",
                           version="latest"), 400, "not a valid semantic version")
    # Without -version the reported one is used; "1.0.0" is canonicalised to "v1.0.0".
    assert register(srv, "versioned", sha256=sha(V1), command="versioned-v1.wasm",
                    version="1.0.0").status_code == 204  # no warning: the names agree
    assert assert_json(srv.get("sys/plugins/catalog/secret/versioned"), 200)["data"]["version"] == "v1.0.0"


def test_ungranted_import_is_refused(srv):
    sneaky = PLUGIN_DIR / "sneaky.wasm"
    r = register(srv, "sneaky", sha256=sha(sneaky), component=b64(sneaky))
    assert_errors(r, 400, 'imports "test:sneaky/exfil', "not granted")
    assert_errors(register(srv, "sneaky", sha256=sha(sneaky), component=b64(sneaky),
                           capabilities=["exfil"]), 400, 'unknown capability "exfil"')


def newest_builtin_aws():
    found = glob.glob(str(PLUGIN_DIR.parent / "release" / "build" / "coffer-*" / "out" / "aws.wasm"))
    return Path(max(found, key=os.path.getmtime)) if found else None


def test_capabilities_are_granted_at_registration(srv):
    aws = newest_builtin_aws()
    if aws is None:
        pytest.skip("no built aws.wasm under target/release/build")
    r = register(srv, "my-aws", sha256=sha(aws), component=b64(aws))
    assert_errors(r, 400, "coffer:engine/aws-", "not granted to it")
    cli = Cli(srv)
    rc, out, err = cli("plugin", "register", f"-file={aws}", "-capability=aws", "secret", "my-aws")
    assert rc == 0, err
    rec = assert_json(srv.get("sys/plugins/catalog/secret/my-aws"), 200)["data"]
    assert rec["capabilities"] == ["aws"] and rec["sha256"] == sha(aws)
    srv.enable("my-aws", "my-aws")


def test_per_plugin_limits(srv):
    hostile = PLUGIN_DIR / "hostile.wasm"
    r = register(srv, "slowpoke", sha256=sha(hostile), component=b64(hostile), timeout="300ms",
                 memory_limit="32MiB")
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == ['the component calls itself "hostile"; it is registered as "slowpoke"']
    rec = assert_json(srv.get("sys/plugins/catalog/secret/slowpoke"), 200)["data"]
    assert rec["timeout"] == 0.3 and rec["memory_limit"] == 32 << 20
    srv.enable("slowpoke", "slowpoke")
    # The plugin's own deadline (not the server's default) ended the call: the error names it.
    assert_errors(srv.get("slowpoke/loop"), 500, "exceeded its deadline of 300ms")
    assert_errors(srv.get("slowpoke/bomb"), 500, "memory limit of 33554432 bytes")
    assert assert_json(srv.get("slowpoke/ok"), 200)["data"] == {"ok": True}


# --- catalog -----------------------------------------------------------------------------


def test_catalog_list_read_deregister(srv):
    for path in (V1, V2):
        assert register(srv, "cat", sha256=sha(path), component=b64(path)).status_code in (200, 204)
    listing = assert_json(srv.get("sys/plugins/catalog"), 200)["data"]
    assert "cat" in listing["secret"] and "kv" in listing["secret"]
    detailed = {(d["name"], d["version"]): d for d in listing["detailed"]}
    assert detailed[("cat", "v1.0.0")]["sha256"] == sha(V1)
    assert detailed[("cat", "v2.0.0")]["builtin"] is False
    assert any(d["name"] == "kv" and d["builtin"] and d["version"].endswith("+builtin")
               for d in listing["detailed"])
    keys = assert_json(srv.list("sys/plugins/catalog/secret"), 200)["data"]["keys"]
    assert "cat" in keys and "aws" in keys

    rec = assert_json(srv.get("sys/plugins/catalog/secret/cat"), 200)["data"]
    assert rec["version"] == "v2.0.0" and rec["versions"] == ["v1.0.0", "v2.0.0"]
    rec = assert_json(srv.get("sys/plugins/catalog/secret/cat?version=v1.0.0"), 200)["data"]
    assert rec["sha256"] == sha(V1) and rec["builtin"] is False and rec["name"] == "cat"
    assert srv.get("sys/plugins/catalog/secret/cat?version=v3.0.0").status_code == 404
    kv = assert_json(srv.get("sys/plugins/catalog/secret/kv"), 200)["data"]
    assert kv["builtin"] is True

    cli = Cli(srv)
    rc, out, err = cli("plugin", "list", "secret")
    assert rc == 0, err
    assert out.splitlines()[0].split() == ["Name", "Type", "Version"]
    assert any(l.split() == ["cat", "secret", "v1.0.0"] for l in out.splitlines())
    rc, out, err = cli("plugin", "info", "-version=v1.0.0", "secret", "cat")
    assert rc == 0, err
    assert any(l.split() == ["sha256", sha(V1)] for l in out.splitlines())

    srv.enable("cat", "cat")  # runs v2
    assert_errors(srv.delete("sys/plugins/catalog/secret/cat?version=v2.0.0"), 400,
                  "it is running at cat/")
    rc, out, err = cli("plugin", "deregister", "-version=v1.0.0", "secret", "cat")
    assert rc == 0, err
    assert out.strip() == "Success! Deregistered plugin (if it was registered): cat"
    assert srv.get("sys/plugins/catalog/secret/cat?version=v1.0.0").status_code == 404
    assert srv.delete("sys/plugins/catalog/secret/cat?version=v1.0.0").status_code == 204


def test_catalog_survives_restart(make_server, plugin_dir, tmp_path):
    srv = make_server(f"-dev-plugin-dir={plugin_dir}", f"-dev-storage={tmp_path / 'data'}")
    assert register(srv, "keep", sha256=sha(V1), command="versioned-v1.wasm").status_code in (200, 204)
    assert register(srv, "keep", sha256=sha(V2), component=b64(V2)).status_code in (200, 204)
    srv.enable("keep", "keep", config={"plugin_version": "v1.0.0"})
    srv.enable("keep2", "keep")
    srv.restart()
    assert assert_json(srv.get("keep/version"), 200)["data"]["version"] == "v1.0.0"
    assert assert_json(srv.get("keep2/version"), 200)["data"]["version"] == "v2.0.0"
    rec = assert_json(srv.get("sys/plugins/catalog/secret/keep"), 200)["data"]
    assert rec["versions"] == ["v1.0.0", "v2.0.0"]
    # A registered file changed while the server was down is refused at unseal; the
    # mount reports the reason instead of running unverified code.
    srv.stop()
    shutil.copy(V2, plugin_dir / "versioned-v1.wasm")
    srv.start()
    assert_errors(srv.get("keep/version"), 500, "checksums did not match")
    assert assert_json(srv.get("keep2/version"), 200)["data"]["version"] == "v2.0.0"


# --- watched directory ----------------------------------------------------------------


def test_watched_plugin_directory(make_server, plugin_dir):
    srv = make_server(f"-dev-plugin-dir={plugin_dir}", "-plugin-dir-watch")
    shutil.copy(V1, plugin_dir / "watched.wasm")
    rec = wait_for(lambda: srv.get("sys/plugins/catalog/secret/watched").status_code == 200)
    assert rec, srv.output()
    rec = assert_json(srv.get("sys/plugins/catalog/secret/watched"), 200)["data"]
    assert rec["version"] == "v1.0.0" and rec["sha256"] == sha(V1)
    srv.enable("watched", "watched")
    with Load(srv, "watched", threads=2) as load:
        time.sleep(0.5)
        t0 = time.monotonic()
        tmp = plugin_dir / ".watched.tmp"
        shutil.copy(V2, tmp)
        os.replace(tmp, plugin_dir / "watched.wasm")
        first_v2 = wait_for(lambda: next(
            (end for _, end, v in sorted(load.samples) if v == "v2.0.0"), None))
        time.sleep(0.5)
    assert first_v2, srv.output()
    assert load.failures == [], load.failures[:5]
    print(f"\n[plugins] watched dir: file replaced to first request on v2: "
          f"{(first_v2 - t0)*1000:.0f} ms ({load.count} requests, 0 failed)")
    versions = [v["version"] for v in assert_json(srv.get("sys/plugins/catalog"), 200)["data"]["detailed"]
                if v["name"] == "watched"]
    assert versions == ["v1.0.0", "v2.0.0"]


# --- slow compiles -----------------------------------------------------------------------


def test_slow_compile_does_not_stall_other_mounts(make_server, tmp_path):
    passgen = PLUGIN_DIR / "passgen.wasm"
    if not passgen.exists():
        pytest.skip("passgen.wasm not built")
    srv = make_server(f"-cache-dir={tmp_path / 'cache'}", f"-dev-storage={tmp_path / 'data'}")
    srv.put("secret/data/ping", json={"data": {"v": "1"}})
    result = {}

    def do_register():
        t = time.monotonic()
        result["r"] = register(srv, "passgen", sha256=sha(passgen), component=b64(passgen))
        result["s"] = time.monotonic() - t

    th = threading.Thread(target=do_register)
    th.start()
    worst, n = 0.0, 0
    while th.is_alive():
        t = time.monotonic()
        r = srv.get("secret/data/ping")
        assert r.status_code == 200
        worst, n = max(worst, time.monotonic() - t), n + 1
        time.sleep(0.01)
    th.join()
    assert result["r"].status_code in (200, 204), result["r"].text
    # Behaviour, not speed: reads kept being answered while the component compiled (a
    # compile holding a lock other requests need would let at most one through).
    assert n >= 3, f"only {n} kv reads were answered during a {result['s']:.1f} s compile"
    srv.enable("pg", "passgen")
    srv.restart()  # compiled code now comes from the on-disk cache
    t0 = time.monotonic()
    body = assert_json(reload(srv, plugin="passgen"), 200)
    warm = time.monotonic() - t0
    # The restart's mount loaded the compiled code from the on-disk cache, and so does
    # the reload.
    assert body["data"]["reloaded"][0]["from_cache"] is True, body
    print(f"\n[plugins] JS passgen ({passgen.stat().st_size >> 20} MiB): register with cold "
          f"compile {result['s']:.2f} s, {n} kv reads meanwhile, slowest {worst*1000:.1f} ms; "
          f"after restart reload call {warm*1000:.0f} ms "
          f"(from_cache={body['data']['reloaded'][0]['from_cache']})")


# --- path-help ---------------------------------------------------------------------------


def test_path_help(srv):
    assert register(srv, "helpful", sha256=sha(V1), component=b64(V1)).status_code in (200, 204)
    srv.enable("helpful", "helpful")
    body = assert_json(srv.get("helpful/?help=1"), 200)
    assert "Test engine that reports its version" in body["help"]
    assert "^data/(?P<key>[^/]+)$" in body["help"]
    assert "Issue a leased secret" in body["help"]
    paths = body["openapi"]["paths"]
    assert paths["/helpful/data/{key}"]["parameters"][0]["name"] == "key"
    assert body["openapi"]["info"]["version"] == "v1.0.0"

    body = assert_json(srv.get("helpful/data/foo?help=1"), 200)
    assert "Matching Route: ^data/(?P<key>[^/]+)$" in body["help"]

    rc, out, err = Cli(srv)("path-help", "helpful/")
    assert rc == 0, err
    assert "## DESCRIPTION" in out and "## PATHS" in out and "leases/(?P<token>" in out
    rc, out, err = Cli(srv)("path-help", "secret/")
    assert rc == 0, err
    assert "Key/value secret storage" in out
