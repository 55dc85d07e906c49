"""The engine conformance suite: checks any secrets engine component, over HTTP only,
against what the Coffer host and Vault clients expect of an engine.

An engine is described by an `EngineFixture`: how to mount and configure it, one
writable item (path, valid body, what reading it back must show), bad inputs, the
prefix that lists items, and optionally a path whose read issues a secret under a lease
together with probes that make the effect of `renew` and `revoke` observable (an IAM
user gone, a revocation record in the engine's storage, ...).

`Conformance(server, fixture, ctx)` mounts the engine at a fresh path and runs the
checks; every check ends with `assert_healthy`: the server still answers
`sys/health` 200 and a second, unrelated mount still serves reads, so a misbehaving
engine can fail only its own requests. tests/test_conformance.py runs the suite on kv
(v1 and v2), aws (against moto), and the Python and JavaScript example engines.

Paths in a fixture are templates: `{name}` becomes a fresh item name.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Callable

import requests

from conftest import Server, assert_json

# A storage key (mount prefix included) longer than this is refused by the host's
# storage with `invalid-key`: an engine that stores an item under its name gets a
# storage error it must turn into a clean error answer.
STORAGE_KEY_LIMIT = 4096


@dataclass
class LeaseCheck:
    """A path whose `read` issues a secret under a lease."""

    path: str
    renewable: bool
    # (conformance, response body) -> None: runs after a renew; asserts its effect.
    after_renew: Callable[["Conformance", dict], None] | None = None
    # (conformance, response body) -> None: asserts the secret works before revoke.
    before_revoke: Callable[["Conformance", dict], None] | None = None
    # (conformance, response body) -> None: asserts the engine undid the secret.
    after_revoke: Callable[["Conformance", dict], None] | None = None


@dataclass
class EngineFixture:
    """What the conformance suite needs to know about one engine."""

    id: str
    type: str
    # Mount options (`options` of sys/mounts), e.g. {"version": "2"}.
    options: dict[str, str] = field(default_factory=dict)
    # (conformance) -> None: configures a fresh mount (credentials, roles, ...).
    setup: Callable[["Conformance"], None] | None = None
    # The writable item: written with `body`, read back from `read` (default: `item`),
    # whose `data` must contain `expect` (default: `body`) as a subset, checked by
    # `extract` (default: the envelope's `data`).
    item: str = "{name}"
    body: dict[str, Any] = field(default_factory=dict)
    read: str | None = None
    expect: dict[str, Any] | None = None
    extract: Callable[[dict], dict] = lambda body: body["data"]
    # Where deleting the item happens (default: `item`); after it, `read` is 404.
    delete: str | None = None
    # LIST here shows the item's name.
    list_path: str = ""
    # (method, path, body) triples the engine must refuse with 400 and a message.
    bad: list[tuple[str, str, dict]] = field(default_factory=list)
    # (method, path) pairs the engine does not support: 404 or 405 with a message.
    unsupported: list[tuple[str, str]] = field(default_factory=list)
    lease: LeaseCheck | None = None
    # The largest field value the item accepts (a bigger body must fail cleanly).
    big_field: str | None = None


def _subset(expect: dict, got: dict, where: str) -> None:
    for k, v in expect.items():
        assert k in got, f"{where}: {k!r} missing from {got}"
        if isinstance(v, dict) and isinstance(got[k], dict):
            _subset(v, got[k], f"{where}.{k}")
        else:
            assert got[k] == v, f"{where}: {k!r} is {got[k]!r}, expected {v!r}"


def assert_error_body(r: requests.Response, statuses: tuple[int, ...], *, message: bool) -> list:
    """Vault's error shape: JSON `{"errors": [...]}`, with a message when `message`."""
    assert r.status_code in statuses, (
        f"{r.request.method} {r.url}: expected one of {statuses}, got {r.status_code}: {r.text[:500]}"
    )
    body = assert_json(r, r.status_code)
    assert isinstance(body.get("errors"), list), f"{r.request.method} {r.url}: no errors list: {body}"
    if message:
        assert body["errors"] and all(isinstance(e, str) and e for e in body["errors"]), body
    return body["errors"]


class Conformance:
    """Runs the conformance checks for one fixture against one running server."""

    def __init__(self, server: Server, fixture: EngineFixture, control: str, ctx: Any = None):
        self.server = server
        self.fx = fixture
        self.control = control  # a kv v1 mount holding `probe` = {"ok": "yes"}
        self.ctx = ctx  # fixture-specific context (the AwsAccount for aws)
        self.state: dict[str, Any] = {}  # for the fixture's callbacks
        self.mount = f"conf-{fixture.id}-{secrets.token_hex(3)}"
        body: dict[str, Any] = {"type": fixture.type}
        if fixture.options:
            body["options"] = fixture.options
        r = server.post(f"sys/mounts/{self.mount}", json=body)
        assert r.status_code in (200, 204), f"mount {fixture.type}: {r.status_code} {r.text}"
        if fixture.setup:
            fixture.setup(self)

    # --- helpers -----------------------------------------------------------------------

    def p(self, template: str, name: str = "") -> str:
        return f"{self.mount}/{template.format(name=name)}"

    def call(self, method: str, template: str, name: str = "", **kw) -> requests.Response:
        return self.server.request(method, self.p(template, name), **kw)

    def write_item(self, name: str, body: dict | None = None) -> requests.Response:
        return self.call("POST", self.fx.item, name, json=self.fx.body if body is None else body)

    def assert_healthy(self) -> None:
        r = self.server.get("sys/health")
        assert r.status_code == 200, f"sys/health after {self.fx.id}: {r.status_code} {r.text}"
        r = self.server.get(f"{self.control}/probe")
        body = assert_json(r, 200)
        assert body["data"] == {"ok": "yes"}, body

    # --- the checks --------------------------------------------------------------------

    def check_info(self) -> None:
        """`?help=1` answers from the engine's info(); the mount shows its type."""
        for path in (self.mount, self.p(self.fx.item, "x")):
            body = assert_json(self.server.get(f"{path}?help=1"), 200)
            help_text = body["data"]["help"]
            assert isinstance(help_text, str) and "## DESCRIPTION" in help_text, body
            assert "## PATHS" in help_text, body
        mounts = assert_json(self.server.get("sys/mounts"), 200)
        entry = mounts.get("data", mounts)[f"{self.mount}/"]
        assert entry["type"] == self.fx.type, entry

    def check_write_read(self) -> None:
        name = "item-" + secrets.token_hex(3)
        r = self.write_item(name)
        assert r.status_code in (200, 204), f"write: {r.status_code} {r.text}"
        body = assert_json(self.call("GET", self.fx.read or self.fx.item, name), 200)
        assert body["lease_id"] == "" and isinstance(body["request_id"], str), body
        _subset(self.fx.expect if self.fx.expect is not None else self.fx.body,
                self.fx.extract(body), "read back")
        # writing again (an update) works and reads back the same
        r = self.write_item(name)
        assert r.status_code in (200, 204), f"rewrite: {r.status_code} {r.text}"
        body = assert_json(self.call("GET", self.fx.read or self.fx.item, name), 200)
        _subset(self.fx.expect if self.fx.expect is not None else self.fx.body,
                self.fx.extract(body), "read back after the rewrite")

    def check_list(self) -> None:
        names = sorted("ls-" + secrets.token_hex(3) for _ in range(2))
        for n in names:
            r = self.write_item(n)
            assert r.status_code in (200, 204), f"write {n}: {r.status_code} {r.text}"
        for method, kw in (("LIST", {}), ("GET", {"params": {"list": "true"}})):
            body = assert_json(self.call(method, self.fx.list_path, **kw), 200)
            keys = body["data"]["keys"]
            assert set(names) <= set(keys), f"{method} {self.fx.list_path}: {keys}"
            assert keys == sorted(keys), f"keys are not sorted: {keys}"

    def check_delete(self) -> None:
        name = "del-" + secrets.token_hex(3)
        r = self.write_item(name)
        assert r.status_code in (200, 204), f"write: {r.status_code} {r.text}"
        r = self.call("DELETE", self.fx.delete or self.fx.item, name)
        assert r.status_code in (200, 204), f"delete: {r.status_code} {r.text}"
        r = self.call("GET", self.fx.read or self.fx.item, name)
        assert_json(r, 404)
        assert r.json() == {"errors": []}, f"a read after delete: {r.text}"
        # deleting what is not there succeeds, as in Vault
        r = self.call("DELETE", self.fx.delete or self.fx.item, name)
        assert r.status_code in (200, 204), f"second delete: {r.status_code} {r.text}"
        # and a name that never existed reads as 404 {"errors":[]}
        r = self.call("GET", self.fx.read or self.fx.item, "never-" + secrets.token_hex(3))
        assert_json(r, 404)
        assert r.json() == {"errors": []}, r.text

    def check_bad_input(self) -> None:
        assert self.fx.bad, f"{self.fx.id}: the fixture names no bad input"
        for method, template, body in self.fx.bad:
            r = self.call(method, template, "bad-" + secrets.token_hex(3), json=body)
            assert_error_body(r, (400,), message=True)

    def check_unknown_paths(self) -> None:
        r = self.call("GET", "no-such-path-" + secrets.token_hex(3) + "/x/y/z")
        # kv serves every path (404 {"errors":[]}); others say "unsupported path"
        assert_error_body(r, (404, 405), message=self.fx.type not in ("kv",))
        for method, template in self.fx.unsupported:
            r = self.call(method, template, "x")
            errors = assert_error_body(r, (404, 405), message=True)
            assert any("unsupported" in e for e in errors), errors

    def check_storage_errors(self) -> None:
        """Errors the host's storage returns reach the client as clean errors."""
        # A name so long that the storage key is refused (`invalid-key`): either the
        # engine validates names first (400) or its storage call fails (4xx/5xx).
        name = "k" * (STORAGE_KEY_LIMIT + 100)
        r = self.write_item(name)
        assert_error_body(r, tuple(range(400, 600)), message=True)
        r = self.call("GET", self.fx.read or self.fx.item, name)
        assert 400 <= r.status_code < 600, r.status_code
        assert_json(r, r.status_code)
        self.assert_healthy()
        # A 2 MiB field: stored and read back, or refused with a clean error.
        if self.fx.big_field:
            body = dict(self.fx.body)
            _set_path(body, self.fx.big_field, "x" * (2 * 1024 * 1024))
            name = "big-" + secrets.token_hex(3)
            r = self.write_item(name, body)
            if r.status_code in (200, 204):
                assert_json(self.call("GET", self.fx.read or self.fx.item, name), 200)
            else:
                assert_error_body(r, tuple(range(400, 600)), message=True)

    def check_lease(self) -> None:
        lc = self.fx.lease
        assert lc is not None
        body = assert_json(self.call("GET", lc.path, "lease"), 200)
        lease_id = body["lease_id"]
        assert lease_id.startswith(self.p(lc.path, "lease") + "/"), body
        assert body["lease_duration"] > 0 and body["renewable"] is lc.renewable, body
        looked = assert_json(self.server.put("sys/leases/lookup", json={"lease_id": lease_id}), 200)
        assert looked["data"]["id"] == lease_id and looked["data"]["renewable"] is lc.renewable
        if lc.before_revoke:
            lc.before_revoke(self, body)

        r = self.server.put("sys/leases/renew", json={"lease_id": lease_id, "increment": 30})
        if lc.renewable:
            renewed = assert_json(r, 200)
            assert renewed["lease_id"] == lease_id and 0 < renewed["lease_duration"] <= 30, renewed
            if lc.after_renew:
                lc.after_renew(self, body)
        else:
            assert_error_body(r, (400,), message=True)

        r = self.server.put("sys/leases/revoke", json={"lease_id": lease_id})
        assert r.status_code == 204, f"revoke: {r.status_code} {r.text}"
        r = self.server.put("sys/leases/lookup", json={"lease_id": lease_id})
        assert_error_body(r, (400,), message=True)
        if lc.after_revoke:
            lc.after_revoke(self, body)
        self.assert_healthy()


def _set_path(body: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for p in parents:
        body[p] = dict(body[p])
        body = body[p]
    body[last] = value


CHECKS = ["info", "write_read", "list", "delete", "bad_input", "unknown_paths",
          "storage_errors", "lease"]
