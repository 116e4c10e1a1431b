"""Tests for the command line, run as `python -m engine` on tiny synthetic IDX datasets.

The datasets hold three easily told apart patterns (a horizontal bar, a vertical bar, a ring)
labelled 0, 1 and 2, so a few seconds of training must read them almost perfectly.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from engine import cli
from engine.datadir import user_models_dir
from engine.evaluate import evaluate
from engine.inference import predictor
from engine.mnist import Dataset, load_mnist
from engine.modelfile import load_model, save_model
from engine.network import Network, normalise_probabilities
from engine.preprocess import load_image_file, preprocess_image
from engine.train import TrainConfig

TRAIN_IMAGES = 300
TEST_IMAGES = 90
PATTERN_CLASSES = 3
TRAIN_ARGUMENTS = ["--arch", "784-24-10", "--epochs", "3", "--batch", "16", "--lr", "0.5"]
SUBPROCESS_TIMEOUT = 120


def pattern_image(label: int, rng: random.Random) -> bytes:
    """Return a 28×28 image (ink high) of pattern `label`: 0 horizontal, 1 vertical, 2 ring."""
    image = Image.new("L", (28, 28), 0)
    draw = ImageDraw.Draw(image)
    ink = rng.randint(150, 255)
    length = rng.randint(14, 20)
    start, across = rng.randint(3, 25 - length), rng.randint(5, 21)
    if label == 0:
        draw.rectangle((start, across, start + length, across + 2), fill=ink)
    elif label == 1:
        draw.rectangle((across, start, across + 2, start + length), fill=ink)
    else:
        left, top = rng.randint(3, 8), rng.randint(3, 8)
        draw.ellipse((left, top, left + 16, top + 16), outline=ink, width=3)
    return image.tobytes()


def pattern_dataset(count: int, seed: int) -> Dataset:
    """Return count pattern images with labels cycling through 0, 1, 2."""
    rng = random.Random(seed)
    labels = [index % PATTERN_CLASSES for index in range(count)]
    return Dataset([pattern_image(label, rng) for label in labels], labels)


def write_split(folder: Path, prefix: str, dataset: Dataset) -> None:
    """Write a dataset as the two gzip IDX files of an MNIST split (prefix "train" or "t10k")."""
    count = len(dataset)
    images = struct.pack(">IIII", 0x803, count, 28, 28) + b"".join(dataset.images)
    labels = struct.pack(">II", 0x801, count) + bytes(dataset.labels)
    (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
    (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))


def run_engine(
    *arguments: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run `python -m engine ARGUMENTS` (environment updated by env); return the process."""
    completed = subprocess.run(
        [sys.executable, "-m", "engine", *arguments],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        env={**os.environ, **(env or {})},
    )
    if check:
        assert completed.returncode == 0, completed.stderr
    return completed


@pytest.fixture(scope="session")
def pattern_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a folder holding a synthetic train and test split in MNIST's file layout."""
    folder = tmp_path_factory.mktemp("patterns")
    write_split(folder, "train", pattern_dataset(TRAIN_IMAGES, seed=1))
    write_split(folder, "t10k", pattern_dataset(TEST_IMAGES, seed=2))
    return folder


@pytest.fixture(scope="session")
def trained(pattern_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Return the model file `train --json` wrote and the JSON it printed."""
    model = tmp_path_factory.mktemp("trained") / "patterns.json"
    completed = run_engine(
        "train", "--data", str(pattern_data), *TRAIN_ARGUMENTS, "--json", "--out", str(model)
    )
    return model, json.loads(completed.stdout)


@pytest.fixture
def vertical_bar_png(tmp_path: Path) -> Path:
    """Return a PNG of a dark vertical bar on white paper, like a drawn pattern 1."""
    path = tmp_path / "bar.png"
    image = Image.new("L", (140, 140), 255)
    ImageDraw.Draw(image).rectangle((60, 20, 72, 120), fill=0)
    image.save(path)
    return path


def test_train_learns_the_patterns_and_reports_json(trained):
    model, figures = trained
    assert figures["reason"] == "finished"
    assert figures["epochs"] == 3
    assert figures["test_accuracy"] > 0.9
    assert figures["train_seconds"] > 0 and figures["samples_per_second"] > 0
    assert figures["train_images"] == TRAIN_IMAGES and figures["test_images"] == TEST_IMAGES
    assert figures["model"] == str(model)
    assert [epoch["epoch"] for epoch in figures["history"]] == [1, 2, 3]
    assert (figures["divergences"], figures["final_learning_rate"]) == (0, 0.5)
    assert "hint" in figures
    # Patterns this easy are soon read with p > 0.99: their backward pass is skipped.
    skipped = [epoch["skipped_samples"] for epoch in figures["history"]]
    assert figures["skipped_samples"] == sum(skipped) and skipped[-1] > skipped[0]
    network = load_model(model)
    assert network.architecture == "784-24-10"
    assert network.metadata["epochs"] == 3
    assert network.metadata["test_accuracy"] == figures["test_accuracy"]
    assert network.metadata["batch_size"] == 16


def test_train_at_learning_rate_10_recovers_and_finishes(pattern_data, tmp_path):
    model = tmp_path / "recovered.json"
    # With momentum, as test_train's recovery tests (plain SGD at 10 kills the units instead).
    arguments = ["--arch", "784-24-10", "--epochs", "3", "--batch", "10", "--lr", "10"]
    arguments += ["--momentum", "0.9"]
    completed = run_engine(
        "train", "--data", str(pattern_data), *arguments, "--json", "--out", str(model)
    )
    figures = json.loads(completed.stdout)
    assert figures["reason"] == "finished"
    assert figures["divergences"] >= 1
    assert figures["final_learning_rate"] == 10 * 0.5 ** figures["divergences"]
    assert figures["test_accuracy"] > 0.6  # chance is 1/3
    assert "lowered the learning rate to 5" in completed.stderr
    assert f"Recovered from {figures['divergences']} divergence" in completed.stderr
    assert load_model(model).metadata["divergences"] == figures["divergences"]


def test_train_on_divergence_stop_stops_and_fails(pattern_data, tmp_path):
    model = tmp_path / "diverged.json"
    arguments = ["--arch", "784-24-10", "--epochs", "3", "--batch", "10", "--lr", "10"]
    arguments += ["--momentum", "0.9"]
    completed = run_engine(
        "train",
        "--data",
        str(pattern_data),
        *arguments,
        "--on-divergence",
        "stop",
        "--json",
        "--out",
        str(model),
        check=False,
    )
    assert completed.returncode == 1
    figures = json.loads(completed.stdout)
    assert figures["reason"] == "diverged"
    assert (figures["divergences"], figures["final_learning_rate"]) == (1, 10)
    assert "smaller learning rate" in completed.stderr
    assert "lowered the learning rate" not in completed.stderr
    assert load_model(model).metadata["reason"] == "diverged"


def test_train_without_out_writes_a_new_named_file_in_the_user_models_folder(
    pattern_data, tmp_path
):
    home = {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "LOCALAPPDATA": str(tmp_path / "data"),
        "HOME": str(tmp_path),
    }
    arguments = ["train", "--data", str(pattern_data), *TRAIN_ARGUMENTS, "--json"]
    first = json.loads(run_engine(*arguments, env=home).stdout)
    folder = user_models_dir(environ=home, home=tmp_path)
    accuracy = f"{first['test_accuracy'] * 100:.1f}pct"
    assert first["model"] == str(folder / f"digits-784-24-10-relu-{accuracy}.json")
    before = Path(first["model"]).read_bytes()
    assert load_model(first["model"]).architecture == "784-24-10"

    # The same run again (same seed, same accuracy): a new file beside it, the first untouched.
    second = json.loads(run_engine(*arguments, env=home).stdout)
    assert second["model"] == str(folder / f"digits-784-24-10-relu-{accuracy}-2.json")
    assert Path(first["model"]).read_bytes() == before
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [Path(first["model"]).name, Path(second["model"]).name]
    )


def test_train_prints_a_hint_for_a_poor_run(pattern_data, tmp_path):
    arguments = ["--limit", "60", "--epochs", "2", "--arch", "784-8-10"]
    model = tmp_path / "small.json"
    completed = run_engine("train", "--data", str(pattern_data), *arguments, "--out", str(model))
    assert "Hint: Only 60 training images" in completed.stdout
    figures = json.loads(
        run_engine(
            "train", "--data", str(pattern_data), *arguments, "--out", str(model), "--json"
        ).stdout
    )
    assert figures["hint"].startswith("Only 60 training images")


def test_train_prints_epoch_lines_without_json(pattern_data, tmp_path):
    model = tmp_path / "text.json"
    arguments = ["--limit", "60", "--epochs", "2", "--arch", "784-8-10", "--out", str(model)]
    completed = run_engine("train", "--data", str(pattern_data), *arguments)
    assert "on 60 images" in completed.stdout
    assert "epoch 1/2  train loss" in completed.stdout
    assert "epoch 2/2" in completed.stdout and "samples/s" in completed.stdout
    assert f"Saved {model}" in completed.stdout
    assert load_model(model).metadata["train_images"] == 60


def test_evaluate_json_matches_the_python_api(trained, pattern_data):
    model, _ = trained
    figures = json.loads(
        run_engine("evaluate", "--model", str(model), "--data", str(pattern_data), "--json").stdout
    )
    expected = evaluate(load_model(model), load_mnist(pattern_data, "test"))
    assert figures["accuracy"] == expected.accuracy > 0.9
    assert figures["confusion"] == expected.confusion
    assert sum(map(sum, figures["confusion"])) == TEST_IMAGES
    assert figures["per_class"][PATTERN_CLASSES:] == [None] * (10 - PATTERN_CLASSES)
    assert figures["misclassified_count"] == len(expected.misclassified)


def test_evaluate_prints_readable_tables(trained, pattern_data):
    model, _ = trained
    output = run_engine("evaluate", "--model", str(model), "--data", str(pattern_data)).stdout
    assert "accuracy" in output
    assert "confusion matrix (rows: true digit, columns: predicted digit)" in output
    rows = [line.split() for line in output.splitlines() if line[:1].isdigit()]
    assert [int(row[0]) for row in rows] == list(range(10))
    assert sum(int(count) for row in rows for count in row[1:]) == TEST_IMAGES


def test_predict_json_reads_as_the_app_does(trained, vertical_bar_png, tmp_path):
    model, _ = trained
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    completed = run_engine("predict", "--model", str(model), str(vertical_bar_png), str(blank))
    assert "nothing drawn" in completed.stdout
    figures = json.loads(
        run_engine(
            "predict", "--model", str(model), str(vertical_bar_png), str(blank), "--json"
        ).stdout
    )
    bar, nothing = figures["predictions"]
    pixels = preprocess_image(load_image_file(vertical_bar_png)).pixels
    expected = predictor(load_model(model)).predict(pixels)  # the app's canvas reads so too
    assert bar["file"] == str(vertical_bar_png)
    assert bar["probabilities"] == pytest.approx(expected, abs=1e-12)
    assert bar["digit"] == expected.index(max(expected)) == 1
    assert nothing == {
        "file": str(blank),
        "digit": None,
        "probabilities": None,
        "error": "nothing drawn",
    }


def test_predict_says_a_speck_or_a_dot_is_too_small_to_read(trained, tmp_path, capsys):
    model, _ = trained
    paths = []
    for name, diameter in (("speck", 3), ("click", 20), ("big-click", 40)):
        image = Image.new("L", (280, 280), 255)
        ImageDraw.Draw(image).ellipse([120, 120, 120 + diameter, 120 + diameter], fill=0)
        paths.append(tmp_path / f"{name}.png")
        image.save(paths[-1])
    assert cli.main(["predict", "--model", str(model), *map(str, paths)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{path}: too small to read" for path in paths]
    assert cli.main(["predict", "--model", str(model), "--json", *map(str, paths)]) == 0
    assert json.loads(capsys.readouterr().out)["predictions"] == [
        {"file": str(path), "digit": None, "probabilities": None, "error": "too small to read"}
        for path in paths
    ]


def test_predict_normalises_mse_outputs(vertical_bar_png, tmp_path, capsys):
    network = Network.create([784, 6, 10], "sigmoid", "mse", seed=4)
    model = tmp_path / "classic.json"
    save_model(network, model)
    assert cli.main(["predict", "--model", str(model), str(vertical_bar_png), "--json"]) == 0
    probabilities = json.loads(capsys.readouterr().out)["predictions"][0]["probabilities"]
    pixels = preprocess_image(load_image_file(vertical_bar_png)).pixels
    expected = normalise_probabilities(predictor(network).predict(pixels))
    assert probabilities == pytest.approx(expected, abs=1e-6)
    assert sum(probabilities) == pytest.approx(1.0)


def test_unreadable_image_is_reported_and_fails(tiny_model, vertical_bar_png, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_text("not a picture")
    exit_code = cli.main(["predict", "--model", str(tiny_model), str(broken), "--json"])
    assert exit_code == 1
    captured = capsys.readouterr()
    entry = json.loads(captured.out)["predictions"][0]
    assert entry["digit"] is None and "cannot read image" in entry["error"]
    assert captured.err.count("\n") == 1 and "error: cannot read image" in captured.err


def test_missing_default_model_says_what_to_do(tmp_path, vertical_bar_png, monkeypatch, capsys):
    monkeypatch.setattr(cli, "DEFAULT_MODEL_PATH", tmp_path / "default.json")
    assert cli.main(["predict", str(vertical_bar_png)]) == 1
    error = capsys.readouterr().err
    assert "no --model given and the shipped default model" in error
    assert "does not exist yet" in error and "train --out FILE" in error


def test_errors_are_one_line_without_traceback(tmp_path, pattern_data):
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "digits-model", "version": 1, "architecture": ')
    completed = run_engine(
        "evaluate", "--model", str(corrupt), "--data", str(pattern_data), "--json", check=False
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert completed.stderr.count("\n") == 1
    assert "the JSON ends early at byte" in completed.stderr
    assert "truncated?" in json.loads(completed.stdout)["error"]


def test_missing_data_fails_with_the_download_hint(tmp_path, tiny_model, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["evaluate", "--model", str(tiny_model), "--data", str(empty)]) == 1
    error = capsys.readouterr().err
    assert "not found in" in error and "python -m engine download" in error


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (["--arch", "784-16-9"], "must start with 784 inputs and end with 10 outputs"),
        (["--arch", "-".join(["784"] + ["8"] * 8 + ["10"])], "at most 8 layers"),
        (["--momentum", "1.5"], "momentum must be in [0, 1)"),
        (["--epochs", "0"], "0 is less than 1"),
        (["--activation", "swish"], "invalid choice: 'swish'"),
    ],
)
def test_bad_training_settings_are_usage_errors(arguments, problem, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", *arguments, "--out", str(tmp_path / "model.json")])
    assert exit_info.value.code == 2
    assert problem in capsys.readouterr().err


def test_train_output_folder_must_exist(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--out", str(tmp_path / "missing" / "model.json")])
    assert exit_info.value.code == 2
    assert "missing does not exist" in capsys.readouterr().err


def test_train_defaults_come_from_train_config():
    arguments = cli.build_parser().parse_args(["train", "--out", "model.json"])
    config = TrainConfig()
    assert (arguments.epochs, arguments.batch, arguments.lr) == (
        config.epochs,
        config.batch_size,
        config.learning_rate,
    )
    assert (arguments.momentum, arguments.schedule, arguments.seed) == (
        config.momentum,
        config.schedule,
        config.seed,
    )
    assert arguments.on_divergence == config.on_divergence == "recover"
    assert (arguments.weight_decay, arguments.skip_confidence) == (
        config.weight_decay,
        config.skip_confidence,
    )


@pytest.mark.skipif(os.name == "nt", reason="sends SIGINT, which Windows does not deliver so")
def test_ctrl_c_stops_training_and_saves_what_was_learned(pattern_data, tmp_path):
    model = tmp_path / "stopped.json"
    arguments = ["--epochs", "200", "--arch", "784-8-10", "--json", "--out", str(model)]
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "train", "--data", str(pattern_data), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # In --json mode the epoch lines go to stderr; interrupt once training is under way.
        for line in process.stderr:
            if line.startswith("epoch 1/200"):
                break
        process.send_signal(signal.SIGINT)
        output, errors = process.communicate(timeout=SUBPROCESS_TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 0, errors
    figures = json.loads(output)
    assert figures["reason"] == "stopped"
    assert 1 <= figures["epochs"] < 200
    assert "saved what was learned so far" in errors
    assert load_model(model).metadata["reason"] == "stopped"


def test_progress_line_logs_now_and_then_when_not_a_terminal():
    now = [0.0]
    pipe = io.StringIO()
    line = cli.ProgressLine(pipe, log_seconds=10.0, clock=lambda: now[0])
    for moment in (1.0, 9.0, 10.5, 12.0, 21.0):
        now[0] = moment
        line.show(f"at {moment}")
    line.clear()
    assert pipe.getvalue() == "at 10.5\nat 21.0\n"


@pytest.mark.skipif(os.name == "nt", reason="needs a pseudo-terminal")
def test_train_shows_a_progress_line_on_a_terminal(pattern_data, tmp_path):
    import pty  # Unix only

    leader, follower = pty.openpty()
    arguments = ["--arch", "784-8-10", "--epochs", "2", "--batch", "1", "--json"]
    arguments += ["--out", str(tmp_path / "model.json")]
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "engine", "train", "--data", str(pattern_data), *arguments],
            stdout=subprocess.PIPE,
            stderr=follower,
        )
        os.close(follower)
        # Read the terminal while the run goes on, so that it never waits for room to write.
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            drawn += chunk
        output, _ = process.communicate(timeout=SUBPROCESS_TIMEOUT)
    finally:
        os.close(leader)
    assert process.returncode == 0
    text = drawn.decode()
    assert "\repoch 1/2 [" in text and "batch " in text and "/300" in text
    assert "loss " in text and "samples/s" in text and "ETA " in text
    assert "ETA" not in output.decode()  # stdout holds only the JSON
    json.loads(output)


def test_progress_line_draws_on_a_terminal_only():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        line = cli.ProgressLine(stream)
        line.show("epoch 1 [####]", force=True)
        line.show("skipped: too soon after the last one")
        line.clear()
    assert terminal.getvalue() == "\repoch 1 [####]\r" + " " * 14 + "\r"
    assert pipe.getvalue() == ""


@pytest.mark.mnist
def test_download_from_a_local_mirror_of_real_mnist(tmp_path, capsys):
    source = os.environ.get("DIGITS_DATA", "")
    if not source or not Path(source).is_dir():
        pytest.skip("real MNIST not available: set DIGITS_DATA to a folder with the MNIST files")

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *arguments: object) -> None:
            """Keep the test output clean."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=source))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        mirror = f"http://127.0.0.1:{server.server_address[1]}/"
        target = tmp_path / "mnist"
        exit_code = cli.main(["download", "--data", str(target), "--mirror", mirror, "--json"])
    finally:
        server.shutdown()
        thread.join()
    assert exit_code == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["data"] == str(target)
    assert len(figures["files"]) == 4 and all(Path(path).is_file() for path in figures["files"])
    assert len(load_mnist(target, "test")) == 10_000


@pytest.mark.mnist
def test_train_on_real_mnist_learns_in_one_short_epoch(tmp_path):
    folder = os.environ.get("DIGITS_DATA", "")
    if not folder or not Path(folder).is_dir():
        pytest.skip("real MNIST not available: set DIGITS_DATA to a folder with the MNIST files")
    model = tmp_path / "real.json"
    arguments = ["--limit", "2000", "--epochs", "1", "--arch", "784-32-10", "--json"]
    figures = json.loads(
        run_engine("train", "--data", folder, *arguments, "--out", str(model)).stdout
    )
    assert figures["test_images"] == 10_000
    assert figures["test_accuracy"] > 0.8
    assert load_model(model).metadata["test_accuracy"] == figures["test_accuracy"]


@pytest.mark.mnist
def test_train_at_learning_rate_10_on_real_mnist_recovers(tmp_path):
    folder = os.environ.get("DIGITS_DATA", "")
    if not folder or not Path(folder).is_dir():
        pytest.skip("real MNIST not available: set DIGITS_DATA to a folder with the MNIST files")
    arguments = ["--limit", "3000", "--epochs", "2", "--arch", "784-64-10", "--lr", "10"]
    arguments += ["--momentum", "0.9"]  # see test_train_at_learning_rate_10_recovers_and_finishes
    completed = run_engine(
        "train", "--data", folder, *arguments, "--json", "--out", str(tmp_path / "m.json")
    )
    figures = json.loads(completed.stdout)
    assert figures["reason"] == "finished"
    assert figures["divergences"] >= 1
    assert figures["test_accuracy"] > 0.3  # chance is 0.1
    assert "The learning rate 10 was too high" in figures["hint"]


KILL_TRIALS = 6
KILL_ARGUMENTS = ["--arch", "784-256-10", "--epochs", "2", "--batch", "32", "--seed", "5"]


@pytest.mark.skipif(os.name == "nt", reason="sends POSIX signals")
@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGKILL])
def test_killing_train_at_random_moments_never_loses_the_model(
    pattern_data: Path, tmp_path: Path, signal_number: int
) -> None:
    """SIGINT or SIGKILL at a random moment of `train --out` over an existing model, from the
    start of training to the end of the save: the old model or a valid new one is left, and
    after a clean exit no temporary file. (Before training starts the model is not at stake.)"""
    model = tmp_path / "model.json"
    save_model(Network.create([784, 8, 10], seed=1), model)
    old = model.read_bytes()
    command = ["train", "--data", str(pattern_data), *KILL_ARGUMENTS, "--out", str(model)]
    process = start_training(command)
    started = time.monotonic()
    process.communicate(timeout=SUBPROCESS_TIMEOUT)
    run_seconds = time.monotonic() - started
    rng = random.Random(signal_number)
    outcomes = []
    for _ in range(KILL_TRIALS):
        model.write_bytes(old)
        process = start_training(command)
        try:
            time.sleep(rng.uniform(0.0, run_seconds))
            process.send_signal(signal_number)
            _, errors = process.communicate(timeout=SUBPROCESS_TIMEOUT)
        finally:
            process.kill()
            process.wait()
        assert "Traceback" not in errors
        if model.read_bytes() == old:
            outcomes.append("old")
        else:
            assert load_model(model).layer_sizes == [784, 256, 10]
            outcomes.append("new")
        if process.returncode != -signal.SIGKILL:
            assert process.returncode in (0, 130), errors
            assert [path.name for path in tmp_path.iterdir()] == ["model.json"]
    assert len(outcomes) == KILL_TRIALS


def start_training(command: list[str]) -> subprocess.Popen:
    """Start `python -m engine COMMAND` (a train command) and return once training begins."""
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().startswith("Training ")
    return process


@pytest.mark.skipif(os.name == "nt", reason="sends POSIX signals")
def test_ctrl_c_just_after_saved_still_reports_success(pattern_data: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.json"
    arguments = ["--arch", "784-8-10", "--epochs", "1", "--out", str(model)]
    for _ in range(3):
        process = start_training(["train", "--data", str(pattern_data), *arguments])
        try:
            for line in process.stdout:
                if line.startswith("Saved "):
                    process.send_signal(signal.SIGINT)
                    break
            _, errors = process.communicate(timeout=SUBPROCESS_TIMEOUT)
        finally:
            process.kill()
            process.wait()
        assert process.returncode == 0, errors
        assert "Traceback" not in errors and "interrupted" not in errors
        assert load_model(model).layer_sizes == [784, 8, 10]
