"""The pseudonymisation key: created once with 0600 permissions, reused, bad keys refused."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import stat
import threading
from pathlib import Path

import pytest

from foundation import warehouse
from foundation.errors import CasefinderError
from foundation.settings import load_settings
from foundation.warehouse import (
    connect_with_key,
    key_fingerprint,
    load_or_create_key,
    patient_id_of,
)

GOOD_HEX = "00112233445566778899aabbccddeeff"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_file_is_created_on_first_use_with_0600(tmp_path: Path) -> None:
    key_file = tmp_path / "nested" / "casefinder.key"
    key = load_or_create_key(key_file)
    assert key_file.exists()
    assert _mode(key_file) == 0o600
    assert len(key) == 32
    assert key_file.read_text(encoding="ascii").strip() == key.hex()


def test_key_file_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_or_create_key(tmp_path / "casefinder.key")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "casefinder.key") == 0o600


def test_key_file_is_reused_not_replaced(tmp_path: Path) -> None:
    key_file = tmp_path / "casefinder.key"
    first = load_or_create_key(key_file)
    mtime = key_file.stat().st_mtime_ns
    second = load_or_create_key(key_file)
    assert first == second
    assert key_file.stat().st_mtime_ns == mtime


def test_no_temporary_files_are_left_beside_the_key(tmp_path: Path) -> None:
    load_or_create_key(tmp_path / "casefinder.key")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["casefinder.key"]


def test_concurrent_first_use_gives_one_key(tmp_path: Path) -> None:
    key_file = tmp_path / "casefinder.key"
    keys: list[bytes] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        keys.append(load_or_create_key(key_file))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 4
    assert len(set(keys)) == 1
    assert key_file.read_text(encoding="ascii").strip() == keys[0].hex()


def test_setting_wins_over_key_file_and_creates_no_file(tmp_path: Path) -> None:
    key_file = tmp_path / "casefinder.key"
    assert load_or_create_key(key_file, GOOD_HEX) == bytes.fromhex(GOOD_HEX)
    assert not key_file.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not-hex-at-all", "not hexadecimal"),
        ("00112233", "at least 16 bytes"),
        ("", "at least 16 bytes"),
    ],
)
def test_bad_key_file_is_refused_with_one_clear_line(
    tmp_path: Path, text: str, message: str
) -> None:
    key_file = tmp_path / "casefinder.key"
    key_file.write_text(text, encoding="ascii")
    key_file.chmod(0o600)
    with pytest.raises(CasefinderError, match=message) as info:
        load_or_create_key(key_file)
    assert "\n" not in str(info.value)
    assert str(key_file) in str(info.value)


def test_key_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "casefinder.key"
    key_file.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(CasefinderError, match="cannot be read"):
        load_or_create_key(key_file)


@pytest.mark.parametrize(("text", "message"), [("zz" * 16, "not hexadecimal"), ("ab" * 8, "16")])
def test_bad_key_setting_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CasefinderError, match=message) as info:
        load_or_create_key(tmp_path / "casefinder.key", text)
    assert text not in str(info.value), "the message must not echo the key"


def test_group_readable_key_file_is_used_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "casefinder.key"
    key_file.write_text(GOOD_HEX + "\n", encoding="ascii")
    key_file.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="casefinder.warehouse"):
        assert load_or_create_key(key_file) == bytes.fromhex(GOOD_HEX)
    assert "chmod 600" in caplog.text
    assert GOOD_HEX not in caplog.text


def test_patient_id_is_hmac_sha256_truncated_to_32_hex() -> None:
    key = bytes.fromhex(GOOD_HEX)
    expected = hmac.new(key, b"9990000018", hashlib.sha256).hexdigest()[:32]
    assert patient_id_of(key, "9990000018") == expected
    assert len(expected) == 32


def test_patient_id_is_not_a_plain_hash_of_the_nhs_number() -> None:
    key = bytes.fromhex(GOOD_HEX)
    assert patient_id_of(key, "9990000018") != hashlib.sha256(b"9990000018").hexdigest()[:32]


def test_different_keys_give_different_ids() -> None:
    a = bytes.fromhex(GOOD_HEX)
    b = bytes.fromhex(GOOD_HEX[::-1])
    numbers = ["9990000018", "9990000026", "9990000034"]
    ids_a = {patient_id_of(a, n) for n in numbers}
    ids_b = {patient_id_of(b, n) for n in numbers}
    assert len(ids_a) == 3
    assert ids_a.isdisjoint(ids_b)


def test_fingerprint_tells_keys_apart_without_revealing_them() -> None:
    a = bytes.fromhex(GOOD_HEX)
    b = bytes.fromhex(GOOD_HEX[::-1])
    assert key_fingerprint(a) != key_fingerprint(b)
    assert key_fingerprint(a) == key_fingerprint(a)
    assert GOOD_HEX not in key_fingerprint(a)
    assert len(key_fingerprint(a)) == 12


def test_settings_read_key_and_key_file_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        env={
            "CASEFINDER_PSEUDONYM_KEY": GOOD_HEX,
            "CASEFINDER_KEY_FILE": str(tmp_path / "k.key"),
        },
        cwd=tmp_path,
    )
    assert settings.pseudonym_key == GOOD_HEX
    assert settings.key_path() == tmp_path / "k.key"


def test_default_key_file_sits_beside_the_warehouse(tmp_path: Path) -> None:
    settings = load_settings(env={}, cwd=tmp_path)
    warehouse = tmp_path / "elsewhere" / "w.duckdb"
    assert settings.key_path(warehouse) == warehouse.resolve().parent / "casefinder.key"


# --- the key comes only after the warehouse's checks -------------------------------------


@pytest.mark.parametrize("bad", ["a folder", "not a database"])
def test_a_refused_warehouse_leaves_no_key_file(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "wh" / "warehouse.duckdb"
    if bad == "a folder":
        path.mkdir(parents=True)
    else:
        path.parent.mkdir()
        path.write_bytes(b"nhs_number,given_name\n" * 200)
    key_file = tmp_path / "wh" / "casefinder.key"
    with pytest.raises(CasefinderError, match="warehouse"), connect_with_key(path, key_file):
        pytest.fail("the warehouse should have been refused")
    assert not key_file.exists()
    assert not [p for p in key_file.parent.iterdir() if "key" in p.name]


def test_the_key_is_created_after_the_warehouse_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "casefinder.key"
    steps: list[str] = []

    class FakeConnection:
        def close(self) -> None:
            steps.append("closed")

    def fake_connect(path: Path) -> FakeConnection:
        steps.append("warehouse checked")
        assert not key_file.exists(), "the key was created before the warehouse was checked"
        return FakeConnection()

    monkeypatch.setattr(warehouse, "connect", fake_connect)
    with connect_with_key(tmp_path / "warehouse.duckdb", key_file) as (_con, key):
        steps.append("key loaded")
        assert key_file.read_text(encoding="ascii").strip() == key.hex()
    assert steps == ["warehouse checked", "key loaded", "closed"]


def test_a_bad_key_setting_is_refused_before_the_warehouse_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Path] = []
    monkeypatch.setattr(warehouse, "connect", lambda path: opened.append(path))
    with (
        pytest.raises(CasefinderError, match="not hexadecimal"),
        connect_with_key(tmp_path / "warehouse.duckdb", tmp_path / "k", "zz" * 16),
    ):
        pytest.fail("the key should have been refused")
    assert opened == []
    assert not (tmp_path / "k").exists()


def test_a_bad_key_file_closes_the_warehouse_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[bool] = []

    class FakeConnection:
        def close(self) -> None:
            closed.append(True)

    key_file = tmp_path / "k"
    key_file.write_text("not a key\n", encoding="ascii")
    monkeypatch.setattr(warehouse, "connect", lambda path: FakeConnection())
    with (
        pytest.raises(CasefinderError, match="not hexadecimal"),
        connect_with_key(tmp_path / "warehouse.duckdb", key_file),
    ):
        pytest.fail("the key should have been refused")
    assert closed == [True]
