"""The one-line hint after a run: which measured cause it names, and when it says nothing."""

import pytest

from engine.hint import run_hint
from engine.network import Network
from engine.train import EpochEnd, TrainingResult


def epoch(number: int, train_loss: float, train_accuracy: float, test_accuracy: float) -> EpochEnd:
    return EpochEnd(number, number, train_loss, train_accuracy, 0.3, test_accuracy, 1000.0, 1.0)


def result(
    accuracy: float = 0.98,
    epochs: int = 3,
    first_loss: float = 2.3,
    last_loss: float = 0.2,
    train_accuracy: float | None = None,
    reason: str = "finished",
    divergences: int = 0,
    final_rate: float = 0.1,
) -> TrainingResult:
    history = [
        epoch(n, last_loss, accuracy if train_accuracy is None else train_accuracy, accuracy)
        for n in range(1, epochs + 1)
    ]
    return TrainingResult(
        network=Network.create([784, 4, 10]),
        reason=reason,
        message="",
        train_seconds=1.0,
        samples_per_second=1000.0,
        epochs_completed=epochs,
        test_accuracy=accuracy if epochs else None,
        history=history,
        divergences=divergences,
        final_learning_rate=final_rate,
        first_loss=first_loss,
    )


def test_a_good_run_needs_no_hint():
    assert run_hint(result(), 0.1, 60_000) is None


def test_recovered_divergences_say_the_rate_was_too_high():
    hint = run_hint(result(divergences=3, final_rate=1.25), 10.0, 60_000)
    assert hint.startswith("The learning rate 10 was too high")
    assert "diverged 3 times" in hint and "next time start at 1.25 or lower" in hint


def test_a_run_that_gave_up_suggests_a_lower_rate():
    hint = run_hint(result(reason="diverged", divergences=8, final_rate=0.04), 5.0, 60_000)
    assert "too high" in hint and "try 0.02 or less" in hint


def test_a_loss_that_fell_slowly_says_the_rate_was_too_low():
    hint = run_hint(result(accuracy=0.67, epochs=1, last_loss=1.6, final_rate=0.001), 0.001, 10_000)
    assert hint == (
        "The loss fell slowly (2.30 → 1.60): the learning rate 0.001 is probably too low; try 0.01."
    )


def test_too_few_images():
    # 1,000 images for one epoch is too little to judge the rate by the loss.
    hint = run_hint(result(accuracy=0.73, epochs=1, last_loss=1.0), 0.1, 1_000)
    assert hint.startswith("Only 1,000 training images")
    hint = run_hint(result(accuracy=0.85, epochs=3, last_loss=0.19), 0.1, 1_000)
    assert hint.startswith("Only 1,000 training images")


def test_too_few_epochs():
    hint = run_hint(result(accuracy=0.96, epochs=1, last_loss=0.21), 0.1, 60_000)
    assert hint.startswith("Only one epoch")


def test_memorised_training_images():
    hint = run_hint(result(accuracy=0.93, train_accuracy=0.995, epochs=20), 0.1, 20_000)
    assert "99.5%" in hint and "93.0%" in hint and "augmentation" in hint


def test_a_run_stopped_before_one_epoch():
    hint = run_hint(result(epochs=0, reason="stopped"), 0.1, 60_000)
    assert hint.startswith("The run ended before a whole epoch")


@pytest.mark.parametrize("accuracy", [0.5, 0.9])
def test_a_poor_run_with_no_measured_cause_gets_no_made_up_hint(accuracy):
    # Enough images and epochs, a loss that fell well, train and test alike.
    assert run_hint(result(accuracy=accuracy, epochs=5, last_loss=0.5), 0.1, 60_000) is None
