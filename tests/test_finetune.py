"""Tests for teaching a model the person's drawings: engine.finetune, the CLI, the hand bench.

The "MNIST-like" data are the engine's synthetic pen-drawn digits (`engine.drawn`), so the tests
need no real MNIST; the person is a synthetic hand of `engine.hands` (narrow, bold, slashed
zero, open 4, crossed 7) that a network trained on pen digits reads badly.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from test_cli import run_engine, write_split

from engine.drawn import drawn_digits
from engine.evaluate import evaluate
from engine.finetune import (
    NO_REPLAY_NOTE,
    FinetuneError,
    FinetuneStopped,
    blend,
    finetune,
    split_heldout,
    teaching_set,
)
from engine.handbench import run_handbench
from engine.hands import HANDS, hand_drawings, hand_named
from engine.mnist import Dataset
from engine.modelfile import load_model, save_model
from engine.mydigits import DigitStore
from engine.network import Network
from engine.preprocess import preprocess_image
from engine.train import TrainConfig, TrainingControl, train

RUN_SAMPLES = 3000


def pen_dataset(count: int, seed: int) -> Dataset:
    """Return count pen-drawn digits, preprocessed like drawings in the app."""
    drawn = drawn_digits("pen", count, seed)
    return Dataset([preprocess_image(d.image).pixels for d in drawn], [d.label for d in drawn])


def hand_dataset(name: str, per_digit: int, seed: str) -> Dataset:
    """Return per_digit drawings of every digit in the named hand, preprocessed."""
    items = hand_drawings(hand_named(name), per_digit, seed)
    return Dataset([preprocess_image(image).pixels for image, _ in items], [d for _, d in items])


@pytest.fixture(scope="module")
def pen_data() -> tuple[Dataset, Dataset]:
    """Return (train, test) sets of pen-drawn digits: this module's stand-in for MNIST."""
    return pen_dataset(600, 11), pen_dataset(200, 12)


@pytest.fixture(scope="module")
def base_network(pen_data: tuple[Dataset, Dataset]) -> Network:
    """Return a 784-32-10 network trained for a few seconds on the pen digits."""
    config = TrainConfig(epochs=8, batch_size=16, learning_rate=0.05, augment=True)
    return train(Network.create([784, 32, 10], seed=0), pen_data[0], None, config).network


def test_teaching_a_hand_lifts_new_drawings_and_keeps_the_rest(base_network, pen_data) -> None:
    replay, test_set = pen_data
    taught = hand_dataset("narrow-bold", 5, "teach")
    new = hand_dataset("narrow-bold", 10, "new")
    original_weights = [row[:] for row in base_network.weights[0][:3]]
    result = finetune(base_network, taught, replay, test_set, run_samples=RUN_SAMPLES)
    before = evaluate(base_network, new).accuracy
    after = evaluate(result.network, new).accuracy
    assert after >= before + 0.3, (before, after)
    assert result.samples == 50
    assert result.heldout == 10
    assert result.heldout_accuracy_after > result.heldout_accuracy_before
    assert result.mnist_accuracy_before == evaluate(base_network, test_set).accuracy
    assert result.mnist_accuracy_after == evaluate(result.network, test_set).accuracy
    assert result.mnist_accuracy_after >= result.mnist_accuracy_before - 0.03
    assert result.replay and result.notes == []
    assert base_network.weights[0][:3] == original_weights  # the original is untouched
    assert result.network.metadata["finetuned_on_my_digits"] == 50
    assert result.network.metadata["test_accuracy"] == result.mnist_accuracy_after


def test_bad_input_gets_a_clear_message(base_network, pen_data) -> None:
    with pytest.raises(FinetuneError, match="empty"):
        finetune(base_network, Dataset([], []), pen_data[0])
    sevens = hand_dataset("european", 3, "sevens")
    sevens = Dataset(sevens.images[21:24], sevens.labels[21:24])
    assert set(sevens.labels) == {7}
    with pytest.raises(FinetuneError, match="all your drawings are 7s"):
        finetune(base_network, sevens, None)
    # With MNIST to mix in, one digit is fine: the other nine are replayed.
    result = finetune(base_network, sevens, pen_data[0], pen_data[1], run_samples=RUN_SAMPLES)
    assert result.mnist_accuracy_after >= result.mnist_accuracy_before - 0.05


def test_without_replay_the_drawings_alone_are_taught_with_a_warning(base_network) -> None:
    taught = hand_dataset("boxy-wide", 2, "alone")
    result = finetune(base_network, taught, None, None, run_samples=1000)
    assert result.notes[0] == NO_REPLAY_NOTE
    assert result.mnist_accuracy_before is None and result.mnist_accuracy_after is None
    assert "test_accuracy" not in result.network.metadata


def test_one_drawing_per_digit_is_never_held_out(base_network) -> None:
    taught = hand_dataset("european", 1, "single")
    result = finetune(base_network, taught, None, None, run_samples=500)
    assert result.heldout == 0
    assert result.heldout_accuracy_before is None
    assert "put any aside" in result.notes[-1]


def test_stopping_raises_and_keeps_nothing(base_network, pen_data) -> None:
    control = TrainingControl()
    control.stop()
    with pytest.raises(FinetuneStopped):
        finetune(base_network, hand_dataset("european", 2, "stop"), pen_data[0], control=control)


def test_split_holds_out_a_share_of_each_digit() -> None:
    labels = [0] * 5 + [1] * 10 + [2]
    teach, heldout = split_heldout(labels, 0.2, random.Random(0))
    assert sorted(teach + heldout) == list(range(16))
    assert [labels[i] for i in heldout].count(0) == 1
    assert [labels[i] for i in heldout].count(1) == 2
    assert 15 in teach  # the only 2 is always taught


def test_teaching_set_mixes_repeated_drawings_with_replay() -> None:
    drawings = Dataset([bytes([label + 1]) * 784 for label in range(10)], list(range(10)))
    replay = Dataset([bytes(784)] * 5000, [3] * 5000)
    mixed = teaching_set(drawings, replay, 1000, random.Random(0))
    assert len(mixed) == 1000
    assert mixed.images.count(bytes([10]) * 784) == 30  # 30 % of 1000 over 10 drawings
    assert mixed.images.count(bytes(784)) == 700
    alone = teaching_set(drawings, None, 1000, random.Random(0))
    assert len(alone) == 1000 and alone.labels.count(4) == 100


def test_blend_mixes_weights_and_biases() -> None:
    old = Network(
        [784, 1, 10], "relu", "cross_entropy", [[[0.0] * 784], [[1.0]] * 10], [[0.0], [0.0] * 10]
    )
    new = old.copy()
    new.weights[0][0][5] = 10.0
    new.biases[1][2] = -5.0
    mixed = blend(old, new, 0.6)
    assert mixed.weights[0][0][5] == pytest.approx(6.0)
    assert mixed.biases[1][2] == pytest.approx(-3.0)
    assert mixed.weights[1][0] == [1.0]
    with pytest.raises(ValueError, match="same architecture"):
        blend(Network.create([784, 2, 10]), new, 0.5)


def test_every_hand_draws_ten_distinct_digits_reproducibly() -> None:
    for hand in HANDS:
        first = hand_drawings(hand, 1, "a")
        assert [digit for _, digit in first] == list(range(10))
        assert all(image.size == (280, 280) and image.mode == "L" for image, _ in first)
        assert [i.tobytes() for i, _ in first] == [
            i.tobytes() for i, _ in hand_drawings(hand, 1, "a")
        ]
        assert first[0][0].tobytes() != hand_drawings(hand, 1, "b")[0][0].tobytes()


def test_handbench_reports_before_and_after_and_writes_sheets(
    base_network, pen_data, tmp_path
) -> None:
    rows = run_handbench(
        base_network,
        pen_data[0],
        pen_data[1],
        [hand_named("narrow-bold")],
        teach_per_digit=3,
        new_per_digit=3,
        sheets_dir=tmp_path,
    )
    (row,) = rows
    assert row.hand == "narrow-bold" and row.taught == 30 and row.new_drawings == 30
    assert row.after > row.before
    assert (tmp_path / "hand-narrow-bold.png").is_file()


@pytest.fixture(scope="module")
def cli_files(base_network, pen_data, tmp_path_factory) -> dict[str, Path]:
    """Return a model file, a My digits folder of a hand, and a pen-digit MNIST folder."""
    folder = tmp_path_factory.mktemp("finetune-cli")
    model = folder / "base.json"
    save_model(base_network, model)
    data = folder / "data"
    data.mkdir()
    write_split(data, "train", pen_data[0])
    write_split(data, "t10k", pen_data[1])
    store = DigitStore(folder / "mine")
    for image, digit in hand_drawings(hand_named("narrow-bold"), 4, "cli"):
        store.add(image, digit)
    (folder / "mine" / "4" / "broken.png").write_bytes(b"not a png")
    return {"model": model, "data": data, "samples": folder / "mine", "folder": folder}


def test_cli_finetune_writes_a_model_and_reports_json(cli_files) -> None:
    out = cli_files["folder"] / "taught.json"
    completed = run_engine(
        "finetune",
        "--model", str(cli_files["model"]),
        "--samples", str(cli_files["samples"]),
        "--data", str(cli_files["data"]),
        "--out", str(out),
        "--json",
    )  # fmt: skip
    figures = json.loads(completed.stdout)
    for key in (
        "samples",
        "seconds",
        "heldout_accuracy_before",
        "heldout_accuracy_after",
        "mnist_accuracy_before",
        "mnist_accuracy_after",
    ):
        assert key in figures
    assert figures["samples"] == 40
    assert figures["model"] == str(out)
    assert figures["heldout_accuracy_after"] > figures["heldout_accuracy_before"]
    assert "broken.png" in completed.stderr
    taught = load_model(out)
    assert taught.metadata["finetuned_from"] == "base.json"
    assert taught.metadata["test_accuracy"] == figures["mnist_accuracy_after"]


def test_cli_finetune_defaults_to_the_per_user_folders(cli_files, tmp_path) -> None:
    import os
    import subprocess
    import sys

    environment = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path),
        "DIGITS_MY_DIGITS": str(cli_files["samples"]),
        "DIGITS_DATA": str(tmp_path / "no-mnist-here"),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "engine", "finetune", "--model", str(cli_files["model"])],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "no MNIST to mix in" in completed.stderr
    assert "learned your drawings alone" in completed.stderr
    assert (tmp_path / "digits" / "models" / "base-my-digits.json").is_file()


def test_cli_finetune_refuses_bad_input(cli_files, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    failed = run_engine(
        "finetune", "--model", str(cli_files["model"]), "--samples", str(empty),
        "--out", str(tmp_path / "x.json"), "--json", check=False,
    )  # fmt: skip
    assert failed.returncode == 1
    assert "empty" in json.loads(failed.stdout)["error"]
    missing = run_engine(
        "finetune", "--model", str(cli_files["model"]), "--samples", str(tmp_path / "nope"),
        "--out", str(tmp_path / "x.json"), check=False,
    )  # fmt: skip
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    shipped = run_engine(
        "finetune", "--samples", str(cli_files["samples"]),
        "--out", str(Path("models") / "default.json"), check=False,
    )  # fmt: skip
    assert shipped.returncode == 2 and "never overwritten" in shipped.stderr
