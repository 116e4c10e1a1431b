"""Distort 28×28 training digits at random: marks, shift, rotation, slant, aspect, stroke, warp.

An image is 784 ``bytes``: 28×28 row-major, 0..255, ink high, as everywhere in the engine.
All randomness comes from an explicit ``random.Random`` so a training run is reproducible;
``transform`` is the deterministic core that ``augment`` calls with randomly drawn parameters.
Pillow applies the resampling; no network math happens here.

The elastic warp moves the corners of a 4×4 grid of cells by small random amounts, so strokes
bend a little differently in each part of the digit, as in a person's hand; Pillow's MESH
transform maps every cell bilinearly, which keeps strokes continuous from cell to cell. It is a
cheap stand-in for the smoothed random displacement fields of Simard, Steinkraus and Platt
(2003), which helped their plain MLPs more than any other distortion.

Slant (a shear: the top moves right, the bottom left) and aspect (narrower or wider) cover how
people write: MNIST's writers slant little and their digits have MNIST's usual proportions, while
a hand on a canvas may be tall and narrow or short and wide. The digit's longer side keeps its
length when its aspect changes, as preprocessing fits the longer side to 20 px.

Style marks add what some people draw and MNIST's writers rarely did: a slash through a 0, a
flag (and sometimes a base) on a 1, a bar across a 7. They need the digit's label, are drawn
4× supersampled with a round pen of an MNIST-like width (1.7–2.6 px) before the distortions, so
they bend, slant and turn with the digit.

Geometry is in pixels with y pointing down and pixel (x, y) covering [x, x+1) × [y, y+1).
Rotation, slant, aspect and scaling are about the frame centre (14, 14): preprocessing (and MNIST
itself) puts the digit's centre of mass there, so this equals rotating about the centre of mass
to within half a pixel without computing it for every sample.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter

FRAME_SIZE = 28
PIXEL_COUNT = FRAME_SIZE * FRAME_SIZE
FRAME_CENTRE = FRAME_SIZE / 2
MAX_ROTATION_LIMIT = 180.0
# A full 3×3 max filter turns a 2-px MNIST stroke into 4 px; blending in half of it gives a
# believable "slightly bolder pen" instead. augment uses this strength both ways.
STROKE_BLEND = 0.5
STROKE_FILTER_SIZE = 3
WARP_CELLS = 4
WARP_CELL_SIZE = FRAME_SIZE // WARP_CELLS
WARP_CORNERS = (WARP_CELLS + 1) ** 2
# Style marks: drawn this many times larger and box-averaged down, with a pen this wide (px at
# 28×28; MNIST's strokes are 1.5-3.6 px, median 2.3). Pixels at or above MARK_INK_LEVEL count
# as the digit's stroke when a mark is placed on it.
MARK_SUPERSAMPLING = 4
MARK_PEN_RANGE = (1.7, 2.6)
MARK_INK_LEVEL = 128
MARKED_DIGITS = (0, 1, 7)
# A flag leaves the top of a 1 down and to the left: its length as a share of the digit's height
# and its angle below the horizontal; flatter flags are a 7's bar. Some 1s have a base as well.
FLAG_LENGTH_RANGE = (0.25, 0.55)
FLAG_ANGLE_RANGE_DEGREES = (30.0, 70.0)
BASE_PROBABILITY = 0.4
BASE_HALF_WIDTH_RANGE = (0.12, 0.35)
# A zero's slash runs from its lower left to its upper right, inside the oval or through it:
# the ends' inset as a share of the box (negative: beyond the oval).
SLASH_INSET_RANGE = (-0.1, 0.3)
# A 7's bar crosses its stem this far down (share of the height), this long each way.
BAR_HEIGHT_RANGE = (0.45, 0.62)
BAR_HALF_WIDTH_RANGE = (0.15, 0.3)


@dataclass(frozen=True)
class AugmentSettings:
    """Ranges of the random distortions; each parameter is drawn uniformly from its range.

    max_shift: largest shift along each axis, in px (shift is drawn from [-max, max]).
    max_rotation: largest rotation, in degrees, counter-clockwise positive, at most 180.
    scale_range: (smallest, largest) zoom factor about the frame centre, both > 0.
    stroke_change_probability: chance in [0, 1] that the stroke gets bolder or thinner (50/50).
    warp: standard deviation, in px, of the random move of each elastic-warp grid corner
    along each axis (0: no warp).
    max_slant: largest shear, as the x moved per px of height (0.36 is a 20° slant), < 1.
    aspect_range: (narrowest, widest) width / height factor, both > 0 (1: unchanged).
    reshape_probability: chance in [0, 1] that a digit is slanted and reshaped at all (when
    max_slant or aspect_range ask for it); the others keep MNIST's proportions.
    unnarrowed_digits: digits that are only ever widened, never narrowed (a narrowed 7 is a
    flagged 1).
    mark_probability: chance in [0, 1] that a 0, 1 or 7 gets its style mark (slash, flag, bar);
    needs the label.
    """

    max_shift: float = 2.0
    max_rotation: float = 12.0
    scale_range: tuple[float, float] = (0.85, 1.15)
    stroke_change_probability: float = 0.0
    warp: float = 0.0
    max_slant: float = 0.0
    aspect_range: tuple[float, float] = (1.0, 1.0)
    reshape_probability: float = 1.0
    unnarrowed_digits: tuple[int, ...] = ()
    mark_probability: float = 0.0

    def __post_init__(self) -> None:
        """Reject settings that are non-finite, negative, or out of their ranges."""
        if len(self.scale_range) != 2:
            raise ValueError(f"scale_range must be (smallest, largest), got {self.scale_range}")
        if len(self.aspect_range) != 2:
            raise ValueError(f"aspect_range must be (narrowest, widest), got {self.aspect_range}")
        numbers = (
            self.max_shift,
            self.max_rotation,
            self.max_slant,
            *self.aspect_range,
            *self.scale_range,
            self.stroke_change_probability,
            self.warp,
            self.reshape_probability,
            self.mark_probability,
        )
        if not all(math.isfinite(number) for number in numbers):
            raise ValueError(f"augment settings must be finite numbers: {self}")
        if self.max_shift < 0:
            raise ValueError(f"max_shift must be >= 0 px, got {self.max_shift}")
        if not 0 <= self.max_rotation <= MAX_ROTATION_LIMIT:
            raise ValueError(f"max_rotation must be in [0, 180] degrees, got {self.max_rotation}")
        smallest, largest = self.scale_range
        if not 0 < smallest <= largest:
            raise ValueError(f"scale_range needs 0 < smallest <= largest, got {self.scale_range}")
        if not 0 <= self.max_slant < 1:
            raise ValueError(f"max_slant must be in [0, 1), got {self.max_slant}")
        narrowest, widest = self.aspect_range
        if not 0 < narrowest <= widest:
            raise ValueError(f"aspect_range needs 0 < narrowest <= widest, got {self.aspect_range}")
        if self.warp < 0:
            raise ValueError(f"warp must be >= 0 px, got {self.warp}")
        for name in ("stroke_change_probability", "reshape_probability", "mark_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


def augment(
    pixels: bytes,
    rng: random.Random,
    settings: AugmentSettings = AugmentSettings(),
    label: int | None = None,
) -> bytes:
    """Return a shifted, rotated, scaled (maybe marked, reshaped, re-stroked, warped) digit.

    Parameters are drawn from rng within settings, then applied by transform in one
    resampling; the same rng state always gives the same output. label (0..9), when given, lets
    a 0, 1 or 7 get its style mark and keeps unnarrowed_digits from being narrowed.
    """
    # Drawn only when enabled, so settings without marks keep older seeds' results.
    marking = settings.mark_probability and label in MARKED_DIGITS
    if marking and rng.random() < settings.mark_probability:
        pixels = add_style_mark(pixels, label, rng)
    rotation_degrees = rng.uniform(-settings.max_rotation, settings.max_rotation)
    scale = rng.uniform(*settings.scale_range)
    shift_x = rng.uniform(-settings.max_shift, settings.max_shift)
    shift_y = rng.uniform(-settings.max_shift, settings.max_shift)
    stroke_change = 0.0
    # The extra draws happen only when enabled, so turning strokes off keeps old seeds' results.
    if settings.stroke_change_probability and rng.random() < settings.stroke_change_probability:
        stroke_change = STROKE_BLEND if rng.random() < 0.5 else -STROKE_BLEND
    corner_moves = None
    if settings.warp:
        corner_moves = [
            (rng.gauss(0.0, settings.warp), rng.gauss(0.0, settings.warp))
            for _ in range(WARP_CORNERS)
        ]
    # Drawn only when enabled, like the stroke change, so older settings keep their results.
    reshaping = settings.max_slant or settings.aspect_range != (1.0, 1.0)
    if reshaping and settings.reshape_probability < 1:
        reshaping = rng.random() < settings.reshape_probability
    slant = aspect = 0.0
    if reshaping and settings.max_slant:
        slant = rng.uniform(-settings.max_slant, settings.max_slant)
    if reshaping and settings.aspect_range != (1.0, 1.0):
        # Uniform in log(aspect): halving the width is as likely as doubling it.
        narrowest, widest = settings.aspect_range
        if label in settings.unnarrowed_digits:
            narrowest = max(narrowest, 1.0)
            widest = max(widest, narrowest)
        aspect = rng.uniform(math.log(narrowest), math.log(widest))
    return transform(
        pixels,
        rotation_degrees,
        scale,
        shift_x,
        shift_y,
        stroke_change,
        corner_moves,
        slant,
        math.exp(aspect),
    )


def add_style_mark(pixels: bytes, label: int, rng: random.Random) -> bytes:
    """Return the 784-byte digit with its style mark drawn on: a 0's slash, a 1's flag, a 7's bar.

    The mark is placed on the digit's own strokes (pixels >= MARK_INK_LEVEL): a flag leaves the
    top of the 1 down-left (sometimes with a base under its foot), a slash joins the 0's box's
    lower left and upper right, a bar crosses the 7's stem. Other labels, and digits with too
    little ink to place a mark on, come back unchanged.
    """
    if len(pixels) != PIXEL_COUNT:
        raise ValueError(f"expected {PIXEL_COUNT} pixel bytes, got {len(pixels)}")
    rows = [
        [x for x in range(FRAME_SIZE) if pixels[y * FRAME_SIZE + x] >= MARK_INK_LEVEL]
        for y in range(FRAME_SIZE)
    ]
    inked = [y for y in range(FRAME_SIZE) if rows[y]]
    if len(inked) < 2 or label not in MARKED_DIGITS:
        return pixels
    top, bottom = inked[0], inked[-1] + 1
    height = bottom - top
    pen = rng.uniform(*MARK_PEN_RANGE)
    if label == 1:
        top_x = sum(rows[top]) / len(rows[top]) + 0.5
        length = height * rng.uniform(*FLAG_LENGTH_RANGE)
        angle = math.radians(rng.uniform(*FLAG_ANGLE_RANGE_DEGREES))
        start = (top_x, top + pen / 2)
        end = (start[0] - length * math.cos(angle), start[1] + length * math.sin(angle))
        lines = [(start, end)]
        if rng.random() < BASE_PROBABILITY:
            foot_x = sum(rows[bottom - 1]) / len(rows[bottom - 1]) + 0.5
            half_width = height * rng.uniform(*BASE_HALF_WIDTH_RANGE)
            foot_y = bottom - pen / 2
            lines.append(((foot_x - half_width, foot_y), (foot_x + half_width, foot_y)))
    elif label == 0:
        left = min(row[0] for row in rows if row)
        right = max(row[-1] for row in rows if row) + 1
        width = right - left
        inset_x, inset_y = rng.uniform(*SLASH_INSET_RANGE), rng.uniform(*SLASH_INSET_RANGE)
        lines = [
            (
                (left + inset_x * width, bottom - inset_y * height),
                (right - inset_x * width, top + inset_y * height),
            )
        ]
    else:
        bar_y = top + int(height * rng.uniform(*BAR_HEIGHT_RANGE))
        if not rows[bar_y]:
            return pixels
        stem_x = sum(rows[bar_y]) / len(rows[bar_y]) + 0.5
        half_width = height * rng.uniform(*BAR_HALF_WIDTH_RANGE)
        lines = [((stem_x - half_width, bar_y + 0.5), (stem_x + half_width, bar_y + 0.5))]
    return _draw_marks(pixels, lines, pen)


def _draw_marks(
    pixels: bytes, lines: Sequence[tuple[tuple[float, float], tuple[float, float]]], pen: float
) -> bytes:
    """Return the digit with round-capped lines (frame px, pen px wide) drawn over it in white."""
    size = FRAME_SIZE * MARK_SUPERSAMPLING
    marks = Image.new("L", (size, size))
    draw = ImageDraw.Draw(marks)
    radius = pen * MARK_SUPERSAMPLING / 2
    for line in lines:
        points = [(x * MARK_SUPERSAMPLING, y * MARK_SUPERSAMPLING) for x, y in line]
        draw.line(points, fill=255, width=round(2 * radius))
        for x, y in points:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    image = Image.new("L", (FRAME_SIZE, FRAME_SIZE))
    image.frombytes(pixels)
    return ImageChops.lighter(image, marks.reduce(MARK_SUPERSAMPLING)).tobytes()


def transform(
    pixels: bytes,
    rotation_degrees: float = 0.0,
    scale: float = 1.0,
    shift_x: float = 0.0,
    shift_y: float = 0.0,
    stroke_change: float = 0.0,
    corner_moves: Sequence[tuple[float, float]] | None = None,
    slant: float = 0.0,
    aspect: float = 1.0,
) -> bytes:
    """Return a 784-byte digit reshaped, rotated, scaled about (14, 14), then shifted (bilinear).

    aspect < 1 narrows the digit, > 1 widens it, its ink's longer side kept as long; slant moves
    each row right by slant px per px above the centre (a right-leaning hand); then
    rotation_degrees turns the digit counter-clockwise as seen on screen; scale > 1 enlarges it;
    shift_x / shift_y move it right / down in px. stroke_change in [-1, 1] is applied first:
    positive blends in that fraction of a 3×3 max filter (bolder stroke), negative that fraction
    of the squared levels (thinner stroke: grey edges darken, the 255 core stays). Ink moved
    outside the frame is lost; uncovered pixels become 0. corner_moves, if given, holds one
    (dx, dy) in px for each of the (WARP_CELLS + 1)² corners of the warp grid, row by row: the
    output pixel at that corner is read from that far away in the source, and the pixels in
    between from the bilinear blend of their cell's corners. All defaults return pixels unchanged.
    """
    if len(pixels) != PIXEL_COUNT:
        raise ValueError(f"expected {PIXEL_COUNT} pixel bytes, got {len(pixels)}")
    if scale <= 0 or aspect <= 0:
        raise ValueError(f"scale and aspect must be > 0, got {scale} and {aspect}")
    if not -1 <= stroke_change <= 1:
        raise ValueError(f"stroke_change must be in [-1, 1], got {stroke_change}")
    if corner_moves is not None and len(corner_moves) != WARP_CORNERS:
        raise ValueError(f"expected {WARP_CORNERS} corner moves, got {len(corner_moves)}")
    # Image.new + frombytes costs about half of Image.frombytes, which matters per sample.
    image = Image.new("L", (FRAME_SIZE, FRAME_SIZE))
    image.frombytes(pixels)
    if stroke_change:
        image = _change_stroke(image, stroke_change)
    width_factor = height_factor = 1.0
    ink_box = image.getbbox() if aspect != 1 else None
    if ink_box is not None:
        width, height = ink_box[2] - ink_box[0], ink_box[3] - ink_box[1]
        height_factor = max(width, height) / max(width * aspect, height)
        width_factor = aspect * height_factor
    inverse_map = _inverse_affine(
        rotation_degrees, scale, shift_x, shift_y, slant, (width_factor, height_factor)
    )
    if corner_moves is None:
        method, data = Image.Transform.AFFINE, inverse_map
    else:
        method, data = Image.Transform.MESH, _warp_mesh(inverse_map, corner_moves)
    return image.transform(image.size, method, data, resample=Image.Resampling.BILINEAR).tobytes()


def _change_stroke(image: Image.Image, stroke_change: float) -> Image.Image:
    """Return the 28×28 image with bolder (stroke_change > 0) or thinner (< 0) strokes.

    Thinning squares the levels (v · v / 255) rather than using a 3×3 min filter, which would
    erase a 2-px stroke outright; darkening only the grey edge pixels narrows the stroke while
    its core keeps the 255 peak every MNIST digit has.
    """
    if stroke_change > 0:
        altered = image.filter(ImageFilter.MaxFilter(STROKE_FILTER_SIZE))
    else:
        altered = ImageChops.multiply(image, image)
    return Image.blend(image, altered, abs(stroke_change))


def _warp_mesh(
    inverse_map: tuple[float, float, float, float, float, float],
    corner_moves: Sequence[tuple[float, float]],
) -> list[tuple[tuple[int, int, int, int], tuple[float, ...]]]:
    """Return Pillow's MESH data: each grid cell's box and the source quad of its corners.

    A corner's source point is where the affine map sends it, moved by its corner_moves entry.
    """
    a, b, c, d, e, f = inverse_map
    sources = []
    for row in range(WARP_CELLS + 1):
        for column in range(WARP_CELLS + 1):
            x, y = column * WARP_CELL_SIZE, row * WARP_CELL_SIZE
            move_x, move_y = corner_moves[row * (WARP_CELLS + 1) + column]
            sources.append((a * x + b * y + c + move_x, d * x + e * y + f + move_y))
    mesh = []
    for row in range(WARP_CELLS):
        for column in range(WARP_CELLS):
            top_left = row * (WARP_CELLS + 1) + column
            bottom_left = top_left + WARP_CELLS + 1
            # Pillow's quad order: upper left, lower left, lower right, upper right.
            quad = (
                *sources[top_left],
                *sources[bottom_left],
                *sources[bottom_left + 1],
                *sources[top_left + 1],
            )
            left, top = column * WARP_CELL_SIZE, row * WARP_CELL_SIZE
            mesh.append(((left, top, left + WARP_CELL_SIZE, top + WARP_CELL_SIZE), quad))
    return mesh


def _inverse_affine(
    rotation_degrees: float,
    scale: float,
    shift_x: float,
    shift_y: float,
    slant: float = 0.0,
    stretch: tuple[float, float] = (1.0, 1.0),
) -> tuple[float, float, float, float, float, float]:
    """Return Pillow's AFFINE data (a, b, c, d, e, f), mapping each output pixel to its source.

    The forward map is out = centre + shift + scale · R · K · A · (in − centre), where A scales x
    and y by the two factors of stretch, K is the shear x += −slant · y (y is negative
    above the centre, so the top moves right), and R turns counter-clockwise on a y-down screen.
    Pillow needs its inverse, in = centre + A⁻¹ · K⁻¹ · R⁻¹ · (out − centre − shift) / scale.
    """
    angle = math.radians(rotation_degrees)
    # R⁻¹ / scale, row by row.
    r11, r12 = math.cos(angle) / scale, -math.sin(angle) / scale
    r21, r22 = math.sin(angle) / scale, math.cos(angle) / scale
    # K⁻¹ adds slant · y back to x.
    k11, k12 = r11 + slant * r21, r12 + slant * r22
    width_factor, height_factor = stretch
    a, b = k11 / width_factor, k12 / width_factor
    d, e = r21 / height_factor, r22 / height_factor
    source_x = FRAME_CENTRE + shift_x
    source_y = FRAME_CENTRE + shift_y
    c = FRAME_CENTRE - a * source_x - b * source_y
    f = FRAME_CENTRE - d * source_x - e * source_y
    return (a, b, c, d, e, f)
