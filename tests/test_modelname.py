"""Names of new model files: what they say, and that no existing file is ever overwritten."""

import threading

import pytest

from engine import modelname
from engine.modelname import model_file_name, reserve_model_path, unused_model_name


def test_the_name_says_architecture_activation_and_accuracy():
    assert model_file_name("784-128-10", "relu", 0.97494) == "digits-784-128-10-relu-97.5pct.json"
    assert model_file_name("784-16-10", "sigmoid", None) == "digits-784-16-10-sigmoid-untested.json"


def test_a_taken_name_gets_a_number_and_the_old_file_is_untouched(tmp_path):
    folder = tmp_path / "new" / "models"
    first = reserve_model_path(folder, "a.json")
    assert first == folder / "a.json" and first.read_bytes() == b""
    first.write_bytes(b"trained")
    second = reserve_model_path(folder, "a.json")
    third = reserve_model_path(folder, "a.json")
    assert (second.name, third.name) == ("a-2.json", "a-3.json")
    assert first.read_bytes() == b"trained"


def test_a_suggested_name_skips_the_taken_ones_without_creating_a_file(tmp_path):
    assert unused_model_name(tmp_path, "a.json") == "a.json"
    (tmp_path / "a.json").write_bytes(b"x")
    (tmp_path / "a-2.json").write_bytes(b"x")
    assert unused_model_name(tmp_path, "a.json") == "a-3.json"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-2.json", "a.json"]


def test_runs_finishing_together_get_different_files(tmp_path):
    paths = []
    threads = [
        threading.Thread(target=lambda: paths.append(reserve_model_path(tmp_path, "m.json")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(set(paths)) == 8


def test_a_full_folder_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(modelname, "MAX_NAME_ATTEMPTS", 3)
    for name in ("m.json", "m-2.json", "m-3.json"):
        (tmp_path / name).write_bytes(b"x")
    with pytest.raises(FileExistsError, match=r"3 files named like m\.json"):
        reserve_model_path(tmp_path, "m.json")
