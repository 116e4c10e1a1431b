"""A one-line hint after a training run that explains a poor result from what the run measured.

`run_hint` looks, in order, for: divergence (the learning rate was too high), a run that ended
before one epoch, then, when the accuracy is below GOOD_ACCURACY, a loss that fell slowly (the
rate was too low), too few training images, too few epochs, and a network that learned its
training images far better than the test images. It returns None when nothing needs
explaining. The thresholds are for MNIST.
"""

from __future__ import annotations

from engine.train import RECOVERY_RATE_FACTOR, TrainingResult

GOOD_ACCURACY = 0.97
FEW_IMAGES = 10_000
FEW_EPOCHS = 2
# A fresh network's mean loss over its first epoch is well under half the first batch's loss
# at a sensible learning rate; judged only once a run has seen enough samples to show it.
SLOW_FALL_RATIO = 0.5
SLOW_FALL_MIN_SAMPLES = 3_200
OVERFITTING_GAP = 0.05
RATE_STEP = 10.0
MNIST_TRAIN_IMAGES = 60_000


def run_hint(result: TrainingResult, learning_rate: float, train_images: int) -> str | None:
    """Return one sentence that explains a poor or troubled run, or None when there is none.

    `learning_rate` is the base rate the run started with and `train_images` how many images
    it trained on. Accuracy is the final test accuracy, else the last epoch's train accuracy.
    """
    final_rate = result.final_learning_rate
    if result.reason == "diverged":
        return (
            f"The learning rate was too high: training diverged at {final_rate:g}"
            f" (started at {learning_rate:g}); try {final_rate * RECOVERY_RATE_FACTOR:g} or less."
        )
    if result.divergences:
        times = "once" if result.divergences == 1 else f"{result.divergences} times"
        return (
            f"The learning rate {learning_rate:g} was too high: training diverged {times} and"
            f" went on at {final_rate:g}; next time start at {final_rate:g} or lower."
        )
    if not result.history:
        return "The run ended before a whole epoch: train at least one epoch to judge it."
    last = result.history[-1]
    accuracy = result.test_accuracy if result.test_accuracy is not None else last.train_accuracy
    if accuracy >= GOOD_ACCURACY:
        return None
    trained_samples = train_images * result.epochs_completed
    if (
        result.first_loss
        and trained_samples >= SLOW_FALL_MIN_SAMPLES
        and last.train_loss > SLOW_FALL_RATIO * result.first_loss
    ):
        return (
            f"The loss fell slowly ({result.first_loss:.2f} → {last.train_loss:.2f}): the"
            f" learning rate {final_rate:g} is probably too low; try {final_rate * RATE_STEP:g}."
        )
    if train_images < FEW_IMAGES:
        return (
            f"Only {train_images:,} training images: use {FEW_IMAGES:,} or all"
            f" {MNIST_TRAIN_IMAGES:,} for a better result."
        )
    if result.epochs_completed < FEW_EPOCHS:
        return "Only one epoch: train for a few more to let the network settle."
    if result.test_accuracy is not None and last.train_accuracy - accuracy > OVERFITTING_GAP:
        return (
            f"Train accuracy {last.train_accuracy:.1%} but test accuracy {accuracy:.1%}: the"
            " network learned its training images by heart; use more images or augmentation."
        )
    return None
