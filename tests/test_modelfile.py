"""Tests for the model file format: round trips, atomic saves and every kind of bad file."""

from __future__ import annotations

import base64
import json
import math
import os
import signal
import struct
import time
from pathlib import Path

import pytest

from engine import modelfile
from engine.modelfile import MAX_FILE_BYTES, ModelFileError, load_model, save_model
from engine.network import Network

TINY_LAYERS = [784, 8, 10]


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Network, Path]:
    """Return a tiny network with metadata and the path it was saved to."""
    network = Network.create(TINY_LAYERS, "relu", seed=3)
    network.metadata.update({"epochs": 2, "learning_rate": 0.1, "test_accuracy": 0.5})
    path = tmp_path / "model.json"
    save_model(network, path)
    return network, path


def rewrite(path: Path, change) -> None:
    """Apply change(document) to the JSON document in path and write it back."""
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def load_error(path: Path) -> str:
    """Return the message of the ModelFileError that loading path raises."""
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_round_trip_keeps_parameters_to_float32_precision_and_metadata(saved):
    network, path = saved
    loaded = load_model(path)
    assert loaded.layer_sizes == TINY_LAYERS
    assert (loaded.activation, loaded.loss) == ("relu", "cross_entropy")
    for layer_before, layer_after in zip(network.weights, loaded.weights):
        for row_before, row_after in zip(layer_before, layer_after):
            for before, after in zip(row_before, row_after):
                assert after == struct.unpack("<f", struct.pack("<f", before))[0]
    assert loaded.biases == network.biases
    assert loaded.metadata["epochs"] == 2
    assert loaded.metadata["test_accuracy"] == 0.5
    assert loaded.metadata["python"].count(".") == 2
    assert "T" in loaded.metadata["date"]


def test_saved_file_follows_the_documented_layout(saved):
    _, path = saved
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "digits-model"
    assert document["version"] == 1
    assert document["architecture"]["layer_sizes"] == TINY_LAYERS
    assert document["input"]["scale"] == pytest.approx(1 / 255)
    weights = document["parameters"][0]["weights"]
    assert weights["shape"] == [8, 784] and weights["dtype"] == "float32-le"
    assert len(base64.b64decode(weights["data"])) == 8 * 784 * 4


def test_loaded_network_predicts_like_the_saved_one(saved):
    network, path = saved
    inputs = [((i * 7) % 255) / 255 for i in range(784)]
    assert load_model(path).predict(inputs) == pytest.approx(network.predict(inputs), abs=1e-5)


def test_a_784_256_10_model_loads_quickly(tmp_path):
    path = tmp_path / "big.json"
    save_model(Network.create([784, 256, 10]), path)
    started = time.perf_counter()
    load_model(path)
    assert time.perf_counter() - started < 0.5  # well under 0.1 s normally; slack for CI


def test_save_failing_mid_write_keeps_the_old_file_and_leaves_no_temp_file(saved, monkeypatch):
    _, path = saved
    before = path.read_bytes()

    def failing_fsync(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(modelfile.os, "fsync", failing_fsync)
    with pytest.raises(ModelFileError, match="No space left on device"):
        save_model(Network.create([784, 16, 10]), path)
    assert path.read_bytes() == before
    assert [entry.name for entry in path.parent.iterdir()] == [path.name]


def temp_files(folder: Path) -> list[str]:
    """Return the names of hidden temporary files save_model may have left in folder."""
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def test_interrupt_mid_write_keeps_the_old_file_and_leaves_no_temp_file(saved, monkeypatch):
    _, path = saved
    before = path.read_bytes()

    def interrupted_fsync(descriptor: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(modelfile.os, "fsync", interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        save_model(Network.create([784, 16, 10]), path)
    assert path.read_bytes() == before
    assert temp_files(path.parent) == []


@pytest.mark.skipif(os.name == "nt", reason="sends SIGINT to itself")
def test_ctrl_c_during_the_write_waits_for_the_complete_file(saved, monkeypatch):
    _, path = saved
    real_fsync = os.fsync

    def fsync_then_ctrl_c(descriptor: int) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        real_fsync(descriptor)

    monkeypatch.setattr(modelfile.os, "fsync", fsync_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        save_model(Network.create([784, 16, 10], seed=9), path)
    assert load_model(path).layer_sizes == [784, 16, 10]
    assert temp_files(path.parent) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_saving_to_a_symlink_replaces_its_target_and_keeps_the_link(saved, tmp_path):
    _, target = saved
    link = tmp_path / "link.json"
    link.symlink_to(target)
    save_model(Network.create([784, 16, 10]), link)
    assert link.is_symlink()
    assert load_model(target).layer_sizes == [784, 16, 10]
    assert temp_files(tmp_path) == []


def test_read_only_file_is_not_replaced(saved):
    _, path = saved
    before = path.read_bytes()
    path.chmod(0o444)
    for attempt in (
        modelfile.check_save_destination,
        lambda p: save_model(Network.create(TINY_LAYERS), p),
    ):
        with pytest.raises(ModelFileError, match="the file is read-only"):
            attempt(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda folder: folder, "it is a folder; give a file name"),
        (lambda folder: folder / "missing" / "model.json", "missing does not exist"),
    ],
)
def test_unusable_destinations_are_found_before_any_work(tmp_path, make, problem):
    with pytest.raises(ModelFileError, match=problem):
        modelfile.check_save_destination(make(tmp_path))
    assert temp_files(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX only")
def test_a_fifo_is_never_written_over(tmp_path):
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match=r"it is a named pipe \(FIFO\), not a file"):
        modelfile.check_save_destination(fifo)


def test_unsavable_metadata_and_parameters_are_refused(tmp_path):
    path = tmp_path / "bad.json"
    network = Network.create(TINY_LAYERS)
    network.metadata["when"] = object()
    with pytest.raises(ModelFileError, match="metadata 'when'"):
        save_model(network, path)
    network = Network.create(TINY_LAYERS)
    network.weights[1][2][3] = math.nan
    with pytest.raises(ModelFileError, match="not finite"):
        save_model(network, path)
    assert not path.exists()


def test_missing_file(tmp_path):
    assert "does not exist" in load_error(tmp_path / "absent.json")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.json"
    path.write_bytes(b"")
    assert "is not a Digits model file: it is empty" in load_error(path)


def test_not_json(tmp_path):
    path = tmp_path / "notes.json"
    path.write_text("hello, model\n")
    assert "invalid JSON at line 1, column 1" in load_error(path)


def test_binary_file(tmp_path):
    path = tmp_path / "picture.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert "is not UTF-8 text" in load_error(path)


def test_truncated_file(saved):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    message = load_error(path)
    assert f"the JSON ends early at byte {len(data) // 2} (truncated?)" in message


def test_wrong_format_tag(saved):
    _, path = saved
    rewrite(path, lambda document: document.update(format="keras"))
    assert "is not a Digits model file (its \"format\" is 'keras'" in load_error(path)


def test_json_without_format_tag(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"name": "something else"}')
    assert "not a Digits model file (no format tag" in load_error(path)


def test_newer_version_asks_to_update(saved):
    _, path = saved
    rewrite(path, lambda document: document.update(version=2))
    assert "made by a newer Digits (model format version 2" in load_error(path)
    assert "update Digits" in load_error(path)


def test_unsupported_old_or_mistyped_version(saved):
    _, path = saved
    rewrite(path, lambda document: document.update(version="1"))
    assert "unsupported \"version\" '1'" in load_error(path)


def test_missing_field(saved):
    _, path = saved
    rewrite(path, lambda document: document["architecture"].pop("loss"))
    assert '"architecture.loss" is missing' in load_error(path)


def test_mistyped_field(saved):
    _, path = saved
    rewrite(path, lambda document: document.update(parameters={"weights": []}))
    assert '"parameters" must be an array, got an object' in load_error(path)


def test_layer_sizes_must_be_integers(saved):
    _, path = saved
    rewrite(path, lambda document: document["architecture"].update(layer_sizes=[784, 8.5, 10]))
    assert "must be integers" in load_error(path)


def test_architecture_must_start_at_784_and_end_at_10(saved):
    _, path = saved
    rewrite(path, lambda document: document["architecture"].update(layer_sizes=[100, 8, 10]))
    assert "must start with 784 inputs and end with 10 outputs" in load_error(path)


def test_huge_layer_sizes(saved):
    _, path = saved
    rewrite(path, lambda document: document["architecture"].update(layer_sizes=[784, 10**9, 10]))
    assert "between 1 and 4096 units" in load_error(path)


def test_too_many_layers(saved):
    _, path = saved
    rewrite(path, lambda document: document["architecture"].update(layer_sizes=[784] + [10] * 9))
    assert "has 10 layers; at most 8" in load_error(path)


def test_unknown_activation_and_loss(saved):
    _, path = saved
    rewrite(path, lambda document: document["architecture"].update(activation="swish"))
    assert "unknown activation 'swish'" in load_error(path)
    rewrite(path, lambda document: document["architecture"].update(activation="relu", loss="hinge"))
    assert "unknown loss 'hinge'" in load_error(path)


def test_unsupported_input(saved):
    _, path = saved
    rewrite(path, lambda document: document["input"].update(ink="low"))
    assert "\"input.ink\" is 'low'" in load_error(path)


def test_shape_not_matching_the_architecture(saved):
    _, path = saved
    rewrite(path, lambda document: document["parameters"][1]["weights"].update(shape=[10, 9]))
    assert '"parameters[1].weights.shape" is [10, 9] but the architecture needs [10, 8]' in (
        load_error(path)
    )


def test_wrong_number_of_layers_of_parameters(saved):
    _, path = saved
    rewrite(path, lambda document: document["parameters"].pop())
    assert '"parameters" has 1 layers but the architecture 784-8-10 needs 2' in load_error(path)


def test_base64_with_a_corrupted_character(saved):
    _, path = saved

    def corrupt(document: dict) -> None:
        tensor = document["parameters"][0]["biases"]
        tensor["data"] = "*" + tensor["data"][1:]

    rewrite(path, corrupt)
    assert '"parameters[0].biases.data" is not valid base64' in load_error(path)


def test_base64_of_the_wrong_length(saved):
    _, path = saved

    def shorten(document: dict) -> None:
        tensor = document["parameters"][0]["biases"]
        tensor["data"] = base64.b64encode(base64.b64decode(tensor["data"])[:-4]).decode()

    rewrite(path, shorten)
    assert "decodes to 28 bytes, but shape [8] of float32 needs 32" in load_error(path)


@pytest.mark.parametrize("bad_value", [math.nan, math.inf, -math.inf])
def test_non_finite_weight(saved, bad_value):
    _, path = saved

    def poison(document: dict) -> None:
        tensor = document["parameters"][1]["weights"]
        raw = bytearray(base64.b64decode(tensor["data"]))
        raw[20:24] = struct.pack("<f", bad_value)
        tensor["data"] = base64.b64encode(bytes(raw)).decode()

    rewrite(path, poison)
    assert '"parameters[1].weights" value number 5 is' in load_error(path)
    assert "(not finite)" in load_error(path)


def test_nan_literal_in_metadata(saved):
    _, path = saved
    path.write_text(path.read_text().replace('"epochs": 2', '"epochs": NaN'))
    assert "NaN is not a JSON number" in load_error(path)


def test_file_too_big_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.json"
    with path.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: no 64 MB written

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(modelfile.json, "loads", no_reading)
    assert "more than the 64 MB a model file may have" in load_error(path)


def test_unreadable_path(tmp_path):
    assert "cannot read model file" in load_error(tmp_path)


def test_unknown_keys_are_ignored(saved):
    network, path = saved
    rewrite(path, lambda document: document.update(comment="made by hand"))
    assert load_model(path).biases == network.biases


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_saved_file_is_readable_by_others(saved):
    _, path = saved
    assert path.stat().st_mode & 0o044 == 0o044


def nested(depth: int) -> str:
    """Return a model-like document whose training metadata nests `depth` arrays deep."""
    arrays = "[" * depth + "]" * depth
    return '{"format": "digits-model", "version": 1, "training": {"x": ' + arrays + "}}"


@pytest.mark.parametrize(
    ("content", "summary", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, modelfile.SUMMARY_DAMAGED, "nested too deeply"),
        (nested(100_000), modelfile.SUMMARY_DAMAGED, "nested too deeply"),
        ('{"format": ' + "[" * 5000 + "]" * 5000 + "}", modelfile.SUMMARY_DAMAGED, "nested"),
        (
            '{"format": "digits-model", "training": {"test_accuracy": 1e999}}',
            modelfile.SUMMARY_DAMAGED,
            "the number 1e999 is too large",
        ),
        (
            '{"format": "digits-model", "version": 1' + "0" * 5000 + "}",
            modelfile.SUMMARY_DAMAGED,
            "5001-digit integer is too large",
        ),
        ('{"format": "' + "x" * 100_000 + '"}', modelfile.SUMMARY_NOT_A_MODEL, "is 'xxxxxx"),
        (
            '{"format": ' + "[" * 30 + "]" * 30 + "}",
            modelfile.SUMMARY_NOT_A_MODEL,
            "is [[[...]]]",
        ),
    ],
)
def test_hostile_json_is_one_clear_error(tmp_path, content, summary, reason):
    path = tmp_path / "hostile.json"
    path.write_text(content)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert caught.value.summary == summary
    assert caught.value.path == path
    message = str(caught.value)
    assert reason in message and "\n" not in message and len(message) < 300


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX only")
def test_special_files_are_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    started = time.perf_counter()
    for path, kind in ((fifo, "a named pipe (FIFO)"), (tmp_path, "a folder")):
        with pytest.raises(ModelFileError) as caught:
            load_model(path)
        assert caught.value.summary == modelfile.SUMMARY_NOT_A_FILE
        assert f"it is {kind}, not a file" in str(caught.value)
    if Path("/dev/zero").exists():
        with pytest.raises(ModelFileError, match="it is a character device, not a file"):
            load_model("/dev/zero")
    assert time.perf_counter() - started < 1.0
