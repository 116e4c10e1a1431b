"""Draw digits in the consistent but unusual handwriting of a few made-up people ("hands").

Each `Hand` is one person: the same ways of writing each digit every time (a slashed zero, a 4
with two uprights, a crossed 7, a 1 with a long flag, ...), the same slant, width, pen and size,
with only the small variation of a real hand between drawings (a few degrees of slant and
rotation, a little width, a smooth wobble, a tremor, the place on the canvas). They exist to
measure teaching: a model is taught a few drawings of a hand and read on other, new drawings of
the same hand (`engine.handbench`).

Canvases are 280×280 "L" images, dark ink on white paper, as the app's drawing produces. Stroke
templates use the unit box (y down) and the stroke pieces of `engine.drawn`, which also traces
and renders them, so a hand's drawings are made exactly like the drawn-digits benchmark's.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from PIL import Image

from engine.drawn import Arc, CurveTo, Line, StrokeTemplate, _place, _render, _trace

CANVAS_SIZE = 280
# The small variation between two drawings of the same person.
SLANT_JITTER_DEGREES = 4.0
ROTATION_JITTER_DEGREES = 3.0
ASPECT_JITTER = 0.06
PEN_JITTER = 0.12
WOBBLE_AMPLITUDE = 0.025
TREMOR = 0.004

Template = tuple[StrokeTemplate, ...]

# Ordinary ways of writing each digit; hands replace some of them with their own.
PLAIN: dict[int, Template] = {
    0: ((Arc(0.5, 0.5, 0.32, 0.5, -90, -365),),),
    1: ((Line(((0.5, 0.0), (0.5, 1.0))),),),
    2: (
        (
            Arc(0.5, 0.27, 0.3, 0.26, 195, 215),
            CurveTo((0.55, 0.62), (0.3, 0.82), (0.17, 1.0)),
            Line(((0.17, 1.0), (0.85, 1.0))),
        ),
    ),
    3: ((Arc(0.47, 0.26, 0.27, 0.24, 200, 250), Arc(0.47, 0.74, 0.3, 0.26, -90, 240)),),
    4: (
        (Line(((0.62, 0.0), (0.1, 0.66), (0.9, 0.66))),),
        (Line(((0.62, 0.0), (0.62, 1.0))),),
    ),
    5: (
        (Line(((0.3, 0.02), (0.26, 0.46))), Arc(0.47, 0.69, 0.3, 0.28, -140, 280)),
        (Line(((0.3, 0.02), (0.82, 0.02))),),
    ),
    6: (
        (
            Line(((0.72, 0.02),)),
            CurveTo((0.45, 0.1), (0.2, 0.4), (0.2, 0.74)),
            Arc(0.47, 0.74, 0.27, 0.25, 180, -345),
        ),
    ),
    7: ((Line(((0.12, 0.02), (0.88, 0.02), (0.42, 1.0))),),),
    8: (
        (Arc(0.5, 0.25, 0.21, 0.25, -90, -360),),
        (Arc(0.5, 0.75, 0.26, 0.25, -90, -360),),
    ),
    9: ((Arc(0.48, 0.28, 0.26, 0.26, 0, -360), Line(((0.74, 0.28), (0.72, 1.0)))),),
}

SLASHED_ZERO: Template = (
    (Arc(0.5, 0.5, 0.32, 0.5, -90, -365),),
    (Line(((0.78, 0.08), (0.22, 0.92))),),
)
OPEN_FOUR: Template = (
    (Line(((0.2, 0.0), (0.2, 0.6), (0.9, 0.6))),),
    (Line(((0.72, 0.0), (0.72, 1.0))),),
)
CROSSED_SEVEN: Template = (
    (Line(((0.1, 0.1), (0.2, 0.0), (0.88, 0.02), (0.4, 1.0))),),
    (Line(((0.35, 0.5), (0.85, 0.5))),),
)
FLAGGED_ONE: Template = ((Line(((0.18, 0.38), (0.62, 0.0), (0.62, 1.0))),),)
ONE_WITH_BASE: Template = (
    (Line(((0.28, 0.2), (0.55, 0.0), (0.55, 1.0))),),
    (Line(((0.22, 1.0), (0.85, 1.0))),),
)
LOOPED_TWO: Template = (
    (
        Arc(0.5, 0.27, 0.3, 0.26, 195, 215),
        CurveTo((0.55, 0.62), (0.4, 0.8), (0.3, 0.9)),
        Arc(0.22, 0.86, 0.12, 0.1, 20, 360),
        Line(((0.85, 0.98),)),
    ),
)
FLAT_TOP_THREE: Template = (
    (Line(((0.15, 0.0), (0.82, 0.0), (0.4, 0.4))), Arc(0.47, 0.7, 0.3, 0.29, -110, 255)),
)
CURVED_NINE: Template = (
    (Arc(0.5, 0.27, 0.27, 0.26, 0, -360), CurveTo((0.8, 0.6), (0.7, 0.95), (0.3, 0.98))),
)
BOXY: dict[int, Template] = {
    0: ((Line(((0.2, 0.0), (0.8, 0.0), (0.8, 1.0), (0.2, 1.0), (0.2, 0.0))),),),
    2: ((Line(((0.15, 0.0), (0.85, 0.0), (0.85, 0.5), (0.15, 0.5), (0.15, 1.0), (0.88, 1.0))),),),
    3: (
        (Line(((0.15, 0.0), (0.85, 0.0), (0.85, 1.0), (0.15, 1.0))),),
        (Line(((0.3, 0.5), (0.85, 0.5))),),
    ),
    5: ((Line(((0.85, 0.0), (0.15, 0.0), (0.15, 0.5), (0.85, 0.5), (0.85, 1.0), (0.12, 1.0))),),),
    6: ((Line(((0.8, 0.0), (0.2, 0.0), (0.2, 1.0), (0.8, 1.0), (0.8, 0.5), (0.2, 0.5))),),),
    8: (
        (Line(((0.2, 0.0), (0.8, 0.0), (0.8, 1.0), (0.2, 1.0), (0.2, 0.0))),),
        (Line(((0.2, 0.5), (0.8, 0.5))),),
    ),
    9: ((Line(((0.8, 0.5), (0.2, 0.5), (0.2, 0.0), (0.8, 0.0), (0.8, 1.0))),),),
}


@dataclass(frozen=True)
class Hand:
    """One made-up person's handwriting.

    shapes: the person's way of writing each digit 0..9 (a stroke template set).
    slant_degrees: typical slant, positive leaning right. aspect: width / height of their
    digits relative to the templates. pen_width: typical pen width in canvas px.
    height_range: digit height as a fraction of the canvas, drawn per drawing.
    """

    name: str
    description: str
    shapes: dict[int, Template]
    slant_degrees: float = 0.0
    aspect: float = 1.0
    pen_width: float = 16.0
    height_range: tuple[float, float] = (0.55, 0.85)


HANDS: tuple[Hand, ...] = (
    Hand(
        "narrow-bold",
        "narrow and bold, slashed zero, 4 with two uprights, crossed 7",
        {**PLAIN, 0: SLASHED_ZERO, 4: OPEN_FOUR, 7: CROSSED_SEVEN},
        slant_degrees=0.0,
        aspect=0.5,
        pen_width=30.0,
    ),
    Hand(
        "slanted-thin",
        "strong right slant, thin pen, looped 2, 1 with flag and base, curved 9",
        {**PLAIN, 1: ONE_WITH_BASE, 2: LOOPED_TWO, 9: CURVED_NINE},
        slant_degrees=28.0,
        aspect=0.9,
        pen_width=9.0,
    ),
    Hand(
        "european",
        "long-flagged 1, crossed 7, open 4, flat-topped 3, slight left slant",
        {**PLAIN, 1: FLAGGED_ONE, 3: FLAT_TOP_THREE, 4: OPEN_FOUR, 7: CROSSED_SEVEN},
        slant_degrees=-12.0,
        aspect=1.0,
        pen_width=18.0,
    ),
    Hand(
        "boxy-wide",
        "square, angular digits, wide and small",
        {**PLAIN, **BOXY},
        slant_degrees=4.0,
        aspect=1.25,
        pen_width=14.0,
        height_range=(0.35, 0.55),
    ),
    Hand(
        "backslant",
        "tall, narrow and leaning left, thin pen, slashed zero, long-flagged 1, open 4, crossed 7",
        {**PLAIN, 0: SLASHED_ZERO, 1: FLAGGED_ONE, 4: OPEN_FOUR, 7: CROSSED_SEVEN},
        slant_degrees=-25.0,
        aspect=0.65,
        pen_width=10.0,
        height_range=(0.7, 0.9),
    ),
    Hand(
        "small-round",
        "small, round and thick, slashed zero, 1 with base",
        {**PLAIN, 0: SLASHED_ZERO, 1: ONE_WITH_BASE, 9: CURVED_NINE},
        slant_degrees=8.0,
        aspect=1.15,
        pen_width=24.0,
        height_range=(0.3, 0.45),
    ),
)


def hand_named(name: str) -> Hand:
    """Return the hand with this name (ValueError listing the names if there is none)."""
    for hand in HANDS:
        if hand.name == name:
            return hand
    raise ValueError(f"unknown hand {name!r}; choose from {', '.join(h.name for h in HANDS)}")


def draw_hand_digit(hand: Hand, digit: int, rng: random.Random) -> Image.Image:
    """Return a 280×280 "L" canvas of digit in hand, dark ink on white paper."""
    strokes = [_trace(template) for template in hand.shapes[digit]]
    slant = math.tan(math.radians(hand.slant_degrees + rng.uniform(-1, 1) * SLANT_JITTER_DEGREES))
    rotation = math.radians(rng.uniform(-1, 1) * ROTATION_JITTER_DEGREES)
    aspect = hand.aspect * (1 + rng.uniform(-1, 1) * ASPECT_JITTER)
    phases = [rng.uniform(0, 2 * math.pi) for _ in range(2)]
    wobbles = [rng.uniform(-1, 1) * WOBBLE_AMPLITUDE for _ in range(2)]
    cos_r, sin_r = math.cos(rotation), math.sin(rotation)
    shaped = []
    for stroke in strokes:
        points = []
        for x, y in stroke:
            x, y = (x - 0.5) * aspect, y - 0.5
            x += wobbles[0] * math.sin(math.pi * y + phases[0]) + rng.gauss(0.0, TREMOR)
            y += wobbles[1] * math.sin(math.pi * x + phases[1]) + rng.gauss(0.0, TREMOR)
            x -= slant * y
            points.append((x * cos_r - y * sin_r, x * sin_r + y * cos_r))
        shaped.append(points)
    height = rng.uniform(*hand.height_range) * CANVAS_SIZE
    pen_width = hand.pen_width * (1 + rng.uniform(-1, 1) * PEN_JITTER)
    placed = _place(shaped, height, pen_width, rng)
    return _render(placed, pen_width, dark_ink=True)


def hand_drawings(hand: Hand, per_digit: int, seed: int | str) -> list[tuple[Image.Image, int]]:
    """Return per_digit drawings of every digit in hand, as (canvas, digit), digit-major.

    The same hand, count and seed always give the same drawings; different seeds give
    different ones (use disjoint seeds for the drawings taught and the drawings read).
    """
    rng = random.Random(f"{hand.name}-{seed}")
    return [
        (draw_hand_digit(hand, digit, rng), digit) for digit in range(10) for _ in range(per_digit)
    ]
