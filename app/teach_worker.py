"""Teach the model the person's drawings on a background thread ("Teach the model my digits").

Nothing here imports Tk. `start_teaching` runs one `TeachJob` on a daemon thread: it reads My
digits, reads MNIST for replay and for the before/after test figure (without MNIST it teaches
the drawings alone and says so), runs `engine.finetune.finetune` and saves the taught network
as a normal model file. It reports only by putting the small frozen dataclasses below on a
queue the tab polls with `after()`; it never touches a widget. `TrainingControl.stop()` ends it
after the current batch (or evaluation chunk) with `TeachStopped`.
"""

from __future__ import annotations

import queue
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

from engine.finetune import (
    RUN_SAMPLES,
    FinetuneError,
    FinetuneProgress,
    FinetuneResult,
    FinetuneStopped,
    finetune,
)
from engine.mnist import DataError, Dataset, load_mnist
from engine.modelfile import ModelFileError, save_model
from engine.mydigits import DigitStore
from engine.network import Network
from engine.train import TrainingControl

NO_MNIST_WARNING = (
    "MNIST is not on this machine, so the model learned your drawings alone and may have"
    " forgotten some of MNIST. Download MNIST on the Train tab for a safer fine-tune."
)


@dataclass(frozen=True)
class TeachJob:
    """What to teach: the base network, its file name (for the taught model's metadata), the
    drawings' store, the MNIST folder, and where to save the taught model."""

    network: Network
    base_name: str
    store: DigitStore
    data_folder: Path
    out_path: Path
    label: str
    run_samples: int = RUN_SAMPLES


@dataclass(frozen=True)
class TeachProgress:
    """Say what the teaching is doing and how far it is overall (0..1)."""

    stage: str
    fraction: float


@dataclass(frozen=True)
class TeachDone:
    """The teaching ended: the engine's figures, the taught network and where it was saved.

    notes: the store's notes on skipped files; warning: set when MNIST was not found.
    """

    result: FinetuneResult
    path: Path
    label: str
    notes: tuple[str, ...]
    warning: str


@dataclass(frozen=True)
class TeachFailed:
    """The teaching could not be done; message says why in plain words, details for Details…."""

    message: str
    details: str = ""


@dataclass(frozen=True)
class TeachStopped:
    """The teaching was stopped before it ended; nothing was saved."""


TeachMessage = TeachProgress | TeachDone | TeachFailed | TeachStopped


def start_teaching(
    job: TeachJob, messages: queue.SimpleQueue[TeachMessage], control: TrainingControl
) -> threading.Thread:
    """Start a daemon thread running job; it reports on messages; return the thread."""
    thread = threading.Thread(
        target=_run, args=(job, messages, control), name="digits-teach", daemon=True
    )
    thread.start()
    return thread


def _run(
    job: TeachJob, messages: queue.SimpleQueue[TeachMessage], control: TrainingControl
) -> None:
    """Run the job, turning every outcome into one final message."""
    try:
        messages.put(_teach(job, messages, control))
    except FinetuneStopped:
        messages.put(TeachStopped())
    except (FinetuneError, ModelFileError, OSError) as error:
        messages.put(TeachFailed(_sentence(str(error))))
    except Exception as error:  # a bug must reach the window, not end the thread unseen
        messages.put(
            TeachFailed(f"Teaching failed: {type(error).__name__}.", traceback.format_exc())
        )


def _teach(
    job: TeachJob, messages: queue.SimpleQueue[TeachMessage], control: TrainingControl
) -> TeachMessage:
    """Do the work of one job and return its final message (or raise FinetuneStopped)."""
    messages.put(TeachProgress("reading your drawings", 0.0))
    loaded = job.store.load()
    drawings = Dataset(
        [sample.pixels for sample in loaded.samples], [sample.label for sample in loaded.samples]
    )
    if control.stop_event.is_set():
        raise FinetuneStopped("teaching stopped")
    messages.put(TeachProgress("reading MNIST to mix in", 0.0))
    try:
        replay = load_mnist(job.data_folder, "train")
        test_set = load_mnist(job.data_folder, "test")
    except DataError:
        replay = test_set = None
    if control.stop_event.is_set():
        raise FinetuneStopped("teaching stopped")

    def report(update: FinetuneProgress) -> None:
        messages.put(TeachProgress(update.stage, update.fraction))

    result = finetune(
        job.network,
        drawings,
        replay,
        test_set,
        run_samples=job.run_samples,
        progress=report,
        control=control,
    )
    result.network.metadata["finetuned_from"] = job.base_name
    messages.put(TeachProgress("saving the taught model", 1.0))
    job.out_path.parent.mkdir(parents=True, exist_ok=True)
    save_model(result.network, job.out_path)
    warning = NO_MNIST_WARNING if replay is None else ""
    return TeachDone(result, job.out_path, job.label, tuple(loaded.notes), warning)


def _sentence(text: str) -> str:
    """Return text with a capital first letter and a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
