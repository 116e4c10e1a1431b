"""The engine's command line: `python -m engine` or `digits-engine`, one subcommand per task.

    download   fetch and verify the four MNIST files
    train      train a network on MNIST and save it as a model file
    evaluate   accuracy, per-digit accuracy and confusion matrix of a model on MNIST
    predict    read digits from image files
    bench      measure training and inference speed on synthetic data
    drawn      measure a model on digits drawn the way people draw them
    finetune   teach a model your own drawings ("My digits"), keeping MNIST
    handbench  measure teaching on synthetic hands: before and after, per hand

Every subcommand takes `--json`: stdout then holds exactly one JSON object (the result, or
{"error": ...}) and everything else goes to stderr. Without it, results and epoch lines go to
stdout and progress bars to stderr (redrawn in place on a terminal; elsewhere only `train`
writes one, as a line every PROGRESS_LOG_SECONDS). A failure prints one line
on stderr and exits with 1; bad arguments exit with 2; Ctrl+C during training stops after the
current batch and saves what was learned.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import TextIO

from engine.activations import ACTIVATIONS
from engine.bench import CLASSIC_ARCHITECTURE, DEFAULT_ARCHITECTURE, FULL, QUICK, run_bench
from engine.datadir import (
    DATA_ENV_VAR,
    MY_DIGITS_ENV_VAR,
    resolve_data_dir,
    resolve_my_digits_dir,
    user_models_dir,
)
from engine.distribution import version_line
from engine.download import DEFAULT_MIRRORS, download_mnist
from engine.drawn import KINDS
from engine.drawnbench import (
    DEFAULT_PER_KIND,
    DEFAULT_SEED,
    SHEET_EXAMPLES,
    format_table,
    report_document,
    run_benchmark,
)
from engine.evaluate import Evaluation, evaluate
from engine.finetune import (
    FinetuneError,
    FinetuneProgress,
    FinetuneResult,
    finetune,
)
from engine.handbench import (
    DEFAULT_NEW_PER_DIGIT,
    DEFAULT_TEACH_PER_DIGIT,
    format_rows,
    rows_document,
    run_handbench,
)
from engine.hands import HANDS, hand_named
from engine.hint import run_hint
from engine.inference import Predictor, predictor
from engine.mnist import DIGIT_CLASSES, DataError, Dataset, load_mnist
from engine.modelfile import (
    DEFAULT_MODEL_PATH,
    MAX_LAYERS,
    SHIPPED_MODELS_DIR,
    SUMMARY_MISSING,
    ModelFileError,
    check_save_destination,
    load_model,
    save_model,
)
from engine.modelname import model_file_name, reserve_model_path
from engine.mydigits import DigitStore, StoreError
from engine.network import (
    LOSSES,
    Network,
    format_architecture,
    normalise_probabilities,
    parse_architecture,
)
from engine.parallel import WorkerError
from engine.preprocess import (
    ImageFileError,
    NothingDrawn,
    load_image_file,
    preprocess_image,
)
from engine.train import (
    DIVERGENCE_POLICIES,
    SCHEDULES,
    BatchEnd,
    DivergenceRecovered,
    EpochEnd,
    TrainConfig,
    TrainingControl,
    train,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
EXIT_SIGNAL_BASE = 128
PROGRESS_INTERVAL_SECONDS = 0.1
# How often a training progress line is written when stderr is a log file or a pipe.
PROGRESS_LOG_SECONDS = 10.0
BAR_WIDTH = 24
MEGABYTE = 1024 * 1024
SCRIPT_NAME = "digits-engine"
MODULE_COMMAND = "python -m engine"


class ProgressLine:
    """Redraw one status line on a terminal; elsewhere stay silent, or log a line now and then.

    With `log_seconds`, a stream that is not a terminal (a log file, a pipe) gets the text as
    an ordinary line at most every `log_seconds`, so long runs still show progress there.
    """

    def __init__(
        self,
        stream: TextIO,
        log_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.log_seconds = log_seconds
        self.clock = clock
        self._last_draw = 0.0
        self._last_log = clock()
        self._width = 0

    def show(self, text: str, force: bool = False) -> None:
        """Replace the line with text, at most every PROGRESS_INTERVAL_SECONDS unless forced."""
        now = self.clock()
        if not self.enabled:
            if self.log_seconds is not None and now - self._last_log >= self.log_seconds:
                self._last_log = now
                self.stream.write(text + "\n")
                self.stream.flush()
            return
        if not force and now - self._last_draw < PROGRESS_INTERVAL_SECONDS:
            return
        self._last_draw = now
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        """Erase the line so that ordinary output can follow."""
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line with argv (default sys.argv[1:]); return the process exit code."""
    args = build_parser().parse_args(argv)
    _exit_cleanly_on_sigterm()
    try:
        return _run(args)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do, and keep
        # Python from complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE


def _exit_cleanly_on_sigterm() -> None:
    """Make SIGTERM raise SystemExit, so downloads and saves remove their temp files first."""

    def handle(signal_number: int, frame: object) -> None:
        raise SystemExit(EXIT_SIGNAL_BASE + signal_number)

    # Only the main thread may set handlers; embedded callers keep their own.
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, handle)


def _run(args: argparse.Namespace) -> int:
    """Run the chosen subcommand, turning expected failures into one line on stderr."""
    report = sys.stderr if args.json else sys.stdout
    try:
        result, exit_code = args.run(args, report)
    except BrokenPipeError:
        raise
    except (
        DataError,
        ModelFileError,
        ImageFileError,
        FinetuneError,
        StoreError,
        OSError,
        WorkerError,
    ) as error:
        return _fail(args, str(error), EXIT_FAILURE)
    except KeyboardInterrupt:
        return _fail(args, "interrupted", EXIT_INTERRUPTED)
    if args.json:
        print(json.dumps(result), flush=True)
    return exit_code


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand and its options."""
    program = MODULE_COMMAND if Path(sys.argv[0]).name == "__main__.py" else SCRIPT_NAME
    parser = argparse.ArgumentParser(
        prog=program,
        description="Train, evaluate and run the Digits neural network on MNIST.",
    )
    parser.add_argument("--version", action="version", version=version_line(program))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = {field.name: field.default for field in fields(TrainConfig)}
    data_help = f"MNIST folder (default: ${DATA_ENV_VAR}, else the per-user data folder)"
    model_help = f"model file (default: the shipped {DEFAULT_MODEL_PATH.name})"
    layer_sizes, activation, loss = DEFAULT_ARCHITECTURE

    download = _add_command(
        commands, "download", "fetch and verify the four MNIST files", run_download
    )
    download.add_argument("--data", metavar="DIR", help=data_help)
    download.add_argument(
        "--mirror",
        action="append",
        metavar="URL",
        help="fetch from this base URL instead of the official mirrors (repeatable)",
    )

    training = _add_command(commands, "train", "train a network and save it", run_train)
    training.add_argument("--data", metavar="DIR", help=data_help)
    training.add_argument(
        "--arch",
        type=_architecture,
        default=format_architecture(layer_sizes),
        help="layer sizes joined by '-', 784 first and 10 last",
    )
    training.add_argument(
        "--activation", choices=ACTIVATIONS, default=activation, help="of the hidden layers"
    )
    training.add_argument(
        "--loss", choices=LOSSES, default=loss, help="softmax + cross-entropy or sigmoid + MSE"
    )
    training.add_argument(
        "--epochs",
        type=_positive_integer,
        default=defaults["epochs"],
        metavar="N",
        help="passes over the data",
    )
    training.add_argument(
        "--lr", type=float, default=defaults["learning_rate"], metavar="X", help="learning rate"
    )
    training.add_argument(
        "--batch",
        type=_positive_integer,
        default=defaults["batch_size"],
        metavar="N",
        help="mini-batch size",
    )
    training.add_argument(
        "--momentum", type=float, default=defaults["momentum"], metavar="M", help="0 to <1"
    )
    training.add_argument(
        "--weight-decay",
        type=float,
        default=defaults["weight_decay"],
        metavar="W",
        help="decoupled, per unit of learning rate",
    )
    training.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=defaults["schedule"],
        help="how the learning rate falls over the run",
    )
    training.add_argument(
        "--skip-confidence",
        type=float,
        default=defaults["skip_confidence"],
        metavar="P",
        help="skip the backward pass of samples already read right with p > P (1 never skips)",
    )
    training.add_argument(
        "--limit",
        type=_positive_integer,
        default=defaults["limit"],
        metavar="N",
        help="train on the first N images only (default: all)",
    )
    training.add_argument(
        "--augment",
        action="store_true",
        default=defaults["augment"],
        help="distort training images at random (shift, rotation, scale, stroke width, warp,"
        " width, style marks: the shipped default's recipe)",
    )
    training.add_argument(
        "--seed", type=int, default=defaults["seed"], help="seeds the weights and the shuffling"
    )
    training.add_argument(
        "--on-divergence",
        choices=DIVERGENCE_POLICIES,
        default=defaults["on_divergence"],
        help="when a step overflows or the loss blows up: go back to the last good weights and"
        " halve the learning rate, or stop the run there",
    )
    training.add_argument(
        "--workers",
        type=_positive_integer,
        default=defaults["workers"],
        metavar="N",
        help="processes training together, each on a share of the images (local SGD;"
        f" up to one per core, this machine has {os.cpu_count() or 1})",
    )
    training.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="model file to write (default: a new file in the per-user models folder named by"
        " architecture and test accuracy, e.g. digits-784-128-10-relu-97.5pct.json)",
    )

    evaluation = _add_command(commands, "evaluate", "measure a model on MNIST", run_evaluate)
    evaluation.add_argument("--model", type=Path, metavar="FILE", help=model_help)
    evaluation.add_argument("--data", metavar="DIR", help=data_help)
    evaluation.add_argument(
        "--split", choices=("test", "train"), default="test", help="which MNIST images"
    )
    evaluation.add_argument(
        "--limit", type=_positive_integer, metavar="N", help="the first N images only"
    )

    prediction = _add_command(commands, "predict", "read digits from image files", run_predict)
    prediction.add_argument("--model", type=Path, metavar="FILE", help=model_help)
    prediction.add_argument(
        "images", type=Path, nargs="+", metavar="IMAGE", help="PNG, JPEG, … of one digit each"
    )

    bench = _add_command(commands, "bench", "measure speed on synthetic data", run_bench_command)
    bench.add_argument("--quick", action="store_true", help="fewer, shorter repeats (~1 s)")

    drawn = _add_command(
        commands, "drawn", "measure a model on digits drawn the way people draw them", run_drawn
    )
    drawn.add_argument("--model", type=Path, metavar="FILE", help=model_help)
    drawn.add_argument("--data", metavar="DIR", help=data_help + "; for the 'mnist' kind")
    drawn.add_argument(
        "--per-kind",
        type=_positive_integer,
        default=DEFAULT_PER_KIND,
        metavar="N",
        help="canvases per kind, balanced over the digits",
    )
    drawn.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the drawings")
    drawn.add_argument(
        "--kind",
        action="append",
        choices=KINDS,
        metavar="KIND",
        help=f"measure only this kind (repeatable); one of: {', '.join(KINDS)}",
    )
    drawn.add_argument(
        "--save-examples",
        type=Path,
        metavar="DIR",
        help=f"write a contact sheet PNG of the first {SHEET_EXAMPLES} canvases of each kind",
    )

    tuning = _add_command(
        commands,
        "finetune",
        'teach a model your own drawings ("My digits"), keeping MNIST',
        run_finetune,
    )
    tuning.add_argument("--model", type=Path, metavar="FILE", help=model_help)
    tuning.add_argument(
        "--samples",
        metavar="DIR",
        help=f"My digits folder, <DIR>/<digit>/<name>.png (default: ${MY_DIGITS_ENV_VAR},"
        " else the per-user my-digits folder)",
    )
    tuning.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="model to write (default: <model name>-my-digits.json in the per-user models folder)",
    )
    tuning.add_argument(
        "--data", metavar="DIR", help=data_help + "; mixed in so nothing is forgotten"
    )
    tuning.add_argument("--seed", type=int, default=0, help="seeds the split and the training")

    hands = _add_command(
        commands,
        "handbench",
        "measure teaching on synthetic hands: before and after, per hand",
        run_handbench_command,
    )
    hands.add_argument("--model", type=Path, metavar="FILE", help=model_help)
    hands.add_argument("--data", metavar="DIR", help=data_help)
    hands.add_argument(
        "--hand",
        action="append",
        choices=[hand.name for hand in HANDS],
        help="measure only this hand (repeatable; default: all)",
    )
    hands.add_argument(
        "--teach",
        type=_positive_integer,
        default=DEFAULT_TEACH_PER_DIGIT,
        metavar="N",
        help="drawings taught per digit",
    )
    hands.add_argument(
        "--new",
        type=_positive_integer,
        default=DEFAULT_NEW_PER_DIGIT,
        metavar="N",
        help="new drawings read per digit",
    )
    hands.add_argument("--seed", type=int, default=0, help="seed of the drawings and training")
    hands.add_argument(
        "--save-sheets", type=Path, metavar="DIR", help="write a contact sheet PNG per hand"
    )
    return parser


def _add_command(
    commands: argparse._SubParsersAction,
    name: str,
    summary: str,
    run: Callable[[argparse.Namespace, TextIO], tuple[dict, int]],
) -> argparse.ArgumentParser:
    """Add a subcommand with its --json option; run(args, report) returns (result, exit code)."""
    command = commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        formatter_class=_DefaultsHelpFormatter,
    )
    command.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout; progress on stderr"
    )
    command.set_defaults(run=run, parser=command)
    return command


class _DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show an option's default in its help, except when there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or "default:" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def _architecture(text: str) -> list[int]:
    """Return the layer sizes of an --arch value; raise ArgumentTypeError if unusable."""
    try:
        sizes = parse_architecture(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if len(sizes) > MAX_LAYERS:
        raise argparse.ArgumentTypeError(f"at most {MAX_LAYERS} layers fit in a model file")
    return sizes


def _positive_integer(text: str) -> int:
    """Return an option's value as an integer of at least 1; raise ArgumentTypeError if not."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def _fail(args: argparse.Namespace, message: str, exit_code: int) -> int:
    """Print message as one error line on stderr (and as JSON when asked); return exit_code."""
    print(f"{args.parser.prog}: error: {message}", file=sys.stderr)
    if args.json:
        print(json.dumps({"error": message}))
    return exit_code


# ----- download -------------------------------------------------------------------------------


def run_download(args: argparse.Namespace, report: TextIO) -> tuple[dict, int]:
    """Download and verify MNIST into the data folder; return its path and the file paths."""
    folder = resolve_data_dir(args.data)
    line = ProgressLine(sys.stderr)

    def show(name: str, done: int, total: int | None) -> None:
        if total:
            text = f"{name} {_bar(done / total)} {_size(done)} of {_size(total)}"
        else:
            text = f"{name} {_size(done)}"
        line.show(text, force=done == total)

    print(f"MNIST folder: {folder}", file=report)
    paths = download_mnist(folder, mirrors=args.mirror or DEFAULT_MIRRORS, progress=show)
    line.clear()
    for path in paths:
        print(f"  {path.name}: verified", file=report)
    return {"data": str(folder), "files": [str(path) for path in paths]}, EXIT_OK


# ----- train ----------------------------------------------------------------------------------


def run_train(args: argparse.Namespace, report: TextIO) -> tuple[dict, int]:
    """Train a new network on MNIST, save it to --out and return the run's figures."""
    try:
        config = TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch,
            learning_rate=args.lr,
            momentum=args.momentum,
            weight_decay=args.weight_decay,
            schedule=args.schedule,
            augment=args.augment,
            seed=args.seed,
            limit=args.limit,
            on_divergence=args.on_divergence,
            workers=args.workers,
            skip_confidence=args.skip_confidence,
        )
    except ValueError as error:
        args.parser.error(str(error))
    models_folder = user_models_dir()
    if args.out is None:
        # Fail now, not after the training, if the per-user models folder cannot be written.
        models_folder.mkdir(parents=True, exist_ok=True)
        name = model_file_name(format_architecture(args.arch), args.activation, None)
        check_save_destination(models_folder / name)
    else:
        try:
            check_save_destination(args.out)
        except ModelFileError as error:
            args.parser.error(f"--out {args.out}: {error}")
    folder = resolve_data_dir(args.data)
    train_set = load_mnist(folder, "train")
    test_set = load_mnist(folder, "test")
    network = Network.create(args.arch, args.activation, args.loss, seed=args.seed)
    train_images = min(len(train_set), config.limit or len(train_set))
    print(
        f"Training {network.architecture} ({args.activation}, {args.loss}) on {train_images:,}"
        f" images from {folder}, testing on {len(test_set):,}: {_plural(config.epochs, 'epoch')},"
        f" batch {config.batch_size}, learning rate {config.learning_rate:g} ({config.schedule}),"
        f" momentum {config.momentum:g}, skipping the backward pass above p"
        f" {config.skip_confidence:g}"
        + (", augmented" if config.augment else "")
        + (f", {config.workers} worker processes" if config.workers > 1 else ""),
        file=report,
    )
    line = ProgressLine(sys.stderr, log_seconds=PROGRESS_LOG_SECONDS)

    def on_event(event: object) -> None:
        if isinstance(event, BatchEnd):
            line.show(_batch_line(event, config.epochs))
        elif isinstance(event, EpochEnd):
            line.clear()
            print(_epoch_line(event), file=report, flush=True)
        elif isinstance(event, DivergenceRecovered):
            line.clear()
            print(event.message, file=sys.stderr, flush=True)

    control = TrainingControl()
    with _stop_on_interrupt(control):
        result = train(network, train_set, test_set, config, on_event, control)
    line.clear()
    trained = result.network
    trained.metadata.update(
        {
            "reason": result.reason,
            "test_images": len(test_set),
            "samples_per_second": round(result.samples_per_second, 1),
        }
    )
    # The run is over: from here Ctrl+C must not lose it, nor turn "Saved" into a failure.
    _ignore_interrupts()
    out = args.out
    if out is None:
        name = model_file_name(trained.architecture, trained.activation, result.test_accuracy)
        out = reserve_model_path(models_folder, name)
    try:
        save_model(trained, out)
    except BaseException:
        if args.out is None:
            out.unlink(missing_ok=True)  # the empty file that reserved the name
        raise
    if result.reason == "stopped":
        print(
            f"Stopped after {_plural(result.epochs_completed, 'complete epoch')};"
            f" saved what was learned so far to {out}"
            f" (measure it with `{MODULE_COMMAND} evaluate --model FILE`)",
            file=report,
        )
    elif result.reason == "diverged":
        print(f"{result.message} Saved those weights to {out}", file=sys.stderr)
    else:
        accuracy = _percent(result.test_accuracy)
        print(
            f"Saved {out}: test accuracy {accuracy}, {result.train_seconds:.1f} s of"
            f" training, {result.samples_per_second:,.0f} samples/s",
            file=report,
        )
    if result.divergences and result.reason != "diverged":
        print(
            f"Recovered from {_plural(result.divergences, 'divergence')}: the learning rate went"
            f" from {config.learning_rate:g} down to {result.final_learning_rate:g}",
            file=sys.stderr,
        )
    hint = run_hint(result, config.learning_rate, train_images)
    if hint:
        print(f"Hint: {hint}", file=report)
    figures = {
        "model": str(out),
        "reason": result.reason,
        "message": result.message,
        "architecture": trained.architecture,
        "activation": trained.activation,
        "loss": trained.loss,
        "epochs": result.epochs_completed,
        "train_images": train_images,
        "test_images": len(test_set),
        "workers": config.workers,
        "test_accuracy": result.test_accuracy,
        "train_seconds": result.train_seconds,
        "samples_per_second": result.samples_per_second,
        "divergences": result.divergences,
        "final_learning_rate": result.final_learning_rate,
        "hint": hint,
        "skipped_samples": result.skipped_samples,
        "history": [asdict(epoch) for epoch in result.history],
    }
    return figures, EXIT_FAILURE if result.reason == "diverged" else EXIT_OK


@contextmanager
def _stop_on_interrupt(control: TrainingControl) -> Iterator[None]:
    """Make Ctrl+C ask `control` to stop after the current batch; a second one aborts."""

    def handle(signal_number: int, frame: object) -> None:
        if control.stop_event.is_set():
            raise KeyboardInterrupt
        print("\nStopping after this batch (Ctrl+C again to abort)…", file=sys.stderr)
        control.stop()

    try:
        previous = signal.signal(signal.SIGINT, handle)
    except ValueError:
        # Only the main thread may set handlers; elsewhere Ctrl+C keeps its usual meaning.
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _ignore_interrupts() -> None:
    """Ignore Ctrl+C from now until the process ends (main thread only)."""
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _batch_line(event: BatchEnd, epochs: int) -> str:
    """Return the progress line shown during an epoch: batches, loss, speed, time left."""
    left = event.remaining_seconds()
    return (
        f"epoch {event.epoch}/{epochs} {_bar(event.batch / event.batches_per_epoch)}"
        f" batch {event.batch:,}/{event.batches_per_epoch:,}  loss {event.running_loss:.4f}"
        f"  {event.samples_per_second:,.0f} samples/s"
        f"  ETA {'–' if left is None else _duration(left)}"
    )


def _duration(seconds: float) -> str:
    """Return a duration as m:ss (minutes may pass 59)."""
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _epoch_line(event: EpochEnd) -> str:
    """Return the progress line printed after an epoch."""
    return (
        f"epoch {event.epoch}/{event.epochs}  train loss {event.train_loss:.4f}"
        f"  train accuracy {_percent(event.train_accuracy)}"
        f"  test accuracy {_percent(event.test_accuracy)}"
        f"  {event.samples_per_second:,.0f} samples/s  {event.elapsed_seconds:.1f} s"
    )


# ----- evaluate -------------------------------------------------------------------------------


def run_evaluate(args: argparse.Namespace, report: TextIO) -> tuple[dict, int]:
    """Evaluate a model on an MNIST split; print the tables and return the figures."""
    model_path, network = _chosen_model(args.model)
    folder = resolve_data_dir(args.data)
    dataset = load_mnist(folder, args.split)
    if args.limit is not None:
        dataset = dataset.subset(args.limit)
    line = ProgressLine(sys.stderr)
    result = evaluate(
        network,
        dataset,
        progress=lambda done, total: line.show(f"evaluating {_bar(done / total)} {done:,}"),
    )
    line.clear()
    print(
        f"{model_path} ({network.architecture}, {network.activation}, {network.loss})"
        f" on {len(dataset):,} {args.split} images from {folder}",
        file=report,
    )
    print(_evaluation_report(result), file=report)
    figures = {
        "model": str(model_path),
        "images": len(dataset),
        "accuracy": result.accuracy,
        "per_class": result.per_class,
        "confusion": result.confusion,
        "misclassified_count": len(result.misclassified),
    }
    return figures, EXIT_OK


def _evaluation_report(result: Evaluation) -> str:
    """Return accuracy, per-digit accuracy and the confusion matrix as readable text."""
    digits = range(DIGIT_CLASSES)
    cell = max(7, len(f"{max(max(row) for row in result.confusion):,}") + 1)
    header = "".join(f"{digit:>{cell}}" for digit in digits)
    lines = [
        f"accuracy {_percent(result.accuracy)} ({len(result.misclassified):,} misclassified)",
        "",
        f"{'digit':<10}{header}",
        f"{'accuracy':<10}"
        + "".join(f"{_percent(value, 1):>{cell}}" for value in result.per_class),
        "",
        "confusion matrix (rows: true digit, columns: predicted digit)",
        f"{'':<10}{header}",
    ]
    for digit, row in zip(digits, result.confusion):
        lines.append(f"{digit:<10}" + "".join(f"{count:>{cell},}" for count in row))
    return "\n".join(lines)


# ----- predict --------------------------------------------------------------------------------


def run_drawn(args: argparse.Namespace, report: TextIO) -> tuple[dict, int]:
    """Run the drawn-digits benchmark on a model; print the table and return the figures."""
    model_path, network = _chosen_model(args.model)
    benchmark = run_benchmark(
        network,
        str(model_path),
        per_kind=args.per_kind,
        seed=args.seed,
        data_dir=resolve_data_dir(args.data),
        kinds=args.kind or KINDS,
        examples_dir=args.save_examples,
    )
    print(format_table(benchmark), file=report)
    if args.save_examples is not None:
        print(f"contact sheets written to {args.save_examples}", file=report)
    return report_document(benchmark), EXIT_OK


def run_predict(args: argparse.Namespace, report: TextIO) -> tuple[dict, int]:
    """Read the digit in each image file; return each digit and its 10 probabilities."""
    _, network = _chosen_model(args.model)
    reader = predictor(network)
    predictions = []
    exit_code = EXIT_OK
    for path in args.images:
        entry: dict[str, object] = {"file": str(path)}
        try:
            entry.update(predict_file(network, reader, path))
        except ImageFileError as error:
            print(f"{args.parser.prog}: error: {error}", file=sys.stderr)
            entry.update(digit=None, probabilities=None, error=str(error))
            exit_code = EXIT_FAILURE
        else:
            print(_prediction_line(entry), file=report)
        predictions.append(entry)
    return {"predictions": predictions}, exit_code


def predict_file(network: Network, reader: Predictor, path: Path) -> dict[str, object]:
    """Return {"digit", "probabilities"} for one image file, or nulls and "error" if blank.

    `reader` is the network's `engine.inference.predictor`: the app's canvas and the benchmarks
    read through it too, on the 4-level inputs the model was trained on, so all give the same
    answer. MSE models' sigmoid outputs are scaled to sum to 1. Raises ImageFileError for an
    unreadable file.
    """
    try:
        pixels = preprocess_image(load_image_file(path)).pixels
    except NothingDrawn as nothing:
        return {"digit": None, "probabilities": None, "error": str(nothing)}
    outputs = reader.predict(pixels)
    if network.loss == "mse":
        outputs = normalise_probabilities(outputs)
    return {"digit": outputs.index(max(outputs)), "probabilities": outputs}


def _prediction_line(entry: dict[str, object]) -> str:
    """Return the text line of one prediction: file, digit and the probabilities in percent."""
    if entry["digit"] is None:
        return f"{entry['file']}: {entry['error']}"
    probabilities = entry["probabilities"]
    digit = entry["digit"]
    spread = "  ".join(f"{k}:{p * 100:.1f}%" for k, p in enumerate(probabilities))
    return f"{entry['file']}: {digit} ({probabilities[digit] * 100:.1f}%)   {spread}"


# ----- finetune -------------------------------------------------------------------------------


def run_finetune(args: argparse.Namespace, report: TextIO) -> tuple[dict, int]:
    """Fine-tune a model on the My digits folder, save it and return the before/after figures."""
    model_path, network = _chosen_model(args.model)
    out = args.out or user_models_dir() / f"{model_path.stem}-my-digits.json"
    if _inside(out, SHIPPED_MODELS_DIR):
        args.parser.error(f"--out {out}: the shipped models are never overwritten; choose another")
    if args.out is None:
        out.parent.mkdir(parents=True, exist_ok=True)
    check_save_destination(out)
    store = DigitStore(resolve_my_digits_dir(args.samples))
    if not store.folder.is_dir():
        raise FinetuneError(f"the My digits folder {store.folder} does not exist")
    loaded = store.load()
    for note in loaded.notes:
        print(f"note: {note}", file=sys.stderr)
    drawings = Dataset(
        [sample.pixels for sample in loaded.samples], [sample.label for sample in loaded.samples]
    )
    replay, test_set = _replay_data(args.data)
    counts = " ".join(f"{digit}:{count}" for digit, count in enumerate(loaded.counts()))
    print(
        f"Teaching {model_path.name} {len(drawings)} drawings from {store.folder} ({counts})",
        file=report,
    )
    line = ProgressLine(sys.stderr)

    def show(update: FinetuneProgress) -> None:
        line.show(f"{update.stage} {_bar(update.fraction)}")

    result = finetune(network, drawings, replay, test_set, seed=args.seed, progress=show)
    line.clear()
    for note in result.notes:
        print(f"warning: {note}", file=sys.stderr)
    result.network.metadata["finetuned_from"] = model_path.name
    save_model(result.network, out)
    print(_finetune_summary(result, out), file=report)
    return {"model": str(out), **result.as_dict()}, EXIT_OK


def _replay_data(option: str | None) -> tuple[Dataset | None, Dataset | None]:
    """Return MNIST (train, test) from the data folder, or (None, None) with a warning."""
    folder = resolve_data_dir(option)
    try:
        return load_mnist(folder, "train"), load_mnist(folder, "test")
    except DataError as error:
        print(f"warning: no MNIST to mix in ({error})", file=sys.stderr)
        return None, None


def _finetune_summary(result: FinetuneResult, out: Path) -> str:
    """Return the lines printed after a fine-tune: the figures and where the model went."""
    lines = [
        f"Saved {out} after {result.seconds:.1f} s",
        f"  your put-aside drawings ({result.heldout}): {_percent(result.heldout_accuracy_before)}"
        f" before, {_percent(result.heldout_accuracy_after)} after",
        f"  MNIST test: {_percent(result.mnist_accuracy_before)} before,"
        f" {_percent(result.mnist_accuracy_after)} after",
    ]
    return "\n".join(lines)


def _inside(path: Path, folder: Path) -> bool:
    """Return True if path is folder or lies under it (both resolved, links followed)."""
    resolved, base = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return resolved == base or base in resolved.parents


def run_handbench_command(args: argparse.Namespace, report: TextIO) -> tuple[dict, int]:
    """Teach the model each synthetic hand in turn; print and return before/after per hand."""
    model_path, network = _chosen_model(args.model)
    replay, test_set = _replay_data(args.data)
    hands = [hand_named(name) for name in args.hand] if args.hand else list(HANDS)
    line = ProgressLine(sys.stderr)
    rows = run_handbench(
        network,
        replay,
        test_set,
        hands,
        teach_per_digit=args.teach,
        new_per_digit=args.new,
        seed=args.seed,
        sheets_dir=args.save_sheets,
        progress=line.show,
    )
    line.clear()
    print(
        f"{model_path.name} taught {args.teach} drawings per digit of each hand, then read"
        f" {args.new} new drawings per digit (Python {sys.version.split()[0]})",
        file=report,
    )
    print(format_rows(rows), file=report)
    return {"model": str(model_path), **rows_document(rows)}, EXIT_OK


# ----- bench ----------------------------------------------------------------------------------


def run_bench_command(args: argparse.Namespace, report: TextIO) -> tuple[dict, int]:
    """Measure training and inference speed on synthetic data; return the figures."""
    line = ProgressLine(sys.stderr)
    result = run_bench(QUICK if args.quick else FULL, progress=lambda text: line.show(text, True))
    line.clear()
    print(
        f"Python {result.python} ({result.implementation}), median of {result.repeats} repeats"
        " on synthetic MNIST-like images",
        file=report,
    )
    classic = format_architecture(CLASSIC_ARCHITECTURE[0])
    default = format_architecture(DEFAULT_ARCHITECTURE[0])
    rows = (
        (f"training, classic {classic}", f"{result.classic_samples_per_second:,.0f}", "samples/s"),
        (f"training, default {default}", f"{result.default_samples_per_second:,.0f}", "samples/s"),
        (f"inference, one preprocessed image ({default})", f"{result.inference_ms:.3f}", "ms"),
        ("preprocessing, one 280×280 drawing", f"{result.preprocess_ms:.3f}", "ms"),
    )
    for label, number, unit in rows:
        print(f"  {label:<48}{number:>8} {unit}", file=report)
    return result.as_dict(), EXIT_OK


# ----- shared helpers -------------------------------------------------------------------------


def _chosen_model(option: Path | None) -> tuple[Path, Network]:
    """Return the path and network of --model, or of the shipped default model."""
    if option is None and not DEFAULT_MODEL_PATH.is_file():
        raise ModelFileError(
            f"no --model given and the shipped default model {DEFAULT_MODEL_PATH} does not"
            f" exist yet; train one with `{MODULE_COMMAND} train --out FILE` and pass --model FILE",
            SUMMARY_MISSING,
            DEFAULT_MODEL_PATH,
        )
    path = option or DEFAULT_MODEL_PATH
    return path, load_model(path)


def _bar(fraction: float) -> str:
    """Return a text progress bar with its percentage for fraction 0..1."""
    filled = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH)
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction * 100:3.0f}%"


def _plural(count: int, noun: str) -> str:
    """Return e.g. "1 epoch" or "3 epochs"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _size(byte_count: int) -> str:
    """Return a byte count as kB below a megabyte and as MB from there."""
    if byte_count < MEGABYTE:
        return f"{byte_count / 1024:.0f} kB"
    return f"{byte_count / MEGABYTE:.1f} MB"


def _percent(value: float | None, decimals: int = 2) -> str:
    """Return a 0..1 fraction as a percentage, or a dash when it is unknown."""
    return "–" if value is None else f"{value * 100:.{decimals}f}%"
