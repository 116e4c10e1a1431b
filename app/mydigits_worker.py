"""The My digits tab's background work: reading thumbnails, and importing or exporting drawings.

Nothing here imports Tk. Each job runs on a daemon thread and reports only by putting the small
frozen dataclasses below on a `queue.SimpleQueue` that the tab polls with `after()`; it never
touches a widget. A job stops early when its `threading.Event` is set (a newer load replaced
it, or the window is closing). Every message carries the job's `generation`, so the tab can
drop what an older, replaced job still sends.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image

from engine.inference import predictor
from engine.mydigits import ImportResult, StoredDrawing, StoreError, load_drawing
from engine.network import Network
from engine.preprocess import ImageFileError, NothingDrawn, preprocess_image

THUMBNAIL_SIDE = 56
# Drawings per message: big enough that the queue stays short, small enough to show progress.
BATCH_SIZE = 25


@dataclass(frozen=True)
class Thumbnail:
    """One drawing as the tab shows it: a small picture and what the model reads.

    image: THUMBNAIL_SIDE² "L" picture (None when the file could not be read);
    reading: the digit the model reads (None when unreadable or there is no model);
    problem: why the file could not be read, else "".
    """

    drawing: StoredDrawing
    image: Image.Image | None
    reading: int | None
    problem: str = ""


@dataclass(frozen=True)
class ThumbnailBatch:
    """A few more thumbnails of load `generation`, in the order they were asked for."""

    generation: int
    thumbnails: tuple[Thumbnail, ...]


@dataclass(frozen=True)
class JobDone:
    """An import or export of `generation` ended: how many files were copied, notes per skip."""

    generation: int
    kind: str
    result: ImportResult


@dataclass(frozen=True)
class JobFailed:
    """An import or export of `generation` could not be done at all; message says why."""

    generation: int
    kind: str
    message: str


Message = ThumbnailBatch | JobDone | JobFailed


def read_thumbnail(drawing: StoredDrawing, read: Callable[[bytes], int] | None) -> Thumbnail:
    """Return the thumbnail of one drawing file and, given read, what the model reads in it."""
    try:
        image = load_drawing(drawing.path)
        picture = image.convert("L").resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX)
        pixels = preprocess_image(image).pixels
    except ImageFileError as error:
        return Thumbnail(drawing, None, None, str(error))
    except NothingDrawn:
        return Thumbnail(drawing, None, None, "nothing drawn on it")
    return Thumbnail(drawing, picture, None if read is None else read(pixels))


def model_reader(network: Network | None) -> Callable[[bytes], int] | None:
    """Return a function giving the digit network reads in a 784-byte input (None: no model)."""
    if network is None:
        return None
    runner = predictor(network)

    def read(pixels: bytes) -> int:
        outputs = runner.predict(pixels)
        return max(range(len(outputs)), key=outputs.__getitem__)

    return read


def start_thumbnail_load(
    drawings: Sequence[StoredDrawing],
    network: Network | None,
    generation: int,
    messages: queue.SimpleQueue[Message],
    stop: threading.Event,
) -> threading.Thread:
    """Start a daemon thread reading every drawing's thumbnail and reading; return it."""

    def run() -> None:
        read = model_reader(network)
        batch: list[Thumbnail] = []
        for drawing in drawings:
            if stop.is_set():
                return
            batch.append(read_thumbnail(drawing, read))
            if len(batch) == BATCH_SIZE:
                messages.put(ThumbnailBatch(generation, tuple(batch)))
                batch = []
        if batch and not stop.is_set():
            messages.put(ThumbnailBatch(generation, tuple(batch)))

    thread = threading.Thread(target=run, name="digits-my-digits-thumbnails", daemon=True)
    thread.start()
    return thread


def start_file_job(
    kind: str,
    job: Callable[[], ImportResult],
    generation: int,
    messages: queue.SimpleQueue[Message],
) -> threading.Thread:
    """Start a daemon thread running job (an import or export of the store); return it."""

    def run() -> None:
        try:
            result = job()
        except (StoreError, OSError) as error:
            messages.put(JobFailed(generation, kind, str(error)))
        else:
            messages.put(JobDone(generation, kind, result))

    thread = threading.Thread(target=run, name=f"digits-my-digits-{kind}", daemon=True)
    thread.start()
    return thread
