"""Tests of the remembered-settings store (`app.settings`): round trips, checks, bad files."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from app.settings import (
    MAX_SETTINGS_BYTES,
    SETTINGS_VERSION,
    SettingsError,
    SettingsStore,
    choice,
    flag,
    number,
    parse_settings,
    path_value,
    record,
    settings_path,
    text,
    whole,
)

FUZZ_CASES = 300
FUZZ_MAX_BYTES = 200


def document(values: object) -> bytes:
    """Return the bytes of a settings file holding values."""
    return json.dumps({"version": SETTINGS_VERSION, "values": values}).encode()


def test_values_survive_a_save_and_a_load(tmp_path):
    path = tmp_path / "deep" / "settings.json"
    store = SettingsStore(path)
    store.load()
    assert store.values == {} and store.note is None, "a missing file is a first start"
    store.put("brush", 12.5)
    store.put("window", {"width": 900, "height": 700, "tab": "train"})
    assert store.save() is None
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"], "no temporary left"
    again = SettingsStore(path)
    again.load()
    assert again.get("brush", number(6, 40)) == 12.5
    assert again.get("window", record({"width": whole(1, 5000)})) == {"width": 900}


def test_the_file_lives_in_the_per_user_config_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    if os.name == "posix" and os.uname().sysname == "Linux":
        assert settings_path() == tmp_path / "digits" / "settings.json"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe not text", "not valid JSON"),
        (b'{"version": 1, "values": {"a": 1}', "not valid JSON"),
        (b"[1, 2, 3]", "not a version-1"),
        (b'{"version": 2, "values": {}}', "not a version-1"),
        (b'{"version": 1, "values": [1]}', "not a flat record"),
        (b'{"version": 1, "values": {"a": NaN}}', "not valid JSON"),
        (document({"a": [[[[[[1]]]]]]}), "not a flat record"),
        (b"[" * 100_000, "larger than"),
        (b"[" * 60_000, "not valid JSON"),
        (b'{"version": 1, "values": {"a": 1' + b"0" * 5000 + b"}}", "not valid JSON"),
    ],
)
def test_a_damaged_file_is_refused_with_a_reason(data, reason):
    with pytest.raises(SettingsError, match=reason):
        parse_settings(data)


def test_a_damaged_file_is_ignored_with_a_note_and_replaced_on_save(tmp_path):
    path = tmp_path / "settings.json"
    path.write_bytes(b'{"version": 1, "values": {"brush": 10')
    store = SettingsStore(path)
    store.load()
    assert store.values == {}
    assert store.note.startswith(f"Ignored the saved settings in {path}: it is not valid JSON")
    store.put("brush", 10.0)
    assert store.save() is None
    assert parse_settings(path.read_bytes()) == {"brush": 10.0}


def test_a_fifo_or_a_folder_in_its_place_is_ignored_without_blocking(tmp_path):
    folder = tmp_path / "settings.json"
    folder.mkdir()
    store = SettingsStore(folder)
    store.load()
    assert "folder" in store.note
    assert store.save() is not None, "saving over a folder fails with a message, not raised"
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo.json"
        os.mkfifo(fifo)
        store = SettingsStore(fifo)
        store.load()
        assert "pipe" in store.note


def test_random_bytes_never_escape_the_loader(tmp_path):
    rng = random.Random(11)
    path = tmp_path / "settings.json"
    seeds = [b'{"version": 1, "values": {"window": {"width": 800}}}', b"[]", b"{}"]
    for case in range(FUZZ_CASES):
        base = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(base) + 1)
            base[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(0, 6)))
        data = bytes(base[:FUZZ_MAX_BYTES]) if case % 2 else bytes(rng.randrange(256) for _ in base)
        path.write_bytes(data)
        store = SettingsStore(path)
        store.load()
        assert isinstance(store.values, dict)
        assert store.get("window", record({"width": whole(1, 10_000)})) in (
            None,
            {},
            {"width": 800},
        )


def test_checks_keep_good_values_and_drop_bad_ones():
    store = SettingsStore(None)
    store.put("form", {"epochs": 5, "batch": True, "rate": 0.1, "extra": 1, "schedule": "wild"})
    form = store.get(
        "form",
        record(
            {
                "epochs": whole(1, 100),
                "batch": whole(1, 256),  # true is not a number here
                "rate": number(0.001, 10),
                "schedule": choice(("cosine", "constant")),
            }
        ),
    )
    assert form == {"epochs": 5, "rate": 0.1}
    store.put("brush", "thick")
    assert store.get("brush", number(6, 40)) is None
    assert store.get("missing", flag) is None
    assert text(r"\d+(-\d+)*")("16-16") == "16-16"
    with pytest.raises(ValueError):
        text(r"\d+(-\d+)*")("16; rm -rf")
    assert path_value("/data/mnist") == Path("/data/mnist")
    for bad in ("relative/folder", "", "/a\0b", 7, "/" + "x" * 5000):
        with pytest.raises((ValueError, TypeError)):
            path_value(bad)


def test_settings_larger_than_the_limit_are_not_read_past_it(tmp_path):
    path = tmp_path / "settings.json"
    path.write_bytes(document({"pad": "x" * MAX_SETTINGS_BYTES}))
    store = SettingsStore(path)
    store.load()
    assert store.values == {} and "larger than" in store.note
