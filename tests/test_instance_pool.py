"""Warm-instance pool (host/src/runtime/pool.rs): engines whose fresh instance is
expensive reuse instances of the same mount, and an instance is reused only after a call
that ended cleanly.

The hostile guest (tests/guests/hostile) is a cheap Rust engine, so the first server
forces pooling for every engine with COFFER_INSTANCE_POOL=always: each of its failure
modes (trap, deadline, memory bomb, oversized response) must leave later calls of the
same mount, and of other mounts, working. The second server runs the default measured
strategy, which must pool the Python example engine (milliseconds per fresh instance)
and the built-in engines, and leave a cheap Rust plugin fresh.
"""

import re
import threading

import pytest

from conftest import PLUGIN_DIR, Server, assert_errors, assert_json, unique

TIMEOUT_S = 2


def require(*names):
    for name in names:
        if not (PLUGIN_DIR / f"{name}.wasm").exists():
            pytest.fail(f"{PLUGIN_DIR}/{name}.wasm is missing: scripts/test builds it",
                        pytrace=False)


def strategies(server: Server) -> dict[str, str]:
    """engine name -> strategy, from the server's "engine loaded" log lines."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", server.stdout() + server.stderr())
    found = {}
    for line in text.splitlines():
        if "engine loaded" in line:
            engine = re.search(r'engine="?([\w-]+)', line)
            strategy = re.search(r"strategy=(\w+)", line)
            if engine and strategy:
                found[engine.group(1)] = strategy.group(1)
    return found


@pytest.fixture(scope="module")
def pooled():
    require("hostile")
    s = Server(
        f"-dev-plugin-dir={PLUGIN_DIR}",
        f"-engine-timeout={TIMEOUT_S}s",
        "-engine-memory-limit=67108864",
    )
    s.extra_env["COFFER_INSTANCE_POOL"] = "always"
    s.start()
    try:
        for mount in ("pool-a", "pool-b"):
            r = s.post(f"sys/mounts/{mount}", json={"type": "hostile"})
            assert r.status_code in (200, 204), f"mounting {mount}: {r.status_code} {r.text}"
        yield s
    finally:
        s.stop()


def ok(server, mount="pool-a"):
    body = assert_json(server.get(f"{mount}/ok"), 200)
    assert body["data"] == {"ok": True}, body


def test_hostile_is_pooled_when_forced(pooled):
    ok(pooled)
    assert strategies(pooled).get("hostile") == "Pooled", pooled.output()


@pytest.mark.parametrize("path,fragment", [
    ("panic", "crashed"),
    ("loop", "deadline"),
    ("bomb", "memory"),
    ("huge", "response"),
])
def test_a_failing_call_does_not_poison_later_calls(pooled, path, fragment):
    for _ in range(3):
        ok(pooled)  # leaves a warm instance behind
    assert_errors(pooled.get(f"pool-a/{path}", timeout=30), 500, "hostile", fragment)
    for _ in range(5):
        ok(pooled)
    ok(pooled, "pool-b")


def test_failures_interleaved_with_successes(pooled):
    for _ in range(5):
        assert pooled.get("pool-a/panic", timeout=30).status_code == 500
        ok(pooled)
        ok(pooled, "pool-b")


def test_concurrent_traps_and_successes(pooled):
    statuses: dict[str, list[int]] = {"ok": [], "panic": []}
    lock = threading.Lock()

    def hit(path, mount):
        for _ in range(10):
            code = pooled.get(f"{mount}/{path}", timeout=30).status_code
            with lock:
                statuses[path].append(code)

    threads = [threading.Thread(target=hit, args=(p, m))
               for p in ("ok", "panic") for m in ("pool-a", "pool-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses["ok"] == [200] * 20, statuses
    assert statuses["panic"] == [500] * 20, statuses


def test_kv_still_works(pooled):
    p = unique("pool")
    assert pooled.post(f"secret/data/{p}", json={"data": {"v": "1"}}).status_code == 200
    for _ in range(3):
        body = assert_json(pooled.get(f"secret/data/{p}"), 200)
        assert body["data"]["data"] == {"v": "1"}


# --- the measured default ----------------------------------------------------------------


@pytest.fixture(scope="module")
def measured():
    require("totp", "hostile")
    # The shared compiled-code cache (as test_conformance): compiling the 18 MB Python
    # component cold takes tens of seconds on a loaded machine.
    s = Server(f"-dev-plugin-dir={PLUGIN_DIR}", f"-cache-dir={PLUGIN_DIR / 'cache'}").start()
    try:
        yield s
    finally:
        s.stop()


def test_python_engine_is_pooled_and_mounts_stay_apart(measured):
    for mount in ("otp-a", "otp-b"):
        r = measured.post(f"sys/mounts/{mount}", json={"type": "totp"}, timeout=180)
        assert r.status_code in (200, 204), r.text
    assert strategies(measured).get("totp") == "Pooled", measured.output()
    # Built-in engines are pooled; a cheap third-party Rust plugin stays fresh.
    assert strategies(measured).get("kv") == "Pooled", measured.output()
    r = measured.post("sys/mounts/cheap", json={"type": "hostile"})
    assert r.status_code in (200, 204), r.text
    assert strategies(measured).get("hostile") == "Fresh", measured.output()
    key = {"key": "JBSWY3DPEHPK3PXP", "issuer": "Coffer", "account_name": "a@example.com"}
    r = measured.post("otp-a/keys/only-a", json=key)
    assert r.status_code in (200, 204), r.text
    for _ in range(5):
        code = assert_json(measured.get("otp-a/code/only-a"), 200)["data"]["code"]
        assert re.fullmatch(r"\d{6}", code), code
        # the other mount's warm instances never see mount a's key
        assert_errors(measured.get("otp-b/code/only-a"), 400, "unknown key")
    keys_b = measured.list("otp-b/keys")
    assert keys_b.status_code == 404, keys_b.text
