"""Tests for the drawn-digits generators (engine.drawn) and their benchmark (engine.drawnbench).

No model file and no real MNIST data are needed: the mnist kind reads a tiny MNIST test split
written here, and the benchmark is checked with networks whose answers are known in advance.
"""

from __future__ import annotations

import gzip
import json
import random
import time
from pathlib import Path

import pytest
from PIL import Image
from test_mnist import idx_bytes

from engine.cli import main
from engine.drawn import (
    CANVAS_SIZE,
    FONT_FAMILIES,
    HEAVY_OUTLINES,
    KINDS,
    PEN_KINDS,
    PEN_TEMPLATES,
    STYLE_TEMPLATES,
    DigitFont,
    DrawnDigit,
    KindUnavailable,
    draw_pen_digit,
    drawn_digits,
    find_font_files,
    font_folders,
    fonts_of_kind,
    load_digit_fonts,
)
from engine.drawnbench import (
    MISREAD_COLOUR,
    SHEET_CELL,
    SHEET_GAP,
    contact_sheet,
    format_table,
    report_document,
    run_benchmark,
    sheet_indices,
)
from engine.mnist import DIGIT_CLASSES
from engine.modelfile import save_model
from engine.network import Network
from engine.preprocess import preprocess_image

SEED = 11
COUNT = 60
# Enough pen canvases that every template variant (at most 4 per digit) turns up.
VARIANT_SAMPLE = 400
FAKE_MNIST_PER_DIGIT = 3
FONTS_USED = 3
ALWAYS_READ = 3
# Far above the ~0.2 s 100 pen canvases take, so only a real slowdown fails.
PEN_SECONDS_PER_100 = 5.0


@pytest.fixture(scope="module")
def fonts() -> list[DigitFont]:
    """Return the first few fonts with digits found on this machine; skip if there are none."""
    found = load_digit_fonts(find_font_files(font_folders())[: FONTS_USED * 4])[:FONTS_USED]
    if not found:
        pytest.skip("no TrueType/OpenType font with digits on this machine")
    return found


@pytest.fixture(scope="module")
def pen_sample() -> list[DrawnDigit]:
    """Return VARIANT_SAMPLE pen canvases, seeded with SEED."""
    return drawn_digits("pen", VARIANT_SAMPLE, SEED)


@pytest.fixture
def mnist_folder(tmp_path: Path) -> Path:
    """Return a folder holding a tiny MNIST test split: pen digits preprocessed to 28×28."""
    rng = random.Random(SEED)
    labels = [digit for digit in range(DIGIT_CLASSES) for _ in range(FAKE_MNIST_PER_DIGIT)]
    images = b"".join(preprocess_image(draw_pen_digit(label, rng).image).pixels for label in labels)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes((len(labels), 28, 28), images))
    )
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes((len(labels),), bytes(labels)))
    )
    return tmp_path


def always_reads(digit: int) -> Network:
    """Return a 784-10 network whose zero weights and biases make it read `digit` on any input."""
    network = Network.create([784, DIGIT_CLASSES], "relu", seed=0)
    network.weights = [[[0.0] * 784 for _ in range(DIGIT_CLASSES)]]
    network.biases = [[5.0 if unit == digit else 0.0 for unit in range(DIGIT_CLASSES)]]
    return network


def ink_box(drawn: DrawnDigit) -> tuple[int, int, int, int]:
    """Return the bounding box (left, top, right, bottom) of the ink on a canvas."""
    paper = drawn.image.getpixel((0, 0))
    ink = drawn.image.point(lambda level: 255 if abs(level - paper) > 64 else 0)
    box = ink.getbbox()
    assert box is not None, f"no ink on {drawn.source}"
    return box


def all_kinds(fonts: list[DigitFont], mnist_folder: Path) -> dict[str, list[DrawnDigit]]:
    """Return COUNT canvases of every kind these fonts can draw, seeded with SEED.

    A font family kind whose family is not among the fonts is left out; every other kind,
    "font", "heavy" and "mnist" included, must be there.
    """
    digits = {}
    for kind in KINDS:
        try:
            digits[kind] = drawn_digits(kind, COUNT, SEED, data_dir=mnist_folder, fonts=fonts)
        except KindUnavailable:
            assert kind in FONT_FAMILIES, kind
    return digits


def expected_labels(kind: str) -> list[int]:
    """Return the labels of COUNT canvases of a kind: 0..9 in turn, or a style kind's digit."""
    if kind in STYLE_TEMPLATES:
        return [STYLE_TEMPLATES[kind][0]] * COUNT
    return [index % DIGIT_CLASSES for index in range(COUNT)]


def test_every_kind_is_deterministic_for_a_seed(fonts: list[DigitFont], mnist_folder: Path) -> None:
    first = all_kinds(fonts, mnist_folder)
    second = all_kinds(fonts, mnist_folder)
    assert first.keys() == second.keys()
    for kind in first:
        assert [d.image.tobytes() for d in first[kind]] == [
            d.image.tobytes() for d in second[kind]
        ], kind
        other_seed = drawn_digits(kind, COUNT, SEED + 1, data_dir=mnist_folder, fonts=fonts)
        assert [d.image.tobytes() for d in other_seed] != [
            d.image.tobytes() for d in first[kind]
        ], kind


def test_canvases_are_280_square_grey_with_whole_ink_inside(
    fonts: list[DigitFont], mnist_folder: Path
) -> None:
    for kind, digits in all_kinds(fonts, mnist_folder).items():
        for drawn in digits:
            assert drawn.image.mode == "L" and drawn.image.size == (CANVAS_SIZE, CANVAS_SIZE)
            left, top, right, bottom = ink_box(drawn)
            # Ink touching the edge would mean a digit cut off by the canvas.
            assert left > 0 and top > 0, (kind, drawn.source)
            assert right < CANVAS_SIZE and bottom < CANVAS_SIZE, (kind, drawn.source)


def test_digits_are_balanced_and_every_digit_is_drawn(
    fonts: list[DigitFont], mnist_folder: Path
) -> None:
    for kind, digits in all_kinds(fonts, mnist_folder).items():
        assert [drawn.label for drawn in digits] == expected_labels(kind), kind


def test_both_polarities_occur_and_match_the_paper(
    fonts: list[DigitFont], mnist_folder: Path
) -> None:
    for kind, digits in all_kinds(fonts, mnist_folder).items():
        assert {drawn.dark_ink for drawn in digits} == {True, False}, kind
        for drawn in digits:
            paper = drawn.image.getpixel((0, 0))
            assert paper == (255 if drawn.dark_ink else 0), (kind, drawn.source)


def test_sizes_and_positions_vary(fonts: list[DigitFont], mnist_folder: Path) -> None:
    for kind, digits in all_kinds(fonts, mnist_folder).items():
        boxes = [ink_box(drawn) for drawn in digits]
        heights = [bottom - top for _, top, _, bottom in boxes]
        centres_x = [(left + right) / 2 for left, _, right, _ in boxes]
        centres_y = [(top + bottom) / 2 for _, top, _, bottom in boxes]
        assert max(heights) > 1.4 * min(heights) and max(heights) > 0.7 * CANVAS_SIZE, kind
        assert max(centres_x) - min(centres_x) > 0.3 * CANVAS_SIZE, kind
        assert max(centres_y) - min(centres_y) > 0.3 * CANVAS_SIZE, kind


def test_preprocessing_finds_ink_on_every_canvas(
    fonts: list[DigitFont], mnist_folder: Path
) -> None:
    for kind, digits in all_kinds(fonts, mnist_folder).items():
        for drawn in digits:
            pixels = preprocess_image(drawn.image).pixels
            assert max(pixels) == 255, (kind, drawn.source)


def test_every_pen_template_variant_is_drawn(pen_sample: list[DrawnDigit]) -> None:
    sources = {drawn.source for drawn in pen_sample}
    expected = {
        f"pen {digit} {name}" for digit, variants in PEN_TEMPLATES.items() for name, _ in variants
    }
    assert sources == expected


@pytest.mark.parametrize("kind", list(STYLE_TEMPLATES))
def test_style_kinds_draw_their_digit_in_every_variant(kind: str) -> None:
    digit, variants = STYLE_TEMPLATES[kind]
    digits = drawn_digits(kind, 40, SEED)
    assert {drawn.label for drawn in digits} == {digit}
    assert {drawn.source for drawn in digits} == {f"pen {digit} {name}" for name, _ in variants}


def ink_aspect(drawn: DrawnDigit) -> float:
    """Return the width / height of the ink on a canvas."""
    left, top, right, bottom = ink_box(drawn)
    return (right - left) / (bottom - top)


def pen_width(drawn: DrawnDigit) -> float:
    """Return a canvas's ink area over its ink height, in px: about the pen width for a 1."""
    paper = drawn.image.getpixel((0, 0))
    ink_area = sum(1 for level in drawn.image.tobytes() if abs(level - paper) > 128)
    _, top, _, bottom = ink_box(drawn)
    return ink_area / (bottom - top)


def test_narrow_and_wide_hands_change_the_proportions() -> None:
    # The zeros: an oval whose width / height is the hand's aspect, give or take slant and pen.
    def zero_aspects(kind: str) -> list[float]:
        return [ink_aspect(drawn) for drawn in drawn_digits(kind, 200, SEED) if drawn.label == 0]

    narrow, ordinary, wide = (zero_aspects(kind) for kind in ("narrow", "pen", "wide"))
    assert max(narrow) < 0.65 and sum(narrow) / len(narrow) < 0.45
    assert min(wide) > 0.8 and sum(wide) / len(wide) > 1.0
    assert sum(narrow) / len(narrow) < sum(ordinary) / len(ordinary) < sum(wide) / len(wide)


def test_fat_and_thin_pens_change_the_stroke() -> None:
    def widths_of_ones(kind: str) -> list[float]:
        return [pen_width(drawn) for drawn in drawn_digits(kind, 200, SEED) if drawn.label == 1]

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    # Flags and bases add some ink over the upright's height, hence the loose bounds.
    fat, ordinary, thin = (widths_of_ones(kind) for kind in ("fat", "pen", "thin"))
    assert min(fat) > 20 and max(thin) < 12
    assert median(thin) < median(ordinary) < median(fat)


def test_narrow_pens_leave_room_inside_the_digit() -> None:
    hand = PEN_KINDS["narrow"]
    assert hand.max_pen_to_width is not None
    for drawn in drawn_digits("narrow", 200, SEED):
        if drawn.label != 0:
            continue
        left, _, right, _ = ink_box(drawn)
        # An oval's ink is about two uprights of the pen's width: they leave the middle open.
        assert pen_width(drawn) / 2 < 0.4 * (right - left), drawn.source


def test_font_families_and_heavy_weights(fonts: list[DigitFont]) -> None:
    glyphs = fonts[0].glyphs
    fake = [
        DigitFont("a.ttf", glyphs, "DejaVu Sans", "Bold"),
        DigitFont("b.otf", glyphs, "Nimbus Roman", "Regular"),
        DigitFont("c.otf", glyphs, "URW Gothic", "Demi Oblique"),
        DigitFont("d.ttf", glyphs, "Noto Mono", "Regular"),
        DigitFont("e.ttf", glyphs, "Comic Something", "Regular"),
    ]
    assert fonts_of_kind("font", fake) == fake
    assert [font.name for font in fonts_of_kind("dejavu", fake)] == ["a.ttf"]
    assert [font.name for font in fonts_of_kind("urw", fake)] == ["b.otf", "c.otf"]
    assert [font.name for font in fonts_of_kind("noto", fake)] == ["d.ttf"]
    # Without the font file only the bold weights as they are; with it, heavier outlines too.
    assert [font.name for font in fonts_of_kind("heavy", fake)] == ["a.ttf", "c.otf"]
    real = fonts[0]
    heavier = fonts_of_kind("heavy", [DigitFont(real.name, real.glyphs, "X", "Bold", real.path)])
    assert len(heavier) == len(HEAVY_OUTLINES)
    areas = [sum(font.glyphs[8].tobytes()) for font in heavier]
    assert areas == sorted(areas) and areas[0] < areas[-1]
    with pytest.raises(KindUnavailable, match="noto"):
        drawn_digits("noto", COUNT, SEED, fonts=fake[:1])


def test_sheet_shows_rows_of_ten_from_the_whole_run() -> None:
    assert sheet_indices(1000, 50) == [
        start + column for start in (0, 240, 490, 740, 990) for column in range(10)
    ]
    assert sheet_indices(7, 50) == list(range(7))
    assert sheet_indices(50, 50) == list(range(50))


def test_pen_digits_are_at_least_30_percent_of_the_canvas_tall(
    pen_sample: list[DrawnDigit],
) -> None:
    heights = [ink_box(drawn)[3] - ink_box(drawn)[1] for drawn in pen_sample]
    assert min(heights) >= 0.3 * CANVAS_SIZE


def test_font_kind_cycles_through_the_fonts(fonts: list[DigitFont]) -> None:
    digits = drawn_digits("font", DIGIT_CLASSES * len(fonts), SEED, fonts=fonts)
    assert [drawn.source for drawn in digits[::DIGIT_CLASSES]] == [
        f"font {font.name}" for font in fonts
    ]


def test_files_that_are_not_fonts_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "broken.ttf").write_bytes(b"not a font at all")
    assert find_font_files([tmp_path, tmp_path / "missing"]) == [tmp_path / "broken.ttf"]
    assert load_digit_fonts(find_font_files([tmp_path])) == []


def test_windows_font_folder_is_searched() -> None:
    assert Path("C:/Windows") / "Fonts" in font_folders({"WINDIR": "C:/Windows"})


def test_unavailable_kinds_say_why(tmp_path: Path) -> None:
    with pytest.raises(KindUnavailable, match="font"):
        drawn_digits("font", COUNT, SEED, fonts=[])
    with pytest.raises(KindUnavailable, match="MNIST"):
        drawn_digits("mnist", COUNT, SEED, data_dir=None)
    with pytest.raises(KindUnavailable, match="MNIST"):
        drawn_digits("mnist", COUNT, SEED, data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown kind"):
        drawn_digits("crayon", COUNT, SEED)


def test_pen_drawing_is_fast() -> None:
    started = time.perf_counter()
    drawn_digits("pen", 100, SEED)
    assert time.perf_counter() - started < PEN_SECONDS_PER_100


def test_benchmark_accounts_per_digit(fonts: list[DigitFont], tmp_path: Path) -> None:
    report = run_benchmark(
        always_reads(ALWAYS_READ),
        "always-3",
        per_kind=20,
        seed=SEED,
        data_dir=tmp_path,
        fonts=fonts,
    )
    results = {result.kind: result for result in report.results}
    for kind in ("pen", "font"):
        assert results[kind].available and results[kind].count == 20
        assert results[kind].accuracy == pytest.approx(0.1)
        assert results[kind].per_digit == [
            1.0 if digit == ALWAYS_READ else 0.0 for digit in range(DIGIT_CLASSES)
        ]
        assert results[kind].predictions == [ALWAYS_READ] * 20
    assert not results["mnist"].available
    assert results["mnist"].accuracy is None and results["mnist"].count == 0
    assert "MNIST" in results["mnist"].note


def test_benchmark_reads_the_mnist_kind(mnist_folder: Path) -> None:
    report = run_benchmark(
        always_reads(7), "always-7", per_kind=30, seed=SEED, data_dir=mnist_folder, kinds=["mnist"]
    )
    (result,) = report.results
    assert result.available and result.accuracy == pytest.approx(0.1)
    assert result.per_digit[7] == 1.0


def test_report_document_and_table(tmp_path: Path) -> None:
    report = run_benchmark(
        always_reads(ALWAYS_READ), "m.json", per_kind=10, seed=SEED, data_dir=tmp_path, fonts=[]
    )
    document = json.loads(json.dumps(report_document(report)))
    assert document["model"] == "m.json" and document["python"]
    assert set(document["kinds"]) == set(KINDS)
    assert document["kinds"]["pen"]["count"] == 10
    assert len(document["kinds"]["pen"]["per_digit"]) == DIGIT_CLASSES
    assert "unavailable" in document["kinds"]["font"]
    assert "unavailable" in document["kinds"]["mnist"]
    table = format_table(report)
    assert "10.0 %" in table and "unavailable" in table


def test_contact_sheet_frames_misread_canvases_in_red() -> None:
    digits = drawn_digits("pen", 20, SEED)
    sheet = contact_sheet(digits, [ALWAYS_READ] * 20)
    assert sheet.mode == "RGB" and sheet.width > sheet.height > 0

    def top_edge_is_red(column: int) -> bool:
        middle = SHEET_GAP + column * (SHEET_CELL + SHEET_GAP) + SHEET_CELL // 2
        return sheet.getpixel((middle, SHEET_GAP + 1)) == MISREAD_COLOUR

    assert top_edge_is_red(0)
    assert not top_edge_is_red(ALWAYS_READ)


def test_cli_prints_json_and_writes_contact_sheets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "always.json"
    save_model(always_reads(ALWAYS_READ), model)
    examples = tmp_path / "sheets"
    arguments = ["drawn", "--model", str(model), "--per-kind", "10", "--data", str(tmp_path)]
    assert main([*arguments, "--json", "--save-examples", str(examples)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["kinds"]["pen"]["accuracy"] == pytest.approx(0.1)
    with Image.open(examples / "drawn-pen.png") as sheet:
        assert sheet.mode == "RGB"


def test_cli_rejects_a_bad_model_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "broken.json"
    model.write_text("{")
    assert main(["drawn", "--model", str(model), "--per-kind", "10"]) == 1
    assert str(model) in capsys.readouterr().err
