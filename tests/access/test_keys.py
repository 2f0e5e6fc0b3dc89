"""The keys file, the ``citeline keys`` commands and checking tokens against them."""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from access.keys import Caller, KeyRing, KeysFile, KeysFileError, parse


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "citeline.cli", *args], capture_output=True, text=True, timeout=120
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cli_add_prints_the_key_once_as_the_last_line_and_stores_only_a_hash(
    tmp_path: Path,
) -> None:
    f = tmp_path / "keys.toml"
    r = cli(
        "keys",
        "add",
        "energy-desk",
        "--role",
        "reader",
        "--collections",
        "energy,legal",
        "--keys-file",
        str(f),
    )
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("cl_") and len(key) > 50
    text = f.read_text()
    # The secret after "cl_<id>_" may itself hold "_" (URL-safe base64): split twice
    # only, or a one-character tail such as "0" is looked for in the file.
    secret = key.split("_", 2)[2]
    assert len(secret) == 43
    assert key not in text and secret not in text
    assert os.stat(f).st_mode & 0o077 == 0  # readable by its owner only
    r = cli("keys", "add", "admin", "--role", "admin", "--keys-file", str(f))
    admin_key = r.stdout.strip().splitlines()[-1]
    r = cli("keys", "list", "--keys-file", str(f), "--json")
    assert r.returncode == 0 and key not in r.stdout and admin_key not in r.stdout
    ring = KeyRing(f)
    scope = frozenset({"energy", "legal"})
    assert ring.identify(key.encode()) == Caller("energy-desk", "reader", scope)
    assert ring.identify(admin_key.encode()) == Caller("admin", "admin", None)
    # Refused inputs: each a clear message and a non-zero exit.
    for args, message in (
        (("keys", "add", "energy-desk", "--keys-file", str(f)), "exists already"),
        (("keys", "add", "x", "--role", "owner", "--keys-file", str(f)), "role must be"),
        (("keys", "add", "x", "--collections", "../b", "--keys-file", str(f)), "invalid coll"),
        (("keys", "revoke", "nobody", "--keys-file", str(f)), "no key named"),
    ):
        r = cli(*args)
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)
    r = cli("keys", "revoke", "energy-desk", "--keys-file", str(f))
    assert r.returncode == 0, r.stderr
    assert "energy-desk" not in KeysFile(f).read()


def test_tokens_that_are_not_keys(tmp_path: Path) -> None:
    f = tmp_path / "keys.toml"
    key = KeysFile(f).add("a", "reader", ["a"])
    ring = KeyRing(f)
    key_id = key.split("_")[1]
    for token in (
        b"",
        b"cl_",
        key[:-1].encode(),
        (key + "x").encode(),
        f"cl_{key_id}_{'A' * 43}".encode(),  # a real id with a wrong secret
        b"\xff\xfe",
        key.upper().encode(),
    ):
        assert ring.identify(token) is None, token


def test_environment_keys_stay_valid_beside_the_file(tmp_path: Path) -> None:
    f = tmp_path / "keys.toml"
    key = KeysFile(f).add("a", "reader", ["a"])
    ring = KeyRing(f, reader_keys=["reader-secret-123456"], admin_keys=["admin-secret-123456"])
    reader = ring.identify(b"reader-secret-123456")
    admin = ring.identify(b"admin-secret-123456")
    assert reader is not None and reader.role == "reader" and reader.collections is None
    assert admin is not None and admin.admin_of_all
    assert "secret" not in reader.key_id and "secret" not in admin.key_id
    assert ring.identify(key.encode()) is not None
    assert ring.identify(b"reader-secret-12345") is None


def test_revocation_and_new_keys_apply_without_restart(tmp_path: Path) -> None:
    f = tmp_path / "keys.toml"
    kf = KeysFile(f)
    ka = kf.add("a", "reader", ["a"])
    clock = Clock()
    ring = KeyRing(f, clock=clock, reload_seconds=1.0)
    assert ring.identify(ka.encode()) is not None
    kf.revoke("a")
    kb = kf.add("b", "reader", ["b"])
    clock.now = 0.5  # within the interval the file is not looked at
    assert ring.identify(ka.encode()) is not None
    clock.now = 1.0
    assert ring.identify(ka.encode()) is None
    assert ring.identify(kb.encode()) is not None


def test_a_bad_file_keeps_the_previous_keys_and_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    f = tmp_path / "keys.toml"
    ka = KeysFile(f).add("a", "reader", ["a"])
    good = f.read_text()
    clock = Clock()
    ring = KeyRing(f, clock=clock)
    for bad in (
        good + "\n[keys.broken\n",  # TOML syntax
        good.replace('role = "reader"', 'role = "owner"'),
        good.replace('hash = "', 'hash = "!!'),
        "",  # an empty file parses: it has no keys. Only errors keep the old keys.
    ):
        f.write_text(bad)
        clock.now += 2
        with caplog.at_level(logging.ERROR, logger="citeline.access"):
            caplog.clear()
            result = ring.identify(ka.encode())
        if bad:
            assert result is not None, bad[-40:]
            assert "previous keys stay in force" in caplog.text
        else:
            assert result is None
    f.unlink()
    clock.now += 2
    assert ring.identify(ka.encode()) is None  # the empty file's (no) keys stay in force
    with pytest.raises(KeysFileError, match="does not exist"):
        KeyRing(f)
    f.write_text("[keys.x\n")
    with pytest.raises(KeysFileError, match="not valid TOML"):
        KeyRing(f)


def test_parse_names_the_entry_at_fault(tmp_path: Path) -> None:
    f = tmp_path / "keys.toml"
    KeysFile(f).add("alpha", "reader", None)
    text = f.read_text()
    with pytest.raises(KeysFileError, match=r"\[keys.alpha\]: missing field 'salt'"):
        parse("\n".join(line for line in text.splitlines() if not line.startswith("salt")))
    with pytest.raises(KeysFileError, match="collections is empty"):
        parse(text.replace('collections = ["*"]', "collections = []"))


def test_unknown_key_and_wrong_collection_key_cost_the_same(tmp_path: Path) -> None:
    """Both pay one salted hash and one constant-time comparison. Measured interleaved
    (the machine is shared), compared by medians with a generous margin: what must not
    happen is one path skipping the hash (a 100x difference)."""
    f = tmp_path / "keys.toml"
    kf = KeysFile(f)
    for n in range(20):
        kf.add(f"k{n}", "reader", [f"c{n}"])
    ka = kf.add("a", "reader", ["a"])
    ring = KeyRing(f)
    unknown = b"cl_0123456789ab_" + b"x" * 43
    wrong_secret = ka[:-4].encode() + b"AAAA"
    plain = b"not-a-key-at-all"
    timings: dict[bytes, list[float]] = {ka.encode(): [], unknown: [], wrong_secret: [], plain: []}
    for _ in range(200):
        for token, out in timings.items():
            t = time.perf_counter()
            caller = ring.identify(token)
            out.append(time.perf_counter() - t)
            # A valid key for A asking for B is refused after the same identify call.
            assert (caller is not None and not caller.can_read("b")) or caller is None
    medians = {t: statistics.median(v) for t, v in timings.items()}
    fastest, slowest = min(medians.values()), max(medians.values())
    assert slowest < 1.5 * fastest, medians
