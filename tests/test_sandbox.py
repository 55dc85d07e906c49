"""Engines are untrusted guests (DESIGN §4): a runaway engine fails its own request with
a 500 naming the engine and the cause, and the server and other mounts carry on.

Uses the test guests from tests/guests (built into target/test-plugins by scripts/test):
`hostile` answers `ok`, and misbehaves on `loop` (never returns), `bomb` (grows memory
without bound), `panic` (traps) and `huge` (returns a response larger than the host
accepts); `sneaky` imports an interface (`test:sneaky/exfil`) the host never grants.
"""

import threading
import time

import pytest

from conftest import PLUGIN_DIR, Server, assert_errors, assert_json, unique

TIMEOUT_S = 2


@pytest.fixture(scope="module")
def server():
    for name in ("hostile", "sneaky"):
        if not (PLUGIN_DIR / f"{name}.wasm").exists():
            pytest.fail(f"{PLUGIN_DIR}/{name}.wasm is missing: scripts/test builds it",
                        pytrace=False)
    s = Server(
        f"-dev-plugin-dir={PLUGIN_DIR}",
        f"-engine-timeout={TIMEOUT_S}s",
        "-engine-memory-limit=67108864",
    ).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def hostile(server):
    r = server.post("sys/mounts/hostile-mount", json={"type": "hostile"})
    assert r.status_code in (200, 204), f"mounting hostile: {r.status_code} {r.text}"
    return "hostile-mount"


def still_healthy(server, hostile):
    r = server.get(f"{hostile}/ok")
    assert_json(r, 200)
    p = unique("alive")
    w = server.post(f"secret/data/{p}", json={"data": {"alive": "yes"}})
    assert w.status_code == 200, w.text
    body = assert_json(server.get(f"secret/data/{p}"), 200)
    assert body["data"]["data"] == {"alive": "yes"}


def test_ok(server, hostile):
    body = assert_json(server.get(f"{hostile}/ok"), 200)
    assert body["mount_type"] == "hostile"


def test_mount_listed_with_type(server, hostile):
    mounts = server.get("sys/mounts").json()["data"]
    assert mounts[f"{hostile}/"]["type"] == "hostile"


def test_infinite_loop_hits_deadline(server, hostile):
    # The deadline, not the client's 30 s timeout, ends the call: the error says so.
    r = server.get(f"{hostile}/loop", timeout=30)
    errs = assert_errors(r, 500, "hostile")
    joined = " ".join(errs).lower()
    assert "deadline" in joined or "timeout" in joined or "timed out" in joined, errs
    still_healthy(server, hostile)


def test_memory_bomb(server, hostile):
    assert_errors(server.get(f"{hostile}/bomb", timeout=30), 500, "hostile", "memory")
    still_healthy(server, hostile)


def test_panic(server, hostile):
    assert_errors(server.get(f"{hostile}/panic", timeout=30), 500, "hostile")
    still_healthy(server, hostile)


def test_huge_response(server, hostile):
    r = server.get(f"{hostile}/huge", timeout=30)
    errs = assert_errors(r, 500, "hostile")
    joined = " ".join(errs).lower()
    assert "response" in joined and ("size" in joined or "large" in joined or "limit" in joined), errs
    still_healthy(server, hostile)


def rss_bytes(server) -> int:
    """The server process's resident memory."""
    for line in open(f"/proc/{server.proc.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc status")


def test_repeated_failures_do_not_leak(server, hostile):
    # Each failed call's instance (and its up to 64 MiB of guest memory) is dropped: a
    # trapped instance neither poisons the next call nor stays behind. Warm up first so
    # one-off allocations (compiled code, pools, caches) are in the baseline.
    for _ in range(3):
        assert server.get(f"{hostile}/panic", timeout=30).status_code == 500
        assert server.get(f"{hostile}/bomb", timeout=30).status_code == 500
    before = rss_bytes(server)
    rounds = 20
    for _ in range(rounds):
        assert server.get(f"{hostile}/panic", timeout=30).status_code == 500
        assert server.get(f"{hostile}/ok").status_code == 200
        assert server.get(f"{hostile}/bomb", timeout=30).status_code == 500
    grown = rss_bytes(server) - before
    # A leaked bomb alone would keep 64 MiB per round (1.25 GiB here); allow for
    # allocator noise of a few MiB, far below one leaked instance's memory.
    assert grown < 48 << 20, f"RSS grew by {grown >> 20} MiB over {rounds} failing rounds"
    still_healthy(server, hostile)


def test_concurrent_loops_do_not_block_kv(server, hostile):
    p = unique("conc")
    assert server.post(f"secret/data/{p}", json={"data": {"v": "1"}}).status_code == 200
    results: list[int] = []
    stop = threading.Event()

    def loop():
        # Keeps a looping call running until the reads are done, however slow the
        # machine, so the reads below really run beside four spinning engines.
        while not stop.is_set():
            results.append(server.get(f"{hostile}/loop", timeout=60).status_code)

    threads = [threading.Thread(target=loop) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)  # let the loops start burning CPU
    try:
        for _ in range(3):
            r = server.get(f"secret/data/{p}", timeout=30)
            assert r.status_code == 200, r.text
            assert r.json()["data"]["data"] == {"v": "1"}
        loops_running = any(t.is_alive() for t in threads)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert loops_running, "the loops stopped before the kv reads were done"
    # Every looping call ended at its own deadline, none was lost or hung.
    assert results and set(results) == {500}, results
    still_healthy(server, hostile)


def test_sneaky_import_rejected(server):
    r = server.post("sys/mounts/sneaky-mount", json={"type": "sneaky"})
    assert_errors(r, 400, "exfil")
    mounts = server.get("sys/mounts").json()["data"]
    assert "sneaky-mount/" not in mounts, "nothing may be mounted"
    assert_errors(server.get("sneaky-mount/anything"), 404, "no handler for route")


def test_a_call_that_fails_after_writing_leaves_no_write_behind(server, hostile):
    # An engine call's writes are committed together when it returns; this one stores
    # an entry and then panics, so the entry must never appear.
    assert assert_json(server.get(f"{hostile}/half"), 200)["data"] == {"present": False}
    assert_errors(server.post(f"{hostile}/half", json={}, timeout=30), 500, "hostile")
    body = assert_json(server.get(f"{hostile}/half"), 200)
    assert body["data"] == {"present": False}, body
    still_healthy(server, hostile)
