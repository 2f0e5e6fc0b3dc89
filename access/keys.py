"""API keys with roles and collections: the keys file, and checking a bearer token.

The keys file (``CITELINE_KEYS_FILE``, TOML, written by ``citeline keys``)::

    version = 1

    [keys.energy-desk]                 # the key's name: what logs and audit lines show
    id = "3f9a1c2b7d4e"                # public; the key is cl_3f9a1c2b7d4e_<secret>
    role = "reader"                    # reader: search/ask/chat/documents (read)
                                       # admin: also writes to its collections, and
                                       #        /v1/admin/* when its collections are "*"
    collections = ["energy", "legal"]  # or ["*"]: every collection, present and future
    kdf = "pbkdf2_sha256"
    iterations = 1000
    salt = "…base64…"
    hash = "…base64…"                  # pbkdf2_hmac(sha256, key, salt, iterations)
    created = "2026-11-28T10:50:00Z"

Only salted hashes are stored. Keys are 256 random bits, so a slow hash would guard
nothing an attacker could guess; the salt keeps equal keys from having equal hashes
and a stolen file from matching any precomputed table, and the work factor is kept
small because every request pays it (about 1 ms).

Beside the file, ``CITELINE_API_KEYS`` (readers of every collection) and
``CITELINE_ADMIN_KEYS`` (admins of every collection) stay valid: they are hashed
with a per-process salt at start and checked by the same code.

Checking a token costs the same whatever the outcome: the token's id (or, for an
environment key, a digest) selects an entry or a dummy one; the token is then hashed
with that entry's salt and compared with :func:`hmac.compare_digest`. An unknown key,
a revoked key and a valid key without access to a collection all pay one hash and
one constant-time comparison (tests/access/test_keys.py measures it).

The file is re-read when it changes (checked at most every ``reload_seconds``, 1 s by
default, on the next request): ``citeline keys revoke`` takes effect within that
time, without a restart. A file that cannot be read or parsed keeps the previous keys
in force and logs why.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

log = logging.getLogger("citeline.access")

Role = Literal["reader", "admin"]
ROLES: tuple[Role, ...] = ("reader", "admin")
ALL = "*"
FORMAT_VERSION = 1
KDF = "pbkdf2_sha256"
ITERATIONS = 1000
KEY_PREFIX = "cl_"
_TOKEN = re.compile(r"^cl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Collection names as index/collections.py accepts them (repeated here: access/ must
# not import the index to read a keys file).
COLLECTION_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class KeysFileError(ValueError):
    """The keys file cannot be used; the message names the file, entry and problem."""


# -- who a caller is ---------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """A checked key: its name (never the key itself), role and collections."""

    key_id: str
    role: Role
    collections: frozenset[str] | None  # None: every collection

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def admin_of_all(self) -> bool:
        """May use /v1/admin/*: an admin key for every collection."""
        return self.is_admin and self.collections is None

    def can_read(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections

    def can_write(self, collection: str) -> bool:
        return self.is_admin and self.can_read(collection)

    def readable(self, existing: Iterable[str]) -> list[str]:
        return [c for c in existing if self.can_read(c)]


# The caller of a server without any keys configured (a local, open deployment).
ANONYMOUS = Caller("anonymous", "admin", None)


# -- hashing -----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _digest(token: bytes, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", token, salt, iterations)


@dataclass(frozen=True)
class Entry:
    """One key as stored: everything but the key."""

    name: str
    id: str
    role: Role
    collections: tuple[str, ...]  # ("*",) for all
    salt: bytes
    hash: bytes
    iterations: int = ITERATIONS
    created: str = ""

    def caller(self) -> Caller:
        scope = None if ALL in self.collections else frozenset(self.collections)
        return Caller(self.name, self.role, scope)


def new_key() -> tuple[str, str]:
    """A fresh key and its public id."""
    key_id = secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def make_entry(
    name: str, role: str, collections: Sequence[str] | None, key: str, key_id: str
) -> Entry:
    check_entry_fields(name, role, collections)
    salt = secrets.token_bytes(16)
    return Entry(
        name=name,
        id=key_id,
        role=role,  # type: ignore[arg-type]
        collections=tuple(collections) if collections else (ALL,),
        salt=salt,
        hash=_digest(key.encode(), salt, ITERATIONS),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


def check_entry_fields(name: str, role: str, collections: Sequence[str] | None) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise KeysFileError(
            f"invalid key name {name!r}: 1-64 characters A-Z, a-z, 0-9, '.', '-' or '_'"
        )
    if role not in ROLES:
        raise KeysFileError(f"key {name!r}: role must be reader or admin, not {role!r}")
    for c in collections or ():
        if c != ALL and not COLLECTION_PATTERN.fullmatch(c):
            raise KeysFileError(f"key {name!r}: invalid collection name {c!r}")
    if collections is not None and len(collections) == 0:
        raise KeysFileError(f'key {name!r}: collections is empty (use ["*"] for all)')


# -- the file ------------------------------------------------------------------------


def parse(text: str, source: str = "keys file") -> dict[str, Entry]:
    """The entries of a keys file; raises KeysFileError naming the problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KeysFileError(f"{source}: not valid TOML: {exc}") from None
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise KeysFileError(f"{source}: version {version!r} is not supported (expected 1)")
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        raise KeysFileError(f"{source}: 'keys' must be a table of [keys.NAME] entries")
    out: dict[str, Entry] = {}
    ids: set[str] = set()
    for name, e in keys.items():
        where = f"{source}: [keys.{name}]"
        if not isinstance(e, dict):
            raise KeysFileError(f"{where} must be a table")
        try:
            collections = e["collections"]
            if not isinstance(collections, list) or not all(
                isinstance(c, str) for c in collections
            ):
                raise KeysFileError(f"{where}: collections must be a list of names")
            check_entry_fields(name, e["role"], collections)
            if e.get("kdf", KDF) != KDF:
                raise KeysFileError(f"{where}: kdf must be {KDF}")
            entry = Entry(
                name=name,
                id=str(e["id"]),
                role=e["role"],
                collections=tuple(collections),
                salt=base64.b64decode(e["salt"], validate=True),
                hash=base64.b64decode(e["hash"], validate=True),
                iterations=int(e.get("iterations", ITERATIONS)),
                created=str(e.get("created", "")),
            )
        except KeysFileError as exc:
            raise KeysFileError(f"{where}: {exc}") from None
        except KeyError as exc:
            raise KeysFileError(f"{where}: missing field {exc.args[0]!r}") from None
        except (ValueError, TypeError) as exc:
            raise KeysFileError(f"{where}: {exc}") from None
        if not re.fullmatch(r"[0-9a-f]{12}", entry.id) or entry.id in ids:
            raise KeysFileError(f"{where}: id must be 12 hex digits, unique in the file")
        if entry.iterations < 1 or len(entry.salt) < 8 or len(entry.hash) != 32:
            raise KeysFileError(f"{where}: salt, hash or iterations are malformed")
        ids.add(entry.id)
        out[name] = entry
    return out


def _quote(value: str) -> str:
    # A JSON string is a valid TOML basic string for these (ASCII) values.
    return json.dumps(value)


def render(entries: Iterable[Entry]) -> str:
    lines = [
        "# Citeline API keys (CITELINE_KEYS_FILE). Written by `citeline keys`; only salted",
        "# hashes are stored. A server re-reads this file within a second of a change.",
        f"version = {FORMAT_VERSION}",
        "",
    ]
    for e in entries:
        lines += [
            f"[keys.{_quote(e.name)}]",
            f"id = {_quote(e.id)}",
            f"role = {_quote(e.role)}",
            f"collections = [{', '.join(_quote(c) for c in e.collections)}]",
            f"kdf = {_quote(KDF)}",
            f"iterations = {e.iterations}",
            f"salt = {_quote(_b64(e.salt))}",
            f"hash = {_quote(_b64(e.hash))}",
            f"created = {_quote(e.created)}",
            "",
        ]
    return "\n".join(lines)


class KeysFile:
    """Edits a keys file for the CLI: locked, written to a temporary file and renamed,
    so a server never reads half a file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, Entry]:
        if not self.path.exists():
            return {}
        return parse(self.path.read_text(encoding="utf-8"), str(self.path))

    def _edit(self, change: Callable[[dict[str, Entry]], None]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self.read()
            change(entries)
            tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(render(entries.values()))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)

    def add(self, name: str, role: str, collections: Sequence[str] | None) -> str:
        """Adds a key and returns it (the only time it is ever seen)."""
        key_id, key = new_key()
        entry = make_entry(name, role, collections, key, key_id)

        def change(entries: dict[str, Entry]) -> None:
            if name in entries:
                raise KeysFileError(f"a key named {name!r} exists already; revoke it first")
            entries[name] = entry

        self._edit(change)
        return key

    def revoke(self, name: str) -> None:
        def change(entries: dict[str, Entry]) -> None:
            if name not in entries:
                raise KeysFileError(f"there is no key named {name!r} in {self.path}")
            del entries[name]

        self._edit(change)


# -- checking tokens ------------------------------------------------------------------


@dataclass
class _Keys:
    by_id: dict[str, Entry] = field(default_factory=dict)  # file keys by their public id
    by_digest: dict[bytes, Entry] = field(default_factory=dict)  # environment keys

    def __len__(self) -> int:
        return len(self.by_id) + len(self.by_digest)


def _env_entries(keys: Sequence[str], role: Role) -> dict[bytes, Entry]:
    out: dict[bytes, Entry] = {}
    for key in keys:
        raw = key.encode()
        lookup = hashlib.sha256(raw).digest()
        salt = secrets.token_bytes(16)
        name = f"env-{role}-{hashlib.sha256(raw).hexdigest()[:8]}"
        out[lookup] = Entry(name, "", role, (ALL,), salt, _digest(raw, salt, ITERATIONS))
    return out


class KeyRing:
    """Every valid key: the keys file (re-read on change) and the environment's keys."""

    def __init__(
        self,
        path: Path | str | None = None,
        reader_keys: Sequence[str] = (),
        admin_keys: Sequence[str] = (),
        *,
        reload_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Raises KeysFileError when ``path`` is given but unusable at start: a server
        must not come up with fewer keys than its operator meant."""
        self.path = Path(path) if path else None
        self.reload_seconds = reload_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._env = {**_env_entries(reader_keys, "reader"), **_env_entries(admin_keys, "admin")}
        self._dummy = Entry("", "", "reader", (), secrets.token_bytes(16), bytes(32))
        self._file: dict[str, Entry] = {}
        self._signature: tuple[int, int, int] | None = None
        self._failed: tuple[int, int, int] | None = None
        self._checked = clock()
        self.last_error: str | None = None
        if self.path is not None:
            if not self.path.exists():
                raise KeysFileError(
                    f"CITELINE_KEYS_FILE names {self.path}, which does not exist; create it "
                    f"with `citeline keys add NAME --role reader --keys-file {self.path}`"
                )
            self._signature = self._stat()
            self._file = self._by_id(parse(self.path.read_text(encoding="utf-8"), str(path)))

    @property
    def enabled(self) -> bool:
        """Whether any key is configured (else the server is open, as before keys)."""
        return self.path is not None or bool(self._env)

    def names(self) -> list[str]:
        return sorted([e.name for e in self._file.values()] + [e.name for e in self._env.values()])

    @staticmethod
    def _by_id(entries: dict[str, Entry]) -> dict[str, Entry]:
        return {e.id: e for e in entries.values()}

    def _stat(self) -> tuple[int, int, int] | None:
        assert self.path is not None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the keys file if it changed (at most every ``reload_seconds``)."""
        if self.path is None:
            return
        now = self._clock()
        if not force and now - self._checked < self.reload_seconds:
            return
        with self._lock:
            self._checked = now
            signature = self._stat()
            unchanged = signature == self._signature
            if unchanged or (signature is not None and signature == self._failed):
                return
            try:
                if signature is None:
                    raise KeysFileError(f"{self.path} cannot be read (missing?)")
                entries = parse(self.path.read_text(encoding="utf-8"), str(self.path))
            except (KeysFileError, OSError, UnicodeDecodeError) as exc:
                self._failed = signature
                self.last_error = str(exc)
                log.error("keys file not reloaded, the previous keys stay in force: %s", exc)
                return
            self._file = self._by_id(entries)
            self._signature = signature
            self._failed = None
            self.last_error = None
            log.warning("keys file reloaded: %d keys", len(entries))

    def identify(self, token: bytes) -> Caller | None:
        """The caller ``token`` belongs to, or None. One hash and one constant-time
        comparison whatever the token is."""
        self.refresh()
        match = _TOKEN.fullmatch(token.decode("ascii", "replace"))
        entry = None
        if match is not None:
            entry = self._file.get(match.group(1))
        if entry is None:
            entry = self._env.get(hashlib.sha256(token).digest())
        candidate = entry or self._dummy
        digest = _digest(token, candidate.salt, candidate.iterations)
        ok = hmac.compare_digest(digest, candidate.hash)
        return candidate.caller() if ok and entry is not None else None
