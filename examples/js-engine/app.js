// A password and passphrase generator for Coffer, written in JavaScript.
//
//   roles/<name>    write   type=password length=24 charset=...        (or)
//                           type=passphrase words=6 separator=-
//                           ttl=1h max_ttl=24h
//                   read | delete
//   roles/          list
//   creds/<name>    read    -> {"id", "password", "role"} under a renewable lease
//   issued/         list    credentials whose lease is live; issued/<id> read
//   revoked/        list    credentials whose lease was revoked; revoked/<id> read
//
// Every password is drawn from the host's `random` import (never Math.random or
// crypto.getRandomValues: the component is built without WASI, so those are
// deterministic). The engine keeps a record of each credential it issued; the host calls
// `revoke` when the lease expires or is revoked, and the engine moves the record from
// `issued/` to `revoked/` so an operator (and the tests) can see it happened.

import * as storage from 'coffer:engine/storage@0.1.0';
import { now } from 'coffer:engine/clock@0.1.0';
import { getRandomBytes } from 'coffer:engine/random@0.1.0';
import { log } from 'coffer:engine/log@0.1.0';
import { WORDS } from './words.js';

const VERSION = 'v0.1.0';
const DEFAULT_CHARSET =
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%+-.:=@^_~';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ID_RE = /^[0-9a-f]{32}$/;
const REVOKED_KEEP_SECS = 7 * 24 * 3600;

// --- errors: thrown as the WIT `error` variant ------------------------------------------

const invalid = (msg) => ({ tag: 'invalid-request', val: msg });
const notFound = () => ({ tag: 'not-found', val: undefined });
const unsupportedPath = () => ({ tag: 'unsupported-path' });
const unsupportedOperation = () => ({ tag: 'unsupported-operation' });
const internal = (msg) => ({ tag: 'internal', val: msg });

// Imported functions that return `result` throw on `err`; the variant is the payload.
function storageCall(what, f) {
  try {
    return f();
  } catch (e) {
    const p = e && e.payload ? e.payload : e;
    const detail = p && p.tag ? `${p.tag}: ${p.val}` : String(p);
    throw internal(`storage ${what} failed: ${detail}`);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function getJSON(key) {
  const raw = storageCall('read', () => storage.get(key));
  return raw === undefined || raw === null ? null : JSON.parse(dec.decode(raw));
}
const putJSON = (key, value) =>
  storageCall('write', () => storage.put(key, enc.encode(JSON.stringify(value))));
const del = (key) => storageCall('delete', () => storage['delete'](key));
const list = (prefix) => storageCall('list', () => storage.listKeys(prefix));

// --- responses ------------------------------------------------------------------------

function respond(data, lease) {
  return {
    data: data === undefined ? undefined : JSON.stringify(data),
    lease,
    refreshInterval: undefined,
    warnings: [],
  };
}

const nowSecs = () => Number(now() / 1_000_000_000n);

// --- input ----------------------------------------------------------------------------

function params(req) {
  let d;
  try {
    d = JSON.parse(req.data);
  } catch {
    throw invalid('request data is not JSON');
  }
  const out = {};
  for (const [k, v] of Object.entries(d)) if (v !== null) out[k] = v; // null: not provided
  return out;
}

function int(p, field, dflt, min, max) {
  let v = p[field] ?? dflt;
  if (typeof v === 'string' && /^\s*\d+\s*$/.test(v)) v = Number(v);
  if (!Number.isInteger(v)) throw invalid(`${field} must be an integer`);
  if (v < min || v > max) throw invalid(`${field} must be between ${min} and ${max}`);
  return v;
}

// Seconds, or a Go-style duration such as "90s", "15m", "1h30m".
function duration(p, field, dflt) {
  const v = p[field] ?? dflt;
  if (Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const s = v.trim();
    if (/^\d+$/.test(s)) return Number(s);
    const parts = [...s.matchAll(/(\d+)([hms])/g)];
    if (parts.length && parts.map((m) => m[0]).join('') === s) {
      return parts.reduce((t, m) => t + Number(m[1]) * { h: 3600, m: 60, s: 1 }[m[2]], 0);
    }
  }
  throw invalid(`${field} must be a duration such as 3600 or "1h"`);
}

function str(p, field, dflt) {
  const v = p[field] ?? dflt;
  if (typeof v !== 'string') throw invalid(`${field} must be a string`);
  return v;
}

// --- randomness -------------------------------------------------------------------------

// A uniformly random integer in [0, n), n <= 65536, by rejection sampling.
function uniform(n) {
  const limit = 65536 - (65536 % n);
  for (;;) {
    const b = getRandomBytes(64);
    for (let i = 0; i + 1 < b.length; i += 2) {
      const x = (b[i] << 8) | b[i + 1];
      if (x < limit) return x % n;
    }
  }
}

function randomId() {
  return Array.from(getRandomBytes(16), (b) => b.toString(16).padStart(2, '0')).join('');
}

function generate(role) {
  if (role.type === 'passphrase') {
    const words = [];
    for (let i = 0; i < role.words; i++) words.push(WORDS[uniform(WORDS.length)]);
    return words.join(role.separator);
  }
  const chars = Array.from(role.charset);
  let out = '';
  for (let i = 0; i < role.length; i++) out += chars[uniform(chars.length)];
  return out;
}

function entropyBits(role) {
  const per = role.type === 'passphrase' ? Math.log2(WORDS.length) : Math.log2(Array.from(role.charset).length);
  return Math.floor(per * (role.type === 'passphrase' ? role.words : role.length));
}

// --- roles ----------------------------------------------------------------------------

function parseRole(p, old) {
  const base = old ?? {};
  const type = str(p, 'type', base.type ?? 'password');
  if (type !== 'password' && type !== 'passphrase') {
    throw invalid('type must be "password" or "passphrase"');
  }
  const role = {
    type,
    length: int(p, 'length', base.length ?? 24, 8, 1024),
    charset: str(p, 'charset', base.charset ?? DEFAULT_CHARSET),
    words: int(p, 'words', base.words ?? 6, 3, 64),
    separator: str(p, 'separator', base.separator ?? '-'),
    ttl: duration(p, 'ttl', base.ttl ?? 0),
    max_ttl: duration(p, 'max_ttl', base.max_ttl ?? 0),
  };
  // Cheap bounds first: the engine runs interpreted, so a 2 MB charset must not be walked.
  if (role.charset.length > 2048) throw invalid('charset must hold 2 to 1024 distinct characters');
  const distinct = new Set(Array.from(role.charset)).size;
  if (distinct !== Array.from(role.charset).length) throw invalid('charset has repeated characters');
  if (distinct < 2 || distinct > 1024) throw invalid('charset must hold 2 to 1024 distinct characters');
  if (role.separator.length > 8) throw invalid('separator is limited to 8 characters');
  if (role.max_ttl && role.ttl > role.max_ttl) throw invalid('ttl cannot be greater than max_ttl');
  if (entropyBits(role) < 64) {
    throw invalid(`this role would generate secrets with only ${entropyBits(role)} bits of entropy; at least 64 are required`);
  }
  return role;
}

function showRole(role) {
  return { ...role, entropy_bits: entropyBits(role) };
}

function issue(name, req) {
  const role = getJSON(`role/${name}`);
  if (!role) throw invalid(`unknown role: ${name}`);
  const id = randomId();
  const issuedAt = nowSecs();
  putJSON(`issued/${id}`, { role: name, issued_at: issuedAt, renewals: 0, request_id: req.requestId });
  log('info', `issued credential ${id} for role ${name}`);
  return respond(
    { id, password: generate(role), role: name },
    {
      ttl: BigInt(role.ttl),
      maxTtl: BigInt(role.max_ttl),
      renewable: true,
      internal: JSON.stringify({ id, role: name }),
    },
  );
}

// --- routing --------------------------------------------------------------------------

// [kind, name]: kind is one of roles, creds, issued, revoked; name '' for the list path.
function route(path) {
  const m = /^(roles|creds|issued|revoked)(?:\/(.*))?$/.exec(path);
  if (!m) throw unsupportedPath();
  const kind = m[1];
  const name = (m[2] ?? '').replace(/\/$/, '');
  if (name === '') return [kind, ''];
  if (kind === 'issued' || kind === 'revoked') {
    if (!ID_RE.test(name)) throw notFound();
  } else if (!NAME_RE.test(name)) {
    throw invalid(`invalid role name "${name.slice(0, 64)}": use letters, digits, '_', '-', '.'`);
  }
  return [kind, name];
}

export const engine = {
  info() {
    return {
      name: 'passgen',
      version: VERSION,
      description: 'Random passwords and passphrases under leases, written in JavaScript.',
      paths: [
        ['roles/?$', 'List the roles.'],
        ['roles/<name>', 'Create, read or delete a role: type, length, charset, words, separator, ttl, max_ttl.'],
        ['creds/<name>', 'Read a new password for the role, under a renewable lease.'],
        ['issued/<id>', 'List or read the credentials whose lease is live.'],
        ['revoked/<id>', 'List or read the credentials whose lease was revoked.'],
      ],
    };
  },

  read(req) {
    const [kind, name] = route(req.path);
    if (!name) throw unsupportedOperation();
    switch (kind) {
      case 'roles': {
        const role = getJSON(`role/${name}`);
        if (!role) throw notFound();
        return respond(showRole(role));
      }
      case 'creds':
        return issue(name, req);
      default: {
        const rec = getJSON(`${kind}/${name}`);
        if (!rec) throw notFound();
        return respond(rec);
      }
    }
  },

  write(req) {
    const [kind, name] = route(req.path);
    if (kind !== 'roles' || !name) throw unsupportedOperation();
    const p = params(req);
    const old = req.operation === 'patch' ? getJSON(`role/${name}`) : null;
    if (req.operation === 'patch' && !old) throw notFound();
    putJSON(`role/${name}`, parseRole(p, old));
    return respond(undefined);
  },

  delete(req) {
    const [kind, name] = route(req.path);
    if (kind !== 'roles' || !name) throw unsupportedOperation();
    del(`role/${name}`);
    return respond(undefined);
  },

  list(req) {
    const [kind, name] = route(req.path);
    if (name || kind === 'creds') throw unsupportedOperation();
    const prefix = kind === 'roles' ? 'role/' : `${kind}/`;
    return respond({ keys: list(prefix).filter((k) => !k.endsWith('/')) });
  },

  renew(lease) {
    const { id, role: roleName } = JSON.parse(lease.internal);
    const rec = getJSON(`issued/${id}`);
    if (!rec) throw invalid('this credential was revoked');
    const role = getJSON(`role/${roleName}`);
    if (!role) throw invalid(`role ${roleName} no longer exists; the credential cannot be renewed`);
    const requested = lease.increment > 0n ? Number(lease.increment) : role.ttl;
    let ttl = requested;
    if (role.max_ttl) {
      const age = nowSecs() - Number(lease.issueTime / 1_000_000_000n);
      const left = role.max_ttl - age;
      if (left <= 0) throw invalid(`the lease has reached its max_ttl of ${role.max_ttl}s`);
      // ttl 0 would mean "the mount's default": never ask for more than is left.
      ttl = Math.min(ttl || left, left);
    }
    rec.renewals += 1;
    rec.last_renewal = nowSecs();
    putJSON(`issued/${id}`, rec);
    return { ttl: BigInt(ttl), maxTtl: BigInt(role.max_ttl) };
  },

  revoke(lease) {
    // Safe to call more than once: the host retries a revoke that failed.
    const { id } = JSON.parse(lease.internal);
    if (!ID_RE.test(id)) throw internal('lease has no valid credential id');
    const rec = getJSON(`issued/${id}`);
    if (rec) {
      putJSON(`revoked/${id}`, { ...rec, lease_id: lease.id, revoked_at: nowSecs() });
      del(`issued/${id}`);
      log('info', `revoked credential ${id}`);
    }
  },

  periodic(mount) {
    // Forget revocation records after a week.
    const cutoff = nowSecs() - REVOKED_KEEP_SECS;
    for (const id of list('revoked/')) {
      const rec = getJSON(`revoked/${id}`);
      if (!rec || rec.revoked_at < cutoff) del(`revoked/${id}`);
    }
  },
};
