"""The drawn-digits benchmark: how well a model reads digits drawn the way people draw them.

For each kind of `engine.drawn` (pen strokes, typeset fonts, MNIST test digits redrawn as solid
strokes) it draws N canvases balanced over the digits, preprocesses each with
`engine.preprocess.preprocess_image` and reads it with `engine.inference.predictor` (exactly
what the CLI's predict and the app's canvas do: the fast path on the 4-level inputs the model
was trained on), and reports the accuracy of each kind and of each digit within it. A kind
that cannot be drawn on this machine (no fonts, no MNIST data) is reported as unavailable,
never as 0 %.

Run it as ``python -m engine drawn [--model FILE] [--data DIR] [--per-kind N] [--seed N]
[--json] [--save-examples DIR]``. `--save-examples` writes one contact sheet PNG per kind: the
first canvases scaled down, the digit the model read in the corner, misreadings framed in red.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from engine.drawn import (
    FONT_KINDS,
    KINDS,
    PEN_KINDS,
    DigitFont,
    DrawnDigit,
    KindUnavailable,
    drawn_digits,
    find_font_files,
    font_folders,
    fonts_of_kind,
    load_digit_fonts,
)
from engine.evaluate import evaluation_from_predictions
from engine.inference import Predictor, predictor
from engine.mnist import DIGIT_CLASSES
from engine.network import Network
from engine.preprocess import preprocess_image

DEFAULT_PER_KIND = 1000
DEFAULT_SEED = 0
SHEET_EXAMPLES = 50
KIND_COLUMN = max(len(kind) for kind in KINDS) + 1
SHEET_COLUMNS = DIGIT_CLASSES
SHEET_CELL = 112
SHEET_GAP = 4
SHEET_BACKGROUND = (128, 128, 128)
MISREAD_COLOUR = (230, 20, 20)
READ_COLOUR = (20, 140, 40)
MISREAD_FRAME_WIDTH = 4
# The built-in bitmap font is tiny; captions are drawn with it and enlarged this many times.
CAPTION_ZOOM = 2
CAPTION_PADDING = 2


@dataclass(frozen=True)
class KindResult:
    """How a model read one kind of drawn digits.

    kind: the kind's name ("pen", "font", "mnist").
    count: canvases read; 0 when the kind is unavailable.
    accuracy: fraction read correctly, 0..1, or None when unavailable.
    per_digit: for each digit 0..9 the fraction of its canvases read correctly (None when none).
    note: what was drawn from (templates, "22 fonts", the MNIST folder) or why the kind is
        unavailable.
    available: False when the kind could not be drawn on this machine.
    predictions: the digit read from each canvas, in drawing order.
    """

    kind: str
    count: int
    accuracy: float | None
    per_digit: list[float | None]
    note: str
    available: bool
    predictions: list[int]


@dataclass(frozen=True)
class BenchmarkReport:
    """The benchmark of one model: its results per kind and how they were made."""

    model: str
    per_kind: int
    seed: int
    results: list[KindResult]
    python: str


def read_digit(reader: Predictor, drawn: DrawnDigit) -> int:
    """Return the digit (0..9) a network's predictor reads on a 280×280 canvas, as the CLI and
    app do.

    Raises NothingDrawn if the canvas holds no ink.
    """
    outputs = reader.predict(preprocess_image(drawn.image).pixels)
    return outputs.index(max(outputs))


def benchmark_kind(
    reader: Predictor, kind: str, digits: Sequence[DrawnDigit], note: str
) -> KindResult:
    """Return the accuracy overall and per digit of a predictor on the canvases of one kind."""
    predictions = [read_digit(reader, drawn) for drawn in digits]
    evaluation = evaluation_from_predictions([drawn.label for drawn in digits], predictions)
    return KindResult(
        kind, len(digits), evaluation.accuracy, evaluation.per_class, note, True, predictions
    )


def unavailable_kind(kind: str, reason: str) -> KindResult:
    """Return the result of a kind that could not be drawn, saying why."""
    return KindResult(kind, 0, None, [None] * DIGIT_CLASSES, reason, False, [])


def run_benchmark(
    network: Network,
    model_name: str,
    per_kind: int = DEFAULT_PER_KIND,
    seed: int = DEFAULT_SEED,
    data_dir: str | os.PathLike[str] | None = None,
    kinds: Sequence[str] = KINDS,
    fonts: Sequence[DigitFont] | None = None,
    examples_dir: Path | None = None,
) -> BenchmarkReport:
    """Return the network's benchmark on per_kind canvases of each kind (per_kind >= 1).

    `fonts` defaults to every font found on the machine, `data_dir` holds MNIST (no data: the
    kind is unavailable). With `examples_dir`, a contact sheet PNG per kind is written there.
    """
    if per_kind < 1:
        raise ValueError(f"per_kind must be at least 1, got {per_kind}")
    if fonts is None and any(kind in FONT_KINDS for kind in kinds):
        fonts = load_digit_fonts(find_font_files(font_folders()))
    reader = predictor(network)
    results = []
    for kind in kinds:
        try:
            digits = drawn_digits(kind, per_kind, seed, data_dir=data_dir, fonts=fonts)
        except KindUnavailable as error:
            results.append(unavailable_kind(kind, str(error)))
            continue
        result = benchmark_kind(reader, kind, digits, _kind_note(kind, fonts, data_dir))
        results.append(result)
        if examples_dir is not None:
            examples_dir.mkdir(parents=True, exist_ok=True)
            shown = sheet_indices(len(digits))
            sheet = contact_sheet(
                [digits[index] for index in shown], [result.predictions[index] for index in shown]
            )
            sheet.save(examples_dir / f"drawn-{kind}.png")
    return BenchmarkReport(model_name, per_kind, seed, results, platform.python_version())


def sheet_indices(count: int, examples: int = SHEET_EXAMPLES) -> list[int]:
    """Return which of count canvases a contact sheet shows: rows of 10 spread over the run.

    Each row is ten canvases in a row (one of each digit, in order, for most kinds), and the
    rows are evenly spaced, so a sheet shows canvases from every part of a kind (every font of
    a font kind, not only the first few).
    """
    rows = min(-(-examples // SHEET_COLUMNS), count // SHEET_COLUMNS)
    if rows <= 1:
        return list(range(min(count, examples)))
    last_start = count - SHEET_COLUMNS
    starts = [
        round(row * last_start / (rows - 1)) // SHEET_COLUMNS * SHEET_COLUMNS for row in range(rows)
    ]
    return [start + column for start in starts for column in range(SHEET_COLUMNS)]


def contact_sheet(digits: Sequence[DrawnDigit], predictions: Sequence[int]) -> Image.Image:
    """Return an RGB grid of the canvases, 10 a row, each with "read N" (the digit read) below it.

    Canvases read correctly get a green caption; misread ones a red caption and a red frame.
    """
    rows = max(1, -(-len(digits) // SHEET_COLUMNS))
    caption_height = _caption("0", READ_COLOUR).height
    pitch_x = SHEET_CELL + SHEET_GAP
    pitch_y = SHEET_CELL + caption_height + 2 * SHEET_GAP
    sheet = Image.new("RGB", (SHEET_COLUMNS * pitch_x + SHEET_GAP, rows * pitch_y + SHEET_GAP))
    sheet.paste(SHEET_BACKGROUND, (0, 0, *sheet.size))
    pen = ImageDraw.Draw(sheet)
    for index, (drawn, predicted) in enumerate(zip(digits, predictions)):
        left = SHEET_GAP + index % SHEET_COLUMNS * pitch_x
        top = SHEET_GAP + index // SHEET_COLUMNS * pitch_y
        thumbnail = drawn.image.resize((SHEET_CELL, SHEET_CELL), Image.Resampling.BOX)
        sheet.paste(thumbnail.convert("RGB"), (left, top))
        misread = predicted != drawn.label
        if misread:
            frame = (left, top, left + SHEET_CELL - 1, top + SHEET_CELL - 1)
            pen.rectangle(frame, outline=MISREAD_COLOUR, width=MISREAD_FRAME_WIDTH)
        caption = _caption(f"read {predicted}", MISREAD_COLOUR if misread else READ_COLOUR)
        sheet.paste(caption, (left, top + SHEET_CELL + SHEET_GAP))
    return sheet


def format_table(report: BenchmarkReport) -> str:
    """Return the report as a text table: accuracy per kind and per digit, in percent."""
    digit_columns = "".join(f"{digit:>7}" for digit in range(DIGIT_CLASSES))
    lines = [
        f"Drawn-digits benchmark of {report.model}"
        f" ({report.per_kind} canvases per kind, seed {report.seed}, Python {report.python})",
        f"{'kind':<{KIND_COLUMN}}{'count':>6}{'accuracy':>10}{digit_columns}",
    ]
    for result in report.results:
        if not result.available:
            lines.append(
                f"{result.kind:<{KIND_COLUMN}}{'':>6}{'n/a':>10}  unavailable: {result.note}"
            )
            continue
        per_digit = "".join(
            f"{'-':>7}" if value is None else f"{value * 100:>7.1f}" for value in result.per_digit
        )
        accuracy = f"{result.accuracy * 100:.1f} %"
        lines.append(f"{result.kind:<{KIND_COLUMN}}{result.count:>6}{accuracy:>10}{per_digit}")
    lines.append("notes:")
    lines.extend(f"  {result.kind}: {result.note}" for result in report.results)
    return "\n".join(lines)


def report_document(report: BenchmarkReport) -> dict[str, object]:
    """Return the report as a JSON-ready object: {"model", "per_kind", "seed", "kinds", "python"}.

    Each kind maps to {"accuracy", "per_digit" (10 values), "count", "note"}, or to
    {"unavailable": reason, "count": 0} when it could not be drawn.
    """
    kinds: dict[str, object] = {}
    for result in report.results:
        if result.available:
            kinds[result.kind] = {
                "accuracy": result.accuracy,
                "per_digit": result.per_digit,
                "count": result.count,
                "note": result.note,
            }
        else:
            kinds[result.kind] = {"unavailable": result.note, "count": 0}
    return {
        "model": report.model,
        "per_kind": report.per_kind,
        "seed": report.seed,
        "kinds": kinds,
        "python": report.python,
    }


def _kind_note(
    kind: str, fonts: Sequence[DigitFont] | None, data_dir: str | os.PathLike[str] | None
) -> str:
    """Return a short description of what a kind drew from: templates, fonts or the data."""
    if kind in FONT_KINDS:
        return f"{len(fonts_of_kind(kind, fonts or ()))} fonts"
    if kind == "mnist":
        return f"MNIST test set in {data_dir}"
    templates = PEN_KINDS[kind].templates
    variants = sum(len(variants) for variants in templates.values())
    if len(templates) == 1:
        return f"{variants} ways of writing {next(iter(templates))}"
    return f"{variants} ways of writing the ten digits"


def _caption(text: str, colour: tuple[int, int, int]) -> Image.Image:
    """Return a small white tile with text in colour, drawn in the built-in font and enlarged."""
    font = ImageFont.load_default()
    left, top, right, bottom = font.getbbox(text)
    tile = Image.new(
        "RGB",
        (right - left + 2 * CAPTION_PADDING, bottom - top + 2 * CAPTION_PADDING),
        (255, 255, 255),
    )
    ImageDraw.Draw(tile).text(
        (CAPTION_PADDING - left, CAPTION_PADDING - top), text, font=font, fill=colour
    )
    return tile.resize(
        (tile.width * CAPTION_ZOOM, tile.height * CAPTION_ZOOM), Image.Resampling.NEAREST
    )
