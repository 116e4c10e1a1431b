"""Measure teaching on the synthetic hands: how well each hand is read before and after.

For every hand of `engine.hands`, `run_handbench` stores a few drawings per digit in a fresh
My digits folder (the real store, PNG files and all), fine-tunes the model on them with
`engine.finetune.finetune`, and reads new drawings of the same hand (drawn from a different
seed, so none of them was taught) with the original and the taught model. Each hand starts
again from the original model. `python -m engine handbench` prints the table.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from engine.evaluate import evaluate
from engine.finetune import FinetuneProgress, finetune
from engine.hands import HANDS, Hand, hand_drawings
from engine.mnist import Dataset
from engine.mydigits import DigitStore
from engine.network import Network
from engine.preprocess import preprocess_image

DEFAULT_TEACH_PER_DIGIT = 5
DEFAULT_NEW_PER_DIGIT = 20
DEFAULT_SEED = 0
SHEET_CELL = 70
SHEET_GAP = 2
SHEET_NEW_ROWS = 4
MISREAD_COLOUR = (220, 40, 40)
TAUGHT_COLOUR = (60, 110, 220)


@dataclass(frozen=True)
class HandRow:
    """One hand's figures: accuracies 0..1 (None when not measured), seconds of fine-tuning."""

    hand: str
    description: str
    taught: int
    new_drawings: int
    before: float
    after: float
    heldout_before: float | None
    heldout_after: float | None
    mnist_before: float | None
    mnist_after: float | None
    seconds: float


def run_handbench(
    network: Network,
    replay: Dataset | None,
    test_set: Dataset | None,
    hands: Sequence[Hand] = HANDS,
    teach_per_digit: int = DEFAULT_TEACH_PER_DIGIT,
    new_per_digit: int = DEFAULT_NEW_PER_DIGIT,
    seed: int = DEFAULT_SEED,
    sheets_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[HandRow]:
    """Return one row per hand: the hand's new drawings read before and after teaching.

    The taught drawings use seed "teach-<seed>", the new ones "new-<seed>". With sheets_dir,
    a contact sheet per hand is written there: taught drawings framed blue on top, then new
    drawings, framed red where the taught model misreads them.
    """
    say = progress or (lambda text: None)
    rows = []
    for hand in hands:
        taught_canvases = hand_drawings(hand, teach_per_digit, f"teach-{seed}")
        new_canvases = hand_drawings(hand, new_per_digit, f"new-{seed}")
        with tempfile.TemporaryDirectory(prefix="digits-hand-") as folder:
            store = DigitStore(folder)
            for canvas, digit in taught_canvases:
                store.add(canvas, digit)
            loaded = store.load()
        drawings = Dataset(
            [sample.pixels for sample in loaded.samples],
            [sample.label for sample in loaded.samples],
        )
        new_set = Dataset(
            [preprocess_image(canvas).pixels for canvas, _ in new_canvases],
            [digit for _, digit in new_canvases],
        )
        started = time.perf_counter()

        def report(update: FinetuneProgress, name: str = hand.name) -> None:
            say(f"{name}: {update.stage} {update.fraction:4.0%}")

        result = finetune(network, drawings, replay, test_set, seed=seed, progress=report)
        seconds = time.perf_counter() - started
        before = evaluate(network, new_set)
        after = evaluate(result.network, new_set)
        rows.append(
            HandRow(
                hand=hand.name,
                description=hand.description,
                taught=len(drawings),
                new_drawings=len(new_set),
                before=before.accuracy,
                after=after.accuracy,
                heldout_before=result.heldout_accuracy_before,
                heldout_after=result.heldout_accuracy_after,
                mnist_before=result.mnist_accuracy_before,
                mnist_after=result.mnist_accuracy_after,
                seconds=seconds,
            )
        )
        if sheets_dir is not None:
            misread = set(after.misclassified)
            sheet = contact_sheet(
                [canvas for canvas, _ in taught_canvases],
                [canvas for canvas, _ in new_canvases],
                misread,
                teach_per_digit,
                new_per_digit,
            )
            sheets_dir.mkdir(parents=True, exist_ok=True)
            sheet.save(sheets_dir / f"hand-{hand.name}.png")
    return rows


def contact_sheet(
    taught: list[Image.Image],
    new: list[Image.Image],
    misread: set[int],
    teach_per_digit: int,
    new_per_digit: int,
) -> Image.Image:
    """Return an RGB sheet: one column per digit, taught drawings (blue) above new ones.

    Both lists are digit-major (per_digit drawings of 0, then of 1, ...); at most SHEET_NEW_ROWS
    new drawings per digit are shown, plus every misread one (indices into new, framed red).
    """
    columns: list[list[tuple[Image.Image, tuple[int, int, int] | None]]] = []
    for digit in range(10):
        column = [
            (canvas, TAUGHT_COLOUR)
            for canvas in taught[digit * teach_per_digit : (digit + 1) * teach_per_digit]
        ]
        for offset in range(new_per_digit):
            index = digit * new_per_digit + offset
            if offset < SHEET_NEW_ROWS or index in misread:
                column.append((new[index], MISREAD_COLOUR if index in misread else None))
        columns.append(column)
    pitch = SHEET_CELL + SHEET_GAP
    height = max(len(column) for column in columns) * pitch + SHEET_GAP
    sheet = Image.new("RGB", (10 * pitch + SHEET_GAP, height), (200, 200, 200))
    pen = ImageDraw.Draw(sheet)
    for x, column in enumerate(columns):
        for y, (canvas, frame) in enumerate(column):
            left, top = SHEET_GAP + x * pitch, SHEET_GAP + y * pitch
            thumbnail = ImageOps.fit(canvas.convert("RGB"), (SHEET_CELL, SHEET_CELL))
            sheet.paste(thumbnail, (left, top))
            if frame is not None:
                pen.rectangle(
                    (left, top, left + SHEET_CELL - 1, top + SHEET_CELL - 1), outline=frame, width=3
                )
    return sheet


def format_rows(rows: Sequence[HandRow]) -> str:
    """Return the rows as a text table with percentages."""
    lines = [
        f"{'hand':<14}{'taught':>7}{'new':>6}{'before':>9}{'after':>9}"
        f"{'held-out':>17}{'MNIST test':>19}{'seconds':>9}"
    ]
    for row in rows:
        lines.append(
            f"{row.hand:<14}{row.taught:>7}{row.new_drawings:>6}{_percent(row.before):>9}"
            f"{_percent(row.after):>9}"
            f"{_percent(row.heldout_before) + ' → ' + _percent(row.heldout_after):>17}"
            f"{_percent(row.mnist_before, 2) + ' → ' + _percent(row.mnist_after, 2):>19}"
            f"{row.seconds:>9.1f}"
        )
    return "\n".join(lines)


def rows_document(rows: Sequence[HandRow]) -> dict[str, object]:
    """Return the rows as a JSON-ready dict."""
    return {"hands": [asdict(row) for row in rows]}


def _percent(value: float | None, decimals: int = 1) -> str:
    """Return a 0..1 fraction as a percentage, or a dash when unknown."""
    return "–" if value is None else f"{value * 100:.{decimals}f}%"
