"""A TOTP secrets engine for Coffer, written in Python.

A subset of Vault's `totp` engine (https://developer.hashicorp.com/vault/api-docs/secret/totp)
in "provider" mode: Coffer holds the shared secret and hands out or checks codes.

    keys/<name>   write  generate=true issuer=.. account_name=..   -> {"url": "otpauth://..."}
                  write  key=<base32> | url=otpauth://...           -> 204
                  read   (account_name, algorithm, digits, issuer, period; never the key)
                  delete
    keys/         list
    code/<name>   read                  -> {"code": "123456"}
                  write code=123456     -> {"valid": true|false}; a code is accepted once

Built with `componentize-py ... --stub-wasi`: the engine has no WASI at all. Time, randomness
and storage come only from the host imports in ../../wit/imports.wit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
from urllib.parse import parse_qs, quote, unquote, urlencode, urlparse

from wit_world import exports
from componentize_py_types import Err
from wit_world.imports import clock, log, random, storage, types
from wit_world.imports.types import (
    EngineInfo,
    Error_Internal,
    Error_InvalidRequest,
    Error_NotFound,
    Error_UnsupportedOperation,
    Error_UnsupportedPath,
    LeaseTerms,
    Operation,
    Response,
)

VERSION = "v0.1.0"
ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
MAX_KEY_BYTES = 1024  # a decoded shared secret; RFC 4226 asks for at least 16 bytes


# --- small helpers ----------------------------------------------------------------


def invalid(msg: str) -> Err:
    return Err(Error_InvalidRequest(msg))


def respond(data: dict | None = None, warnings: list[str] | None = None) -> Response:
    return Response(
        data=None if data is None else json.dumps(data),
        lease=None,
        refresh_interval=None,
        warnings=warnings or [],
    )


def now_secs() -> float:
    return clock.now() / 1e9


def store_get(key: str) -> dict | None:
    try:
        raw = storage.get(key)
    except Err as e:
        raise Err(Error_Internal(f"storage read failed: {e.value}"))
    return None if raw is None else json.loads(raw)


def store_put(key: str, value: dict) -> None:
    try:
        storage.put(key, json.dumps(value).encode())
    except Err as e:
        raise Err(Error_Internal(f"storage write failed: {e.value}"))


def store_delete(key: str) -> None:
    try:
        storage.delete(key)
    except Err as e:
        raise Err(Error_Internal(f"storage delete failed: {e.value}"))


def store_list(prefix: str) -> list[str]:
    try:
        return storage.list_keys(prefix)
    except Err as e:
        raise Err(Error_Internal(f"storage list failed: {e.value}"))


def params(req: types.Request) -> dict:
    try:
        data = json.loads(req.data)
    except ValueError:
        raise invalid("request data is not JSON")
    # JSON null means "not provided".
    return {k: v for k, v in data.items() if v is not None}


def as_bool(d: dict, field: str, default: bool) -> bool:
    v = d.get(field, default)
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false", "1", "0", "t", "f"):
        return v.lower() in ("true", "1", "t")
    raise invalid(f"{field} must be a boolean")


def as_int(d: dict, field: str, default: int) -> int:
    v = d.get(field, default)
    if isinstance(v, bool):
        raise invalid(f"{field} must be an integer")
    if isinstance(v, int):
        return v
    if isinstance(v, str) and re.fullmatch(r"-?\d+", v.strip()):
        return int(v)
    raise invalid(f"{field} must be an integer")


def as_duration(d: dict, field: str, default: int) -> int:
    """Seconds, or a Go-style duration such as `30s`, `1m`, `1h30m`."""
    v = d.get(field, default)
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str):
        s = v.strip()
        if re.fullmatch(r"\d+", s):
            return int(s)
        parts = re.findall(r"(\d+)([hms])", s)
        if parts and "".join(n + u for n, u in parts) == s:
            return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    raise invalid(f"{field} must be a duration such as 30 or \"30s\"")


def as_str(d: dict, field: str, default: str = "") -> str:
    v = d.get(field, default)
    if not isinstance(v, str):
        raise invalid(f"{field} must be a string")
    return v


def b32decode(text: str) -> bytes:
    s = text.replace(" ", "").replace("-", "").upper().rstrip("=")
    s += "=" * (-len(s) % 8)
    try:
        return base64.b32decode(s)
    except (ValueError, TypeError):
        raise invalid("invalid key value: not base32")


def b32encode(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


# --- TOTP (RFC 6238 over RFC 4226) ----------------------------------------------------


def hotp(secret: bytes, counter: int, digits: int, algorithm: str) -> str:
    mac = hmac.new(secret, struct.pack(">Q", counter), ALGORITHMS[algorithm]).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % (10**digits)).zfill(digits)


def otpauth_url(key: dict) -> str:
    label = quote(f"{key['issuer']}:{key['account_name']}" if key["issuer"] else key["account_name"])
    q = {
        "secret": b32encode(base64.b64decode(key["key"])),
        "algorithm": key["algorithm"],
        "digits": key["digits"],
        "period": key["period"],
    }
    if key["issuer"]:
        q["issuer"] = key["issuer"]
    return f"otpauth://totp/{label}?{urlencode(q)}"


# --- paths ---------------------------------------------------------------------------


def key_name(rest: str) -> str:
    if not NAME_RE.match(rest):
        raise invalid(f"invalid key name {rest[:64]!r}: use letters, digits, '_', '-', '.', '@'")
    return rest


def load_key(name: str) -> dict | None:
    return store_get(f"key/{name}")


def write_key(name: str, p: dict) -> Response:
    generate = as_bool(p, "generate", False)
    exported = as_bool(p, "exported", True)
    key_size = as_int(p, "key_size", 20)
    issuer = as_str(p, "issuer")
    account = as_str(p, "account_name")
    period = as_duration(p, "period", 30)
    algorithm = as_str(p, "algorithm", "SHA1").upper()
    digits = as_int(p, "digits", 6)
    skew = as_int(p, "skew", 1)
    url = as_str(p, "url")
    key_text = as_str(p, "key")

    if url:
        if generate:
            raise invalid("a URL should not be passed if generate is true")
        u = urlparse(url)
        if u.scheme != "otpauth" or u.netloc != "totp":
            raise invalid("url must be an otpauth://totp/ URL")
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        label = unquote(u.path.lstrip("/"))
        if ":" in label:
            issuer_from_label, account_from_label = label.split(":", 1)
        else:
            issuer_from_label, account_from_label = "", label
        key_text = key_text or q.get("secret", "")
        issuer = issuer or q.get("issuer", issuer_from_label)
        account = account or account_from_label.strip()
        if "algorithm" in q and "algorithm" not in p:
            algorithm = q["algorithm"].upper()
        if "digits" in q and "digits" not in p:
            digits = as_int(q, "digits", 6)
        if "period" in q and "period" not in p:
            period = as_duration(q, "period", 30)

    if algorithm not in ALGORITHMS:
        raise invalid(f"unsupported algorithm {algorithm!r}: use SHA1, SHA256 or SHA512")
    if digits not in (6, 8):
        raise invalid("the digits value can only be 6 or 8")
    if period <= 0:
        raise invalid("the period value must be greater than zero")
    if skew not in (0, 1):
        raise invalid("the skew value must be 0 or 1")
    if len(issuer) > 256 or len(account) > 256:
        raise invalid("issuer and account_name are limited to 256 characters")

    if generate:
        if key_text:
            raise invalid("a key should not be passed if generate is true")
        if not issuer:
            raise invalid("the issuer value is required")
        if not account:
            raise invalid("the account_name value is required")
        if not 16 <= key_size <= MAX_KEY_BYTES:
            raise invalid(f"the key_size value must be between 16 and {MAX_KEY_BYTES}")
        secret = bytes(random.get_random_bytes(key_size))
    else:
        if not key_text:
            raise invalid("the key value is required")
        secret = b32decode(key_text)
        if not secret or len(secret) > MAX_KEY_BYTES:
            raise invalid(f"the key must decode to 1..{MAX_KEY_BYTES} bytes")

    key = {
        "key": base64.b64encode(secret).decode(),
        "issuer": issuer,
        "account_name": account,
        "period": period,
        "algorithm": algorithm,
        "digits": digits,
        "skew": skew,
    }
    store_put(f"key/{name}", key)
    # Codes recorded as used belong to the old secret.
    for used in store_list(f"used/{name}/"):
        store_delete(f"used/{name}/{used}")
    log.log(log.Level.INFO, f"stored totp key {name} (generated={generate})")
    if generate and exported:
        return respond({"url": otpauth_url(key)})
    return respond(None)


def read_key(name: str) -> Response:
    key = load_key(name)
    if key is None:
        raise Err(Error_NotFound(None))
    return respond({k: key[k] for k in ("account_name", "algorithm", "digits", "issuer", "period")})


def delete_key(name: str) -> Response:
    store_delete(f"key/{name}")
    for used in store_list(f"used/{name}/"):
        store_delete(f"used/{name}/{used}")
    return respond(None)


def generate_code(name: str) -> Response:
    key = load_key(name)
    if key is None:
        raise invalid(f"unknown key: {name}")
    counter = int(now_secs() // key["period"])
    return respond({"code": hotp(base64.b64decode(key["key"]), counter, key["digits"], key["algorithm"])})


def validate_code(name: str, p: dict) -> Response:
    code = as_str(p, "code")
    if not code:
        raise invalid("the code value is required")
    key = load_key(name)
    if key is None:
        raise invalid(f"unknown key: {name}")
    if not code.isdigit() or len(code) != key["digits"]:
        return respond({"valid": False})
    secret = base64.b64decode(key["key"])
    now = now_secs()
    counter = int(now // key["period"])
    for c in range(counter - key["skew"], counter + key["skew"] + 1):
        if hmac.compare_digest(hotp(secret, c, key["digits"], key["algorithm"]), code):
            used = f"used/{name}/{c}-{code}"
            if store_get(used) is not None:
                raise invalid("code already used; wait until the next time period")
            # Remember the code until it can no longer validate.
            expires = (c + key["skew"] + 1) * key["period"]
            store_put(used, {"expires": expires})
            return respond({"valid": True})
    return respond({"valid": False})


def route(req: types.Request) -> tuple[str, str]:
    """(kind, name) for a request path, or raises unsupported-path."""
    path = req.path
    if path in ("keys", "keys/"):
        return "keys", ""
    for prefix in ("keys/", "code/"):
        if path.startswith(prefix):
            rest = path[len(prefix) :].rstrip("/")
            if rest and "/" not in rest:
                return prefix[:-1], key_name(rest)
            if rest:
                raise invalid(f"invalid key name {rest[:64]!r}: use letters, digits, '_', '-', '.', '@'")
    raise Err(Error_UnsupportedPath())


# --- the export -----------------------------------------------------------------------


class Engine(exports.Engine):
    def info(self) -> EngineInfo:
        return EngineInfo(
            name="totp",
            version=VERSION,
            description="Time-based one-time passwords (RFC 6238), written in Python.",
            paths=[
                ("keys/?$", "List the TOTP keys."),
                ("keys/<name>", "Create (generate=true, or key/url), read or delete a TOTP key."),
                ("code/<name>", "Read the current code, or write `code` to validate one."),
            ],
        )

    def read(self, req: types.Request) -> Response:
        kind, name = route(req)
        if kind == "keys" and name:
            return read_key(name)
        if kind == "code":
            return generate_code(name)
        raise Err(Error_UnsupportedOperation())

    def write(self, req: types.Request) -> Response:
        kind, name = route(req)
        if kind == "keys" and name:
            return write_key(name, params(req))
        if kind == "code":
            return validate_code(name, params(req))
        raise Err(Error_UnsupportedOperation())

    def delete(self, req: types.Request) -> Response:
        kind, name = route(req)
        if kind == "keys" and name:
            return delete_key(name)
        raise Err(Error_UnsupportedOperation())

    def list(self, req: types.Request) -> Response:
        kind, name = route(req)
        if kind == "keys" and not name:
            keys = [k for k in store_list("key/") if not k.endswith("/")]
            return respond({"keys": keys})
        raise Err(Error_UnsupportedOperation())

    def renew(self, lease: types.Lease) -> LeaseTerms:
        raise Err(Error_InvalidRequest("the totp engine grants no leases"))

    def revoke(self, lease: types.Lease) -> None:
        # Never grants leases; nothing to undo.
        return None

    def periodic(self, mount: types.Mount) -> None:
        """Forgets used codes once they can no longer validate."""
        now = now_secs()
        for name in store_list("used/"):
            for used in store_list(f"used/{name}"):
                entry = store_get(f"used/{name}{used}")
                if entry is None or entry.get("expires", 0) <= now:
                    store_delete(f"used/{name}{used}")
