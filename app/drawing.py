"""The drawing the person makes, kept as strokes and rendered into an off-screen Pillow image.

Strokes are recorded in logical canvas coordinates (0..CANVAS_SIZE, independent of screen
scaling) and drawn as they grow into a supersampled "L" image: dark ink on white paper. The
image the network reads is that supersampled image box-averaged down to CANVAS_SIZE², so every
output pixel is the fraction of its area the pen covered: exact anti-aliasing, the way MNIST's
bilevel scans were anti-aliased. Pillow's own line drawing has hard edges, which is why it
draws at SUPERSAMPLING times the size. The canvas on screen shows this same image, so the person
sees exactly what is classified.

Erasing is drawing with paper colour, so an erase stroke is undone like any other stroke.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

CANVAS_SIZE = 280
SUPERSAMPLING = 4
PAPER_LEVEL = 255
INK_LEVEL = 0
DEFAULT_BRUSH_WIDTH = 20.0
MIN_BRUSH_WIDTH = 6.0
MAX_BRUSH_WIDTH = 40.0
# Pointer moves shorter than this (logical px) add nothing visible and only slow the redraw.
MIN_SEGMENT_LENGTH = 0.75
# Supersampled pixels added around a drawn shape's geometric extent before reducing it: Pillow
# may fill a pixel or so beyond it where it rounds the outline to whole pixels.
STALE_MARGIN = 2

Point = tuple[float, float]
Box = tuple[int, int, int, int]


@dataclass
class Stroke:
    """One press-drag-release of the pen (or of the eraser), in logical coordinates."""

    width: float
    erase: bool
    points: list[Point] = field(default_factory=list)


class Drawing:
    """Keep the strokes of one drawing and the supersampled image they render to."""

    def __init__(self, size: int = CANVAS_SIZE, supersampling: int = SUPERSAMPLING) -> None:
        self.size = size
        self.supersampling = supersampling
        self.strokes: list[Stroke] = []
        self._hires = Image.new("L", (size * supersampling, size * supersampling), PAPER_LEVEL)
        self._pen = ImageDraw.Draw(self._hires)
        self._image: Image.Image | None = None
        # The supersampled box drawn on since self._image was made (None: all of it is new).
        self._stale: Box | None = None
        self.version = 0

    def begin_stroke(self, point: Point, width: float, erase: bool = False) -> Stroke:
        """Start a stroke at point: a round dot of the given width (logical px)."""
        stroke = Stroke(clamp_brush_width(width), erase, [point])
        self.strokes.append(stroke)
        self._draw_dot(stroke, point)
        self._changed()
        return stroke

    def extend_stroke(self, point: Point) -> bool:
        """Continue the current stroke to point; return False if the move was too short to draw."""
        if not self.strokes:
            raise RuntimeError("extend_stroke needs begin_stroke first")
        stroke = self.strokes[-1]
        last = stroke.points[-1]
        if math.dist(last, point) < MIN_SEGMENT_LENGTH:
            return False
        stroke.points.append(point)
        self._draw_segment(stroke, last, point)
        self._changed()
        return True

    def undo(self) -> bool:
        """Remove the last stroke; return False if there was none."""
        if not self.strokes:
            return False
        self.strokes.pop()
        self._render_all()
        return True

    def clear(self) -> bool:
        """Remove every stroke; return False if the drawing was already blank."""
        if not self.strokes:
            return False
        self.strokes.clear()
        self._render_all()
        return True

    def image(self) -> Image.Image:
        """Return the CANVAS_SIZE² anti-aliased "L" image of the drawing (do not modify it)."""
        if self._image is None:
            self._image = self._hires.reduce(self.supersampling)
        elif self._stale is not None:
            # Reduce only the box the pen drew on since: a pen move changes a few hundred of
            # the 78,400 pixels. A copy, because whoever holds the last image keeps it as it was.
            left, top = self._stale[0], self._stale[1]
            factor = self.supersampling
            image = self._image.copy()
            image.paste(self._hires.reduce(factor, self._stale), (left // factor, top // factor))
            self._image = image
        self._stale = None
        return self._image

    def display_image(self, side: int) -> Image.Image:
        """Return the drawing as a side² "L" image for a canvas of that many physical pixels."""
        if side == self.size:
            return self.image()
        return self._hires.resize((side, side), Image.Resampling.BOX)

    def _changed(self) -> None:
        """Bump the version the views compare against (the image is brought up to date lazily)."""
        self.version += 1

    def _render_all(self) -> None:
        """Redraw every stroke from scratch (after undo or clear)."""
        self._pen.rectangle((0, 0, *self._hires.size), fill=PAPER_LEVEL)
        for stroke in self.strokes:
            self._draw_dot(stroke, stroke.points[0])
            for start, end in zip(stroke.points, stroke.points[1:]):
                self._draw_segment(stroke, start, end)
        self._image = None
        self._changed()

    def _mark_stale(self, start: Point, end: Point, reach: float) -> None:
        """Add to the stale box the pixels within reach of the supersampled segment start–end.

        The box grows by a margin for Pillow's rounding and out to whole output pixels, so
        reducing just that box gives exactly what reducing the whole image would.
        """
        factor = self.supersampling
        reach += STALE_MARGIN
        left = max(0, math.floor((min(start[0], end[0]) - reach) / factor) * factor)
        top = max(0, math.floor((min(start[1], end[1]) - reach) / factor) * factor)
        right = min(self._hires.width, math.ceil((max(start[0], end[0]) + reach) / factor) * factor)
        bottom = min(
            self._hires.height, math.ceil((max(start[1], end[1]) + reach) / factor) * factor
        )
        if right <= left or bottom <= top:
            return  # drawn entirely off the image
        if self._stale is not None:
            left, top = min(left, self._stale[0]), min(top, self._stale[1])
            right, bottom = max(right, self._stale[2]), max(bottom, self._stale[3])
        self._stale = (left, top, right, bottom)

    def _draw_dot(self, stroke: Stroke, point: Point) -> None:
        """Draw a round pen tip at point; it is the cap and the joint of the segments."""
        # Pillow's ellipse box includes its right and bottom pixels, hence the half-pixel trim.
        radius = stroke.width * self.supersampling / 2 - 0.5
        x, y = self._scaled(point)
        self._pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=_level(stroke))
        self._mark_stale((x, y), (x, y), radius)

    def _draw_segment(self, stroke: Stroke, start: Point, end: Point) -> None:
        """Draw one straight piece of a stroke with a round tip at its end."""
        width = max(1, round(stroke.width * self.supersampling))
        ends = (self._scaled(start), self._scaled(end))
        self._pen.line(ends, fill=_level(stroke), width=width)
        self._mark_stale(*ends, width / 2)
        self._draw_dot(stroke, end)

    def _scaled(self, point: Point) -> Point:
        """Return a logical point in Pillow's supersampled coordinates.

        Logical (x, y) is a position on a continuous plane where pixel i spans [i, i + 1);
        Pillow puts coordinate i at the centre of pixel i, hence the half-pixel shift that keeps
        strokes symmetric around the point.
        """
        return (
            point[0] * self.supersampling - 0.5,
            point[1] * self.supersampling - 0.5,
        )


def clamp_brush_width(width: float) -> float:
    """Return width limited to the brush range [MIN_BRUSH_WIDTH, MAX_BRUSH_WIDTH]."""
    return min(max(width, MIN_BRUSH_WIDTH), MAX_BRUSH_WIDTH)


def _level(stroke: Stroke) -> int:
    """Return the grey level a stroke paints with: ink, or paper for the eraser."""
    return PAPER_LEVEL if stroke.erase else INK_LEVEL
