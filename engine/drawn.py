"""Draw digits the way people put them on the app's 280×280 canvas, for the drawn-digits benchmark.

Every kind is a deterministic function of an explicit ``random.Random``:

- pen kinds (``PEN_KINDS``): hand-designed stroke templates, warped a little, slanted, rotated,
  jittered and drawn with a round pen at a random size and place, like a mouse drawing. ``pen``
  mixes every way of writing each digit with ordinary proportions and pens; ``narrow``, ``wide``,
  ``fat`` and ``thin`` change the hand's proportions or the pen; the style kinds (``slashed-0``,
  ``flag-1``, ``flag-base-1``, ``looped-2``, ``open-4``, ``crossed-7``, ``curled-9``) draw one
  digit in one style that people use and networks trained on MNIST tend to misread;
- font kinds: the digits of the TrueType/OpenType fonts found on the machine at a random size and
  place: ``font`` all of them, ``dejavu``, ``urw`` (the URW base-35 fonts: Nimbus, C059, P052,
  Bookman, Gothic, Z003, ...) and ``noto`` one family each, ``heavy`` the bold weights made
  bolder still (a heavy typeface);
- ``mnist``: MNIST test digits redrawn as solid strokes (their smooth outline, no grey levels)
  at a random size and place.

Every canvas is a 280×280 "L" image with anti-aliased edges, as the app's drawing produces, with
dark ink on light paper or light ink on dark paper at random (50/50). Geometry is in canvas
pixels, x to the right and y downwards; pen templates live in a unit box (height 1) first.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from engine.mnist import DIGIT_CLASSES, IMAGE_COLUMNS, IMAGE_ROWS, DataError, load_mnist

CANVAS_SIZE = 280
# Strokes are drawn this many times larger and box-averaged down: exact anti-aliasing, as in
# the app's drawing (Pillow's own lines have hard edges).
SUPERSAMPLING = 4
INK = 255
# Free space kept between the ink and the canvas edge, px.
EDGE_MARGIN = 3.0
HEIGHT_FRACTION_RANGE = (0.30, 0.90)
PEN_WIDTH_RANGE = (8.0, 30.0)
# A person who sees the strokes of a small digit merge into a blob draws it bigger or with a
# finer pen, so the pen is at most this fraction of the digit's height.
MAX_PEN_TO_HEIGHT = 0.2
# Proportions and pens of the hands that differ from the ordinary one. A narrow hand's pen is
# also at most NARROW_PEN_TO_WIDTH of the digit's width (its height × aspect), so the loops of
# its 8s and 9s stay open on the canvas as a person would draw them.
NARROW_ASPECT_RANGE = (0.35, 0.6)
NARROW_PEN_WIDTH_RANGE = (8.0, 40.0)
NARROW_PEN_TO_WIDTH = 0.25
WIDE_ASPECT_RANGE = (1.4, 2.0)
FAT_PEN_WIDTH_RANGE = (24.0, 48.0)
FAT_PEN_TO_HEIGHT = 0.28
FAT_HEIGHT_FRACTION_RANGE = (0.5, 0.9)
THIN_PEN_WIDTH_RANGE = (1.5, 6.0)
SLANT_RANGE_DEGREES = (-20.0, 20.0)
ROTATION_RANGE_DEGREES = (-5.0, 5.0)
ASPECT_RANGE = (0.8, 1.25)
# Shifts the middle of a digit up or down (the waist of an 8, the join of a 9's loop and tail).
WAIST_SHIFT_RANGE = (-0.12, 0.12)
# Amplitude (fraction of the height) of a smooth random warp: nobody draws the same shape twice.
WARP_AMPLITUDE = 0.035
# Per-point tremor (fraction of the height): a mouse hand is not steady.
JITTER_FRACTION = 0.006
ARC_STEP_DEGREES = 10.0
CURVE_STEPS = 12
FONT_FOLDERS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "~/Library/Fonts",
)
WINDOWS_FONT_FOLDER_VAR = "WINDIR"
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
# Glyphs are rendered once per font at this size and scaled down, which is faster than loading
# each font at every size and keeps the anti-aliasing (the tallest canvas digit is ~250 px).
FONT_REFERENCE_SIZE = 360
# A code point no font maps (Unicode private use area): its glyph is the font's "missing" box.
MISSING_GLYPH_PROBE = "\ue000"
# Font families of the font kinds, matched against the start of a font's family name.
FONT_FAMILIES = {
    "dejavu": ("DejaVu",),
    "urw": (
        "Nimbus",
        "C059",
        "P052",
        "URW",
        "Z003",
        "Standard Symbols",
        "Century Schoolbook L",
        "Bitstream Charter",
    ),
    "noto": ("Noto",),
}
# Families whose "digits" are pictures (the URW base-35 Dingbats is D050000L): never digits.
PICTURE_FONT_FAMILIES = ("D050000L", "Dingbats", "Zapf Dingbats", "Wingdings", "Webdings")
# Weights named like these are bold; the heavy kind draws them bolder by these outlines, as a
# fraction of the font size (0.03 turns a bold into about a black or heavy weight).
BOLD_STYLE_WORDS = ("bold", "black", "heavy", "demi", "extrabold", "semibold")
HEAVY_OUTLINES = (0.0, 0.015, 0.03)
MNIST_SIZE_RANGE = (80.0, 260.0)
# MNIST ink level above which a pixel is part of the solid redrawn stroke: the outline through
# the middle of the anti-aliased edge.
MNIST_STROKE_LEVEL = 128
# MNIST digits are enlarged this much more than needed and box-averaged down, for smooth edges.
MNIST_SUPERSAMPLING = 2


class KindUnavailable(Exception):
    """Raised when a kind cannot be drawn on this machine (no fonts, no MNIST data); says why."""


@dataclass(frozen=True)
class DrawnDigit:
    """One benchmark canvas: a 280×280 "L" image of a digit and what it is.

    image: the canvas, as the app's drawing would produce it.
    label: the digit drawn, 0..9.
    dark_ink: True for dark ink on light paper, False for light ink on dark paper.
    source: how it was drawn, e.g. "pen 7 crossbar", "font DejaVuSans.ttf", "mnist test #42".
    """

    image: Image.Image
    label: int
    dark_ink: bool
    source: str


@dataclass(frozen=True)
class Line:
    """A polyline through the given unit-box points."""

    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Arc:
    """An elliptic arc in the unit box; angles in degrees, 0 = right, 90 = down (y down).

    A positive sweep turns clockwise on screen, a negative one anticlockwise.
    """

    centre_x: float
    centre_y: float
    radius_x: float
    radius_y: float
    start: float
    sweep: float


@dataclass(frozen=True)
class CurveTo:
    """A cubic Bézier curve from the end of the previous piece through two controls to end."""

    control_1: tuple[float, float]
    control_2: tuple[float, float]
    end: tuple[float, float]


Piece = Line | Arc | CurveTo
# A stroke is one pen-down-to-pen-up movement: its pieces follow on from each other.
StrokeTemplate = tuple[Piece, ...]

# How people write each digit, in a unit box with y downwards: (variant name, strokes).
PEN_TEMPLATES: dict[int, tuple[tuple[str, tuple[StrokeTemplate, ...]], ...]] = {
    0: (
        ("oval", ((Arc(0.5, 0.5, 0.3, 0.5, -90, -370),),)),
        ("oval clockwise", ((Arc(0.5, 0.5, 0.28, 0.5, -100, 375),),)),
        ("open oval", ((Arc(0.5, 0.5, 0.3, 0.5, -80, -345),),)),
    ),
    1: (
        ("stick", ((Line(((0.5, 0.0), (0.5, 1.0))),),)),
        ("flag", ((Line(((0.3, 0.22), (0.52, 0.0), (0.52, 1.0))),),)),
        (
            "flag and base",
            (
                (Line(((0.3, 0.2), (0.5, 0.0), (0.5, 1.0))),),
                (Line(((0.25, 1.0), (0.75, 1.0))),),
            ),
        ),
    ),
    2: (
        (
            "curve and base",
            (
                (
                    Arc(0.5, 0.27, 0.3, 0.26, 195, 215),
                    CurveTo((0.55, 0.62), (0.3, 0.82), (0.17, 1.0)),
                    Line(((0.17, 1.0), (0.85, 1.0))),
                ),
            ),
        ),
        (
            "looped",
            (
                (
                    Arc(0.5, 0.27, 0.3, 0.26, 195, 215),
                    CurveTo((0.55, 0.62), (0.4, 0.8), (0.3, 0.9)),
                    Arc(0.22, 0.86, 0.12, 0.1, 20, 360),
                    Line(((0.85, 0.98),)),
                ),
            ),
        ),
        (
            "angular",
            (
                (
                    Line(((0.2, 0.15), (0.45, 0.0), (0.75, 0.12), (0.72, 0.35), (0.18, 1.0))),
                    Line(((0.18, 1.0), (0.85, 1.0))),
                ),
            ),
        ),
    ),
    3: (
        (
            "two bowls",
            (
                (
                    Arc(0.47, 0.26, 0.27, 0.24, 200, 250),
                    Arc(0.47, 0.74, 0.3, 0.26, -90, 240),
                ),
            ),
        ),
        (
            "flat top",
            (
                (
                    Line(((0.2, 0.0), (0.8, 0.0), (0.42, 0.4))),
                    Arc(0.47, 0.7, 0.3, 0.29, -110, 255),
                ),
            ),
        ),
    ),
    4: (
        (
            "open",
            (
                (Line(((0.22, 0.0), (0.15, 0.62), (0.87, 0.62))),),
                (Line(((0.67, 0.08), (0.67, 1.0))),),
            ),
        ),
        (
            "closed",
            (
                (Line(((0.62, 0.0), (0.1, 0.66), (0.9, 0.66))),),
                (Line(((0.62, 0.0), (0.62, 1.0))),),
            ),
        ),
        (
            "crossed",
            (
                (Line(((0.52, 0.0), (0.1, 0.66), (0.9, 0.66))),),
                (Line(((0.7, 0.3), (0.67, 1.0))),),
            ),
        ),
    ),
    5: (
        (
            "two strokes",
            (
                (Line(((0.3, 0.02), (0.26, 0.46))), Arc(0.47, 0.69, 0.3, 0.28, -140, 280)),
                (Line(((0.3, 0.02), (0.82, 0.02))),),
            ),
        ),
        (
            "one stroke",
            (
                (
                    Line(((0.82, 0.02), (0.3, 0.02), (0.26, 0.46))),
                    Arc(0.47, 0.69, 0.3, 0.28, -140, 280),
                ),
            ),
        ),
    ),
    6: (
        (
            "curved stem",
            (
                (
                    Line(((0.72, 0.02),)),
                    CurveTo((0.45, 0.1), (0.2, 0.4), (0.2, 0.74)),
                    Arc(0.47, 0.74, 0.27, 0.25, 180, -345),
                ),
            ),
        ),
        (
            "straight stem",
            (
                (
                    Line(((0.68, 0.0), (0.21, 0.7))),
                    Arc(0.47, 0.75, 0.27, 0.24, 190, -340),
                ),
            ),
        ),
    ),
    7: (
        ("plain", ((Line(((0.12, 0.02), (0.88, 0.02), (0.42, 1.0))),),)),
        (
            "crossbar",
            (
                (Line(((0.12, 0.02), (0.88, 0.02), (0.42, 1.0))),),
                (Line(((0.42, 0.52), (0.84, 0.52))),),
            ),
        ),
        (
            "curved stem",
            (
                (
                    Line(((0.12, 0.02), (0.88, 0.02))),
                    CurveTo((0.7, 0.35), (0.52, 0.65), (0.48, 1.0)),
                ),
            ),
        ),
        ("serif", ((Line(((0.12, 0.16), (0.12, 0.02), (0.88, 0.02), (0.45, 1.0))),),)),
    ),
    8: (
        (
            "figure eight",
            (
                (
                    Line(((0.7, 0.1),)),
                    CurveTo((0.6, -0.02), (0.25, 0.0), (0.27, 0.2)),
                    CurveTo((0.29, 0.38), (0.75, 0.55), (0.75, 0.76)),
                    CurveTo((0.75, 1.02), (0.25, 1.02), (0.25, 0.76)),
                    CurveTo((0.25, 0.55), (0.72, 0.42), (0.72, 0.2)),
                    CurveTo((0.72, 0.08), (0.66, 0.02), (0.6, 0.02)),
                ),
            ),
        ),
        (
            "two loops",
            (
                (Arc(0.5, 0.25, 0.21, 0.25, -90, -360),),
                (Arc(0.5, 0.75, 0.26, 0.25, -90, -360),),
            ),
        ),
    ),
    9: (
        (
            "straight tail",
            ((Arc(0.48, 0.28, 0.26, 0.26, 0, -360), Line(((0.74, 0.28), (0.72, 1.0)))),),
        ),
        (
            "curved tail",
            (
                (
                    Arc(0.48, 0.28, 0.26, 0.26, 0, -360),
                    CurveTo((0.76, 0.6), (0.7, 0.95), (0.35, 0.98)),
                ),
            ),
        ),
    ),
}


NINE_LOOP = Arc(0.48, 0.28, 0.26, 0.26, 0, -360)
ZERO_OVAL = Arc(0.5, 0.5, 0.3, 0.5, -90, -370)
# Flags at least ~45° below the horizontal, as drawn: flatter ones a person takes for a 7 too.
LONG_FLAGS = (
    ("long flag", Line(((0.22, 0.36), (0.55, 0.0), (0.55, 1.0)))),
    ("steep flag", Line(((0.32, 0.42), (0.55, 0.0), (0.55, 1.0)))),
    ("short flag", Line(((0.38, 0.18), (0.55, 0.0), (0.55, 1.0)))),
)
# Styles people use that MNIST has few of, one digit each: (variant name, strokes).
STYLE_TEMPLATES: dict[str, tuple[int, tuple[tuple[str, tuple[StrokeTemplate, ...]], ...]]] = {
    "slashed-0": (
        0,
        (
            ("slash inside", ((ZERO_OVAL,), (Line(((0.34, 0.78), (0.66, 0.22))),))),
            ("slash through", ((ZERO_OVAL,), (Line(((0.14, 1.0), (0.86, 0.0))),))),
            (
                "clockwise, slash inside",
                ((Arc(0.5, 0.5, 0.28, 0.5, -100, 375),), (Line(((0.3, 0.82), (0.7, 0.18))),)),
            ),
        ),
    ),
    "flag-1": (
        1,
        (
            *((name, ((flag,),)) for name, flag in LONG_FLAGS),
            (
                "curved flag",
                (
                    (
                        Line(((0.24, 0.4),)),
                        CurveTo((0.36, 0.28), (0.5, 0.12), (0.55, 0.0)),
                        Line(((0.55, 1.0),)),
                    ),
                ),
            ),
        ),
    ),
    "flag-base-1": (
        1,
        tuple(
            (f"{name} and base", ((flag,), (Line(((left, 1.0), (right, 1.0))),)))
            for (name, flag), (left, right) in zip(
                LONG_FLAGS, ((0.25, 0.85), (0.35, 0.75), (0.2, 0.9)), strict=True
            )
        ),
    ),
    "looped-2": (
        2,
        (
            *PEN_TEMPLATES[2][1:2],
            (
                "big loop",
                (
                    (
                        Arc(0.5, 0.25, 0.3, 0.24, 190, 220),
                        CurveTo((0.6, 0.6), (0.45, 0.75), (0.35, 0.82)),
                        Arc(0.27, 0.82, 0.16, 0.15, 0, 360),
                        Line(((0.9, 0.97),)),
                    ),
                ),
            ),
            (
                "loop on the base",
                (
                    (
                        Arc(0.48, 0.28, 0.3, 0.27, 200, 200),
                        CurveTo((0.6, 0.65), (0.35, 0.85), (0.2, 0.95)),
                        CurveTo((0.1, 1.02), (0.15, 0.78), (0.32, 0.92)),
                        Line(((0.5, 1.0), (0.88, 1.0))),
                    ),
                ),
            ),
        ),
    ),
    "open-4": (
        4,
        (
            *PEN_TEMPLATES[4][:1],
            (
                "upright sides",
                (
                    (Line(((0.2, 0.0), (0.2, 0.58), (0.88, 0.58))),),
                    (Line(((0.7, 0.0), (0.7, 1.0))),),
                ),
            ),
            (
                "slanted side",
                (
                    (Line(((0.35, 0.0), (0.1, 0.6), (0.9, 0.6))),),
                    (Line(((0.66, 0.18), (0.66, 1.0))),),
                ),
            ),
        ),
    ),
    "crossed-7": (
        7,
        (
            *PEN_TEMPLATES[7][1:2],
            (
                "curved stem, crossbar",
                (
                    (
                        Line(((0.12, 0.02), (0.88, 0.02))),
                        CurveTo((0.7, 0.35), (0.52, 0.65), (0.48, 1.0)),
                    ),
                    (Line(((0.4, 0.5), (0.82, 0.5))),),
                ),
            ),
            (
                "serif, crossbar",
                (
                    (Line(((0.12, 0.16), (0.12, 0.02), (0.88, 0.02), (0.45, 1.0))),),
                    (Line(((0.5, 0.48), (0.86, 0.48))),),
                ),
            ),
        ),
    ),
    "curled-9": (
        9,
        (
            *PEN_TEMPLATES[9][1:2],
            (
                "hooked tail",
                (
                    (
                        NINE_LOOP,
                        Line(((0.74, 0.28), (0.74, 0.76))),
                        CurveTo((0.74, 0.96), (0.55, 1.0), (0.36, 0.9)),
                    ),
                ),
            ),
            (
                "round tail",
                (
                    (
                        NINE_LOOP,
                        CurveTo((0.78, 0.55), (0.75, 0.92), (0.5, 0.98)),
                        CurveTo((0.38, 1.0), (0.28, 0.96), (0.25, 0.86)),
                    ),
                ),
            ),
        ),
    ),
}


@dataclass(frozen=True)
class Hand:
    """How one pen kind writes: the ways of writing each digit, its proportions and its pen.

    templates: for each digit it draws, (variant name, strokes) pairs, one picked at random.
    aspect_range: the digit's width is its template's width times this (narrow < 1 < wide).
    pen_width_range: round pen widths in canvas px.
    height_fraction_range: the digit's height as a fraction of the canvas.
    max_pen_to_height: the pen is at most this fraction of the digit's height.
    max_pen_to_width: the pen is at most this fraction of the height × aspect (None: no limit).
    """

    templates: Mapping[int, tuple[tuple[str, tuple[StrokeTemplate, ...]], ...]]
    aspect_range: tuple[float, float] = ASPECT_RANGE
    pen_width_range: tuple[float, float] = PEN_WIDTH_RANGE
    height_fraction_range: tuple[float, float] = HEIGHT_FRACTION_RANGE
    max_pen_to_height: float = MAX_PEN_TO_HEIGHT
    max_pen_to_width: float | None = None


PEN_KINDS: dict[str, Hand] = {
    "pen": Hand(PEN_TEMPLATES),
    "narrow": Hand(
        PEN_TEMPLATES,
        aspect_range=NARROW_ASPECT_RANGE,
        pen_width_range=NARROW_PEN_WIDTH_RANGE,
        max_pen_to_width=NARROW_PEN_TO_WIDTH,
    ),
    "wide": Hand(PEN_TEMPLATES, aspect_range=WIDE_ASPECT_RANGE),
    "fat": Hand(
        PEN_TEMPLATES,
        pen_width_range=FAT_PEN_WIDTH_RANGE,
        height_fraction_range=FAT_HEIGHT_FRACTION_RANGE,
        max_pen_to_height=FAT_PEN_TO_HEIGHT,
    ),
    "thin": Hand(PEN_TEMPLATES, pen_width_range=THIN_PEN_WIDTH_RANGE),
    **{kind: Hand({digit: variants}) for kind, (digit, variants) in STYLE_TEMPLATES.items()},
}
FONT_KINDS = ("font", *FONT_FAMILIES, "heavy")
KINDS = (*PEN_KINDS, *FONT_KINDS, "mnist")


@dataclass(frozen=True)
class DigitFont:
    """The ten digit glyphs of one font: "L" masks (ink 255) cropped to their ink.

    name: the font file's name; family and style: the names the font gives itself, e.g.
    ("Nimbus Sans", "Bold Italic"); path: the font file, to draw its glyphs again.
    """

    name: str
    glyphs: tuple[Image.Image, ...]
    family: str = ""
    style: str = ""
    path: Path | None = None


def draw_pen_digit(digit: int, rng: random.Random, hand: Hand | None = None) -> DrawnDigit:
    """Return a 280×280 canvas with the digit drawn in pen strokes, as a person draws with a mouse.

    A variant of the hand's templates (default: the ordinary "pen" hand) is picked at random,
    then stretched by the hand's aspect, warped, slanted (−20°…+20°), rotated (±5°), jittered,
    sized to the hand's fraction of the canvas height, placed anywhere it fits and drawn with a
    round pen of the hand's width, dark or light ink at random.
    """
    hand = hand or PEN_KINDS["pen"]
    name, templates = rng.choice(hand.templates[digit])
    aspect = rng.uniform(*hand.aspect_range)
    strokes = _distort([_trace(template) for template in templates], aspect, rng)
    height = rng.uniform(*hand.height_fraction_range) * CANVAS_SIZE
    largest_pen = min(hand.pen_width_range[1], hand.max_pen_to_height * height)
    if hand.max_pen_to_width is not None:
        largest_pen = min(largest_pen, hand.max_pen_to_width * aspect * height)
    pen_width = rng.uniform(min(hand.pen_width_range[0], largest_pen), largest_pen)
    strokes = _place(strokes, height, pen_width, rng)
    dark_ink = rng.random() < 0.5
    return DrawnDigit(_render(strokes, pen_width, dark_ink), digit, dark_ink, f"pen {digit} {name}")


def font_folders(environ: Mapping[str, str] = os.environ) -> list[Path]:
    """Return the folders where fonts are usually installed on Linux, macOS and Windows."""
    folders = [Path(folder).expanduser() for folder in FONT_FOLDERS]
    windows_folder = environ.get(WINDOWS_FONT_FOLDER_VAR, "")
    if windows_folder:
        folders.append(Path(windows_folder) / "Fonts")
    return folders


def find_font_files(folders: Sequence[Path]) -> list[Path]:
    """Return every TrueType/OpenType font file under the folders, sorted, without duplicates."""
    found: set[Path] = set()
    for folder in folders:
        if folder.is_dir():
            found.update(
                path
                for path in folder.rglob("*")
                if path.suffix.lower() in FONT_SUFFIXES and path.is_file()
            )
    return sorted(found)


def load_digit_fonts(paths: Sequence[Path]) -> list[DigitFont]:
    """Return the digit glyphs of every font that Pillow can read and that has all ten digits.

    A font lacks a digit when it has no ink for it or draws it as its "missing glyph" box;
    picture fonts (PICTURE_FONT_FAMILIES), which map the digits' codes to symbols, are left out.
    """
    fonts = []
    for path in paths:
        try:
            font = ImageFont.truetype(str(path), FONT_REFERENCE_SIZE)
            family, style = font.getname()
            if family and family.startswith(PICTURE_FONT_FAMILIES):
                continue
            missing = _glyph(font, MISSING_GLYPH_PROBE)
            glyphs = tuple(_glyph(font, str(digit)) for digit in range(DIGIT_CLASSES))
        except OSError:
            continue
        if all(glyph is not None and not _same_image(glyph, missing) for glyph in glyphs):
            fonts.append(DigitFont(path.name, glyphs, family or "", style or "", path))
    return fonts


def fonts_of_kind(kind: str, fonts: Sequence[DigitFont]) -> list[DigitFont]:
    """Return the fonts a font kind draws from: all, one family's, or bold ones made heavier.

    "heavy" draws every bold weight (BOLD_STYLE_WORDS in its style name) as it is and with each
    outline of HEAVY_OUTLINES added around its strokes, which fills its counters a little more
    each time as the black weights of a typeface do.
    """
    if kind == "font":
        return list(fonts)
    if kind in FONT_FAMILIES:
        return [font for font in fonts if font.family.startswith(FONT_FAMILIES[kind])]
    if kind != "heavy":
        raise ValueError(f"{kind!r} is not a font kind")
    heavy = []
    for font in fonts:
        if not any(word in font.style.lower() for word in BOLD_STYLE_WORDS):
            continue
        heavy.append(font)
        if font.path is None:
            continue
        typeface = ImageFont.truetype(str(font.path), FONT_REFERENCE_SIZE)
        for outline in HEAVY_OUTLINES[1:]:
            stroke_width = round(outline * FONT_REFERENCE_SIZE)
            glyphs = tuple(
                _glyph(typeface, str(digit), stroke_width) for digit in range(DIGIT_CLASSES)
            )
            name = f"{font.name} +{outline:.1%} outline"
            heavy.append(DigitFont(name, glyphs, font.family, font.style, font.path))
    return heavy


def draw_font_digit(digit: int, font: DigitFont, rng: random.Random) -> DrawnDigit:
    """Return a 280×280 canvas with the font's digit typeset 30–90 % of the canvas tall.

    It is placed anywhere it fits, dark or light ink at random.
    """
    glyph = font.glyphs[digit]
    height = rng.uniform(*HEIGHT_FRACTION_RANGE) * CANVAS_SIZE
    scale = min(height / glyph.height, (CANVAS_SIZE - 2 * EDGE_MARGIN) / glyph.width)
    size = (max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale)))
    ink = glyph.resize(size, Image.Resampling.BOX)
    dark_ink = rng.random() < 0.5
    return DrawnDigit(_paste(ink, rng, dark_ink), digit, dark_ink, f"font {font.name}")


def draw_mnist_digit(pixels: bytes, label: int, rng: random.Random, source: str) -> DrawnDigit:
    """Return a 280×280 canvas with an MNIST digit (784 bytes, ink high) redrawn as a solid stroke.

    The digit's grey levels are enlarged smoothly (bicubic) so its longer side is 80–260 px,
    cut at mid-grey into a solid shape with anti-aliased edges, placed anywhere it fits, dark or
    light ink at random.
    """
    digit = Image.frombytes("L", (IMAGE_COLUMNS, IMAGE_ROWS), pixels)
    bounding_box = digit.getbbox()
    if bounding_box is None:
        raise ValueError(f"{source} has no ink")
    digit = digit.crop(bounding_box)
    longer_side = rng.uniform(*MNIST_SIZE_RANGE) * MNIST_SUPERSAMPLING
    scale = longer_side / max(digit.size)
    enlarged = digit.resize(
        (max(1, round(digit.width * scale)), max(1, round(digit.height * scale))),
        Image.Resampling.BICUBIC,
    )
    solid = enlarged.point([INK if level >= MNIST_STROKE_LEVEL else 0 for level in range(256)])
    ink = solid.reduce(MNIST_SUPERSAMPLING)
    dark_ink = rng.random() < 0.5
    return DrawnDigit(_paste(ink, rng, dark_ink), label, dark_ink, source)


def drawn_digits(
    kind: str,
    count: int,
    seed: int,
    data_dir: str | os.PathLike[str] | None = None,
    fonts: Sequence[DigitFont] | None = None,
) -> list[DrawnDigit]:
    """Return count canvases of one kind, balanced over the digits it draws.

    Most kinds draw all ten in turn (digit i % 10 for canvas i), a style kind its one digit.
    The same kind, count, seed and inputs always give the same canvases. Font kinds use `fonts`
    (default: every font found on the machine), each font drawing every digit in turn; "mnist"
    reads the test split from data_dir. Raises KindUnavailable when the kind cannot be drawn
    here, ValueError for an unknown kind or a negative count.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    rng = random.Random(f"{kind}-{seed}")
    if kind in PEN_KINDS:
        hand = PEN_KINDS[kind]
        drawn = sorted(hand.templates)
        return [draw_pen_digit(drawn[index % len(drawn)], rng, hand) for index in range(count)]
    labels = [index % DIGIT_CLASSES for index in range(count)]
    if kind in FONT_KINDS:
        if fonts is None:
            fonts = load_digit_fonts(find_font_files(font_folders()))
        chosen = fonts_of_kind(kind, fonts)
        if not chosen:
            raise KindUnavailable(_no_fonts_reason(kind))
        return [
            draw_font_digit(label, chosen[index // DIGIT_CLASSES % len(chosen)], rng)
            for index, label in enumerate(labels)
        ]
    return _mnist_digits(labels, rng, data_dir)


def _no_fonts_reason(kind: str) -> str:
    """Return why a font kind has nothing to draw on this machine."""
    if kind == "font":
        return "no font with all ten digits found on this machine"
    if kind == "heavy":
        return "no bold font with all ten digits found on this machine"
    families = ", ".join(FONT_FAMILIES[kind])
    return f"no {kind} font ({families}) with all ten digits found on this machine"


def _mnist_digits(
    labels: list[int], rng: random.Random, data_dir: str | os.PathLike[str] | None
) -> list[DrawnDigit]:
    """Return MNIST test digits with the given labels, redrawn; each test digit used once per round.

    Raises KindUnavailable when data_dir is None or holds no readable MNIST test split.
    """
    if data_dir is None:
        raise KindUnavailable("no MNIST data folder given")
    try:
        test_set = load_mnist(data_dir, "test")
    except DataError as error:
        raise KindUnavailable(f"no MNIST test data: {error}") from None
    indices_by_digit: list[list[int]] = [[] for _ in range(DIGIT_CLASSES)]
    for index, label in enumerate(test_set.labels):
        indices_by_digit[label].append(index)
    for indices in indices_by_digit:
        rng.shuffle(indices)
    digits = []
    for position, label in enumerate(labels):
        indices = indices_by_digit[label]
        index = indices[position // DIGIT_CLASSES % len(indices)]
        source = f"mnist test #{index}"
        digits.append(draw_mnist_digit(test_set.images[index], label, rng, source))
    return digits


def _trace(template: StrokeTemplate) -> list[tuple[float, float]]:
    """Return the unit-box points along a stroke template, its pieces joined end to end."""
    points: list[tuple[float, float]] = []
    for piece in template:
        if isinstance(piece, Line):
            points.extend(piece.points)
        elif isinstance(piece, Arc):
            steps = max(2, math.ceil(abs(piece.sweep) / ARC_STEP_DEGREES))
            for step in range(steps + 1):
                angle = math.radians(piece.start + piece.sweep * step / steps)
                points.append(
                    (
                        piece.centre_x + piece.radius_x * math.cos(angle),
                        piece.centre_y + piece.radius_y * math.sin(angle),
                    )
                )
        else:
            (x0, y0), (x1, y1), (x2, y2), (x3, y3) = (
                points[-1],
                piece.control_1,
                piece.control_2,
                piece.end,
            )
            for step in range(1, CURVE_STEPS + 1):
                t = step / CURVE_STEPS
                u = 1 - t
                a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
                points.append(
                    (a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3)
                )
    return points


def _distort(
    strokes: list[list[tuple[float, float]]], aspect: float, rng: random.Random
) -> list[list[tuple[float, float]]]:
    """Return unit-box strokes reshaped by hand: aspect, waist, warp, slant, rotation, tremor.

    The result is centred on (0, 0) with the digit about 1 unit tall.
    """
    waist_shift = rng.uniform(*WAIST_SHIFT_RANGE)
    warp_phases = [rng.uniform(0, 2 * math.pi) for _ in range(2)]
    warp_amplitudes = [rng.uniform(-WARP_AMPLITUDE, WARP_AMPLITUDE) for _ in range(2)]
    shear = math.tan(math.radians(rng.uniform(*SLANT_RANGE_DEGREES)))
    rotation = math.radians(rng.uniform(*ROTATION_RANGE_DEGREES))
    cos_rotation, sin_rotation = math.cos(rotation), math.sin(rotation)
    distorted = []
    for stroke in strokes:
        points = []
        for x, y in stroke:
            # 4·y·(1−y) is 1 at mid-height and 0 at top and bottom: only the waist moves.
            y = y + waist_shift * 4 * y * (1 - y) - 0.5
            x = (x - 0.5) * aspect
            # One slow wave across each axis bends the whole shape without wiggling the line.
            x += warp_amplitudes[0] * math.sin(math.pi * y + warp_phases[0])
            y += warp_amplitudes[1] * math.sin(math.pi * x + warp_phases[1])
            x += rng.gauss(0.0, JITTER_FRACTION)
            y += rng.gauss(0.0, JITTER_FRACTION)
            # A right slant (positive) moves the top to the right: y is negative at the top.
            x -= shear * y
            points.append(
                (x * cos_rotation - y * sin_rotation, x * sin_rotation + y * cos_rotation)
            )
        distorted.append(points)
    return distorted


def _place(
    strokes: list[list[tuple[float, float]]],
    height: float,
    pen_width: float,
    rng: random.Random,
) -> list[list[tuple[float, float]]]:
    """Return strokes scaled so their centre line is `height` px tall and moved to a random place.

    The digit shrinks if its ink would not otherwise fit the canvas; it lands anywhere the whole
    ink stays EDGE_MARGIN px inside the canvas.
    """
    xs = [x for stroke in strokes for x, _ in stroke]
    ys = [y for stroke in strokes for _, y in stroke]
    room = CANVAS_SIZE - pen_width - 2 * EDGE_MARGIN
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    scale = min(height / span_y, room / span_y, room / span_x if span_x > 0 else math.inf)
    low = pen_width / 2 + EDGE_MARGIN
    left = rng.uniform(low, CANVAS_SIZE - low - span_x * scale) - min(xs) * scale
    top = rng.uniform(low, CANVAS_SIZE - low - span_y * scale) - min(ys) * scale
    return [[(left + x * scale, top + y * scale) for x, y in stroke] for stroke in strokes]


def _render(
    strokes: list[list[tuple[float, float]]], pen_width: float, dark_ink: bool
) -> Image.Image:
    """Return the 280×280 "L" canvas of the strokes drawn with a round pen of pen_width px."""
    hires = Image.new("L", (CANVAS_SIZE * SUPERSAMPLING,) * 2, 0)
    pen = ImageDraw.Draw(hires)
    width = round(pen_width * SUPERSAMPLING)
    radius = pen_width * SUPERSAMPLING / 2
    for stroke in strokes:
        # Pillow puts coordinate i at the centre of pixel i, hence the half-pixel shift.
        scaled = [(x * SUPERSAMPLING - 0.5, y * SUPERSAMPLING - 0.5) for x, y in stroke]
        pen.line(scaled, fill=INK, width=width, joint="curve")
        for x, y in (scaled[0], scaled[-1]):
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=INK)
    canvas = hires.reduce(SUPERSAMPLING)
    return ImageOps.invert(canvas) if dark_ink else canvas


def _paste(ink: Image.Image, rng: random.Random, dark_ink: bool) -> Image.Image:
    """Return a 280×280 canvas with the ink mask (ink 255) pasted at a random place that fits."""
    canvas = Image.new("L", (CANVAS_SIZE, CANVAS_SIZE), 0)
    left = rng.uniform(EDGE_MARGIN, max(EDGE_MARGIN, CANVAS_SIZE - EDGE_MARGIN - ink.width))
    top = rng.uniform(EDGE_MARGIN, max(EDGE_MARGIN, CANVAS_SIZE - EDGE_MARGIN - ink.height))
    canvas.paste(ink, (round(left), round(top)))
    return ImageOps.invert(canvas) if dark_ink else canvas


def _glyph(font: ImageFont.FreeTypeFont, text: str, outline: int = 0) -> Image.Image | None:
    """Return the text drawn in font as an "L" mask cropped to its ink, or None if it has none.

    outline > 0 draws an outline that many px wide around the strokes too (a bolder weight).
    """
    left, top, right, bottom = font.getbbox(text, stroke_width=outline)
    if right <= left or bottom <= top:
        return None
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).text(
        (-left, -top), text, font=font, fill=INK, stroke_width=outline, stroke_fill=INK
    )
    bounding_box = mask.getbbox()
    return mask.crop(bounding_box) if bounding_box is not None else None


def _same_image(first: Image.Image, second: Image.Image | None) -> bool:
    """Return True if both images exist and have the same size and pixels."""
    return second is not None and first.size == second.size and first.tobytes() == second.tobytes()
