"""Fine-tune a trained network on the person's own drawings, without forgetting MNIST.

Recipe (`finetune`): the drawings are repeated until they fill TEACH_SHARE of a short run and
every copy is distorted at random by the training loop's augmentation (shift, rotation, scale,
stroke width, elastic warp, width and style marks: `engine.train.AUGMENT_SETTINGS`), so each
drawing is worth many; the rest of the run replays MNIST training digits, so what the network
knew is kept. The run is one pass of `engine.train.train` at a small learning rate with a
cosine schedule, starting from the given network. Last, the
taught weights are blended with the original ones (KEEP_SHARE of the taught weights): on the
synthetic hands of `engine.hands` this keeps MNIST test accuracy within about 0.1 point of the
original while the hand is still read as well as by the unblended network.

Honest figures: before teaching, HOLDOUT_SHARE of each digit's drawings is put aside. A check
run teaches the rest and reads the put-aside drawings: `heldout_accuracy_before` is how the
original network reads them, `heldout_accuracy_after` how the check run's network does, on
drawings it never saw. The model returned is then taught every drawing (the same recipe, so it
reads new drawings at least as well). MNIST test accuracy is measured before and after on that
final model. Without MNIST, the run teaches the drawings alone and says so in `notes`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from engine.evaluate import EvaluationStopped, evaluate
from engine.mnist import Dataset
from engine.network import Network
from engine.train import BatchEnd, TrainConfig, TrainingControl, TrainingEvent, train

HOLDOUT_SHARE = 0.2
# Images seen by one teaching run: about 4 s of training for a 784-512-10 network on a fast core.
RUN_SAMPLES = 12_000
TEACH_SHARE = 0.3
LEARNING_RATE = 0.01
MOMENTUM = 0.9
KEEP_SHARE = 0.6
BATCH_SIZE = 32
# Each run's share of the progress bar; measuring MNIST test twice takes the rest.
CHECK_RUN_WEIGHT = 0.45
FINAL_RUN_WEIGHT = 0.45
NO_REPLAY_NOTE = (
    "MNIST was not found, so the model learned your drawings alone and may forget some of"
    " MNIST; download MNIST (python -m engine download) for a safer fine-tune"
)


class FinetuneError(ValueError):
    """Raised when the drawings cannot be taught (none, or one digit without MNIST); says why."""


class FinetuneStopped(Exception):
    """Raised when the run was stopped through its TrainingControl."""


@dataclass(frozen=True)
class FinetuneProgress:
    """Report how far a fine-tune is: a short stage name and the overall fraction 0..1."""

    stage: str
    fraction: float


@dataclass
class FinetuneResult:
    """Describe a finished fine-tune; accuracies are 0..1, or None when not measurable.

    network: the fine-tuned copy, taught every drawing (the input network is untouched).
    samples: drawings taught; heldout: drawings put aside for the check run (0 if none).
    heldout_accuracy_before / _after: the put-aside drawings read by the original network /
        by the check run's network, which never saw them.
    mnist_accuracy_before / _after: MNIST test read by the original / the returned network.
    heldout_predictions_after: what the check run's network read for each put-aside drawing.
    """

    network: Network
    samples: int
    heldout: int
    seconds: float
    heldout_accuracy_before: float | None
    heldout_accuracy_after: float | None
    mnist_accuracy_before: float | None
    mnist_accuracy_after: float | None
    replay: bool
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """Return the figures as a JSON-ready dict (the CLI's --json keys)."""
        return {
            "samples": self.samples,
            "heldout": self.heldout,
            "seconds": round(self.seconds, 3),
            "heldout_accuracy_before": self.heldout_accuracy_before,
            "heldout_accuracy_after": self.heldout_accuracy_after,
            "mnist_accuracy_before": self.mnist_accuracy_before,
            "mnist_accuracy_after": self.mnist_accuracy_after,
            "mnist_replay": self.replay,
            "notes": list(self.notes),
        }


def split_heldout(
    labels: Sequence[int], share: float, rng: random.Random
) -> tuple[list[int], list[int]]:
    """Return (teach indices, held-out indices) with `share` of each digit's items held out.

    A digit keeps at least one item to teach: one drawing of a digit is never held out, and
    round(count × share) of more are. Both lists are in ascending order.
    """
    by_digit: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_digit.setdefault(label, []).append(index)
    teach: list[int] = []
    heldout: list[int] = []
    for label in sorted(by_digit):
        indices = by_digit[label]
        rng.shuffle(indices)
        held = min(len(indices) - 1, round(len(indices) * share))
        heldout.extend(indices[:held])
        teach.extend(indices[held:])
    return sorted(teach), sorted(heldout)


def teaching_set(
    drawings: Dataset, replay: Dataset | None, run_samples: int, rng: random.Random
) -> Dataset:
    """Return one run's training set: the drawings repeated, plus MNIST replay if given.

    The drawings fill TEACH_SHARE of run_samples (each drawing at least once); replay images,
    drawn at random without repeats, fill the rest. Without replay the drawings fill it all.
    """
    if len(drawings) == 0:
        raise FinetuneError("there are no drawings to teach")
    share = TEACH_SHARE if replay is not None and len(replay) else 1.0
    repeats = max(1, round(run_samples * share / len(drawings)))
    images = drawings.images * repeats
    labels = drawings.labels * repeats
    if share < 1.0:
        count = min(len(replay), max(0, run_samples - len(images)))
        chosen = rng.sample(range(len(replay)), count)
        images = images + [replay.images[index] for index in chosen]
        labels = labels + [replay.labels[index] for index in chosen]
    return Dataset(images, labels)


def finetune(
    network: Network,
    drawings: Dataset,
    replay: Dataset | None = None,
    test_set: Dataset | None = None,
    seed: int = 0,
    run_samples: int = RUN_SAMPLES,
    holdout_share: float = HOLDOUT_SHARE,
    progress: Callable[[FinetuneProgress], None] | None = None,
    control: TrainingControl | None = None,
) -> FinetuneResult:
    """Return a copy of network taught the drawings (28×28 inputs, labelled), with figures.

    replay: MNIST training digits mixed in so nothing is forgotten (None: drawings alone).
    test_set: MNIST test digits for the before/after figure (None: not measured).
    Raises FinetuneError for no drawings, or drawings of one digit without replay (the network
    would learn to answer that digit to everything); FinetuneStopped if control stops the run.
    """
    if len(drawings) == 0:
        raise FinetuneError(
            "My digits is empty: store some drawings first (draw one, then press its digit key)"
        )
    digits_present = sorted(set(drawings.labels))
    if replay is None and len(digits_present) < 2:
        raise FinetuneError(
            f"all your drawings are {digits_present[0]}s; without MNIST to mix in, teaching one"
            " digit would make the model read everything as that digit. Store drawings of other"
            " digits too, or download MNIST"
        )
    report = progress or (lambda update: None)
    control = control or TrainingControl()
    rng = random.Random(seed)
    started = time.perf_counter()
    notes = [] if replay is not None else [NO_REPLAY_NOTE]
    report(FinetuneProgress("measuring the model before teaching", 0.0))
    mnist_before = _accuracy(network, test_set, control)

    teach, heldout = split_heldout(drawings.labels, holdout_share, rng)
    heldout_before = heldout_after = None
    completed = 0.0
    if heldout:
        heldout_set = _pick(drawings, heldout)
        heldout_before = _accuracy(network, heldout_set, control)
        check_network = _teach(
            network,
            _pick(drawings, teach),
            replay,
            run_samples,
            rng,
            _stage_progress(
                report, "check run: teaching all but the put-aside drawings", 0.0, CHECK_RUN_WEIGHT
            ),
            control,
        )
        heldout_after = _accuracy(check_network, heldout_set, control)
        completed = CHECK_RUN_WEIGHT
    else:
        notes.append("too few drawings to put any aside, so there is no before/after check")
    final_weight = FINAL_RUN_WEIGHT + (CHECK_RUN_WEIGHT - completed)
    taught = _teach(
        network,
        drawings,
        replay,
        run_samples,
        rng,
        _stage_progress(report, "teaching every drawing", completed, final_weight),
        control,
    )
    report(FinetuneProgress("measuring the taught model", completed + final_weight))
    mnist_after = _accuracy(taught, test_set, control)
    seconds = time.perf_counter() - started
    taught.metadata.update(
        {
            "finetuned_on_my_digits": len(drawings),
            "finetune_seconds": round(seconds, 3),
            "mnist_replay": replay is not None,
        }
    )
    if mnist_after is not None:
        taught.metadata["test_accuracy"] = mnist_after
    else:
        taught.metadata.pop("test_accuracy", None)
    report(FinetuneProgress("done", 1.0))
    return FinetuneResult(
        network=taught,
        samples=len(drawings),
        heldout=len(heldout),
        seconds=seconds,
        heldout_accuracy_before=heldout_before,
        heldout_accuracy_after=heldout_after,
        mnist_accuracy_before=mnist_before,
        mnist_accuracy_after=mnist_after,
        replay=replay is not None,
        notes=notes,
    )


def _teach(
    network: Network,
    drawings: Dataset,
    replay: Dataset | None,
    run_samples: int,
    rng: random.Random,
    on_event: Callable[[TrainingEvent], None],
    control: TrainingControl,
) -> Network:
    """Return a copy of network after one teaching run on drawings (+ replay)."""
    dataset = teaching_set(drawings, replay, run_samples, rng)
    config = TrainConfig(
        epochs=1,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        momentum=MOMENTUM,
        schedule="cosine",
        augment=True,
        seed=rng.randrange(1 << 30),
    )
    result = train(network, dataset, None, config, on_event, control)
    if result.reason == "stopped":
        raise FinetuneStopped("teaching stopped")
    if result.reason == "diverged":
        raise FinetuneError(result.message)
    return blend(network, result.network, KEEP_SHARE)


def blend(original: Network, taught: Network, share: float) -> Network:
    """Return a copy of taught whose weights and biases are share × taught + (1 − share) × original.

    Both networks must have the same layer sizes; the metadata is taught's.
    """
    if original.layer_sizes != taught.layer_sizes:
        raise ValueError("only networks of the same architecture can be blended")
    keep = 1.0 - share
    blended = taught.copy()
    blended.weights = [
        [
            [keep * old + share * new for old, new in zip(old_row, new_row)]
            for old_row, new_row in zip(old_layer, new_layer)
        ]
        for old_layer, new_layer in zip(original.weights, taught.weights)
    ]
    blended.biases = [
        [keep * old + share * new for old, new in zip(old_layer, new_layer)]
        for old_layer, new_layer in zip(original.biases, taught.biases)
    ]
    return blended


def _stage_progress(
    report: Callable[[FinetuneProgress], None], stage: str, start: float, weight: float
) -> Callable[[TrainingEvent], None]:
    """Return a training-event handler reporting a run as [start, start + weight] of the bar."""

    def on_event(event: TrainingEvent) -> None:
        if isinstance(event, BatchEnd):
            report(
                FinetuneProgress(stage, start + weight * event.samples_seen / event.total_samples)
            )

    return on_event


def _accuracy(network: Network, dataset: Dataset | None, control: TrainingControl) -> float | None:
    """Return the network's accuracy on dataset, None without one (FinetuneStopped if stopped)."""
    if dataset is None or len(dataset) == 0:
        return None
    try:
        return evaluate(network, dataset, stop=control.stop_event).accuracy
    except EvaluationStopped:
        raise FinetuneStopped("teaching stopped") from None


def _pick(dataset: Dataset, indices: Sequence[int]) -> Dataset:
    """Return the items of dataset at indices, in that order."""
    return Dataset([dataset.images[i] for i in indices], [dataset.labels[i] for i in indices])
