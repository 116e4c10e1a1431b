"""The live loss and accuracy plots: Tk-free maths and layout, drawn on a Tk canvas or to PNG.

A plot is described by a `PlotSpec` (title, axis ranges, series of points). `plot_shapes` lays
it out as a list of plain shapes (lines, dots, rectangles, text) in pixels, using the helpers
for scales, "nice" ticks and smoothing; `PlotCanvas` draws those shapes on a Tk canvas and
`render_image` draws the very same shapes with Pillow for "Export PNG", so the file looks like
the screen. `TrainingCurves` holds one run's points and makes the two specs.
"""

from __future__ import annotations

import math
import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from tkinter import font as tkfont

from PIL import Image, ImageDraw, ImageFont

from app.debounce import Debouncer
from app.training_worker import MAX_LOSS_POINTS, LossPoint
from app.widgets import BAR_HIGHLIGHT, MUTED_TEXT, PANEL_BACKGROUND, TEXT_COLOUR
from engine.train import EpochEnd

PLOT_BACKGROUND = PANEL_BACKGROUND
AXIS_COLOUR = "#9aa3af"
GRID_COLOUR = "#eceff3"
RAW_LOSS_COLOUR = "#c5d5f3"
SMOOTH_LOSS_COLOUR = BAR_HIGHLIGHT
TRAIN_COLOUR = "#e07b28"
TEST_COLOUR = "#23985a"
MAX_TICKS = 6
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
MAX_TICK_DECIMALS = 6
# Margins around the plot area, in logical pixels (multiplied by the screen scale).
MARGIN_LEFT = 50
MARGIN_RIGHT = 14
MARGIN_TOP = 30
MARGIN_BOTTOM = 44
TICK_LENGTH = 4
TITLE_LEFT = 4
LEGEND_SWATCH = 16
LEGEND_GAP = 12
DOT_RADIUS = 3.5
# The smoothed loss follows an exponential average spanning this share of a run's points.
SMOOTHING_SPAN = 0.02
ACCURACY_FLOOR_STEP = 0.1
EXPORT_SUPERSAMPLE = 2
PILLOW_FONT_PX = 13
TK_TO_PILLOW_ANCHOR = {
    "center": "mm",
    "n": "ma",
    "s": "md",
    "e": "rm",
    "w": "lm",
    "ne": "ra",
    "nw": "la",
    "se": "rd",
    "sw": "ld",
}

Measure = Callable[[str], float]


# ----- shapes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A polyline through flat coordinates x0, y0, x1, y1, …"""

    key: str
    coords: tuple[float, ...]
    colour: str
    width: float


@dataclass(frozen=True)
class Dot:
    """A filled circle."""

    key: str
    x: float
    y: float
    radius: float
    colour: str


@dataclass(frozen=True)
class Rect:
    """A rectangle with an outline colour (None for no outline)."""

    key: str
    x0: float
    y0: float
    x1: float
    y1: float
    outline: str | None
    fill: str | None = None


@dataclass(frozen=True)
class Text:
    """A line of text anchored at (x, y) the way Tk anchors it ("n", "sw", "center", …)."""

    key: str
    x: float
    y: float
    text: str
    colour: str
    anchor: str
    bold: bool = False


Shape = Line | Dot | Rect | Text
DATA_KEY_PREFIX = "data:"


# ----- what a plot shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One curve: (x, y) points drawn as a line, optionally with a dot on each point."""

    label: str
    colour: str
    points: tuple[tuple[float, float], ...]
    width: float = 2.0
    dots: bool = False


@dataclass(frozen=True)
class PlotSpec:
    """A whole plot: title, x-axis label, axis ranges and curves (drawn in order).

    With `log_y` the y axis is logarithmic (its range must be positive; values at or below
    zero are drawn at its bottom).
    """

    title: str
    x_label: str
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    series: tuple[Series, ...]
    percent: bool = False
    note: str = ""
    log_y: bool = False


@dataclass(frozen=True)
class LinearScale:
    """Map values of [low, high] linearly onto pixels [start, end], clamping outside values."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        """Return the pixel position of value."""
        span = self.high - self.low
        fraction = 0.0 if span == 0 else (value - self.low) / span
        return self.start + (self.end - self.start) * min(1.0, max(0.0, fraction))


def nice_step(span: float, max_ticks: int) -> float:
    """Return the smallest step of the form 1, 2, 2.5 or 5 × 10^k giving at most max_ticks gaps."""
    if span <= 0:
        return 1.0
    raw = span / max(1, max_ticks)
    power = 10.0 ** math.floor(math.log10(raw))
    return next(step * power for step in NICE_STEPS if step * power >= raw * (1 - 1e-9))


def nice_ticks(low: float, high: float, max_ticks: int = MAX_TICKS) -> list[float]:
    """Return the multiples of a nice step that lie within [low, high], at most max_ticks + 1."""
    step = nice_step(high - low, max_ticks)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(index * step, 12) for index in range(first, last + 1)]


def log_ticks(low: float, high: float) -> list[float]:
    """Return the powers of ten within [low, high] (0 < low < high); 2 and 5 times them too
    when fewer than two powers fall inside."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))

    def ticks(steps: tuple[float, ...]) -> list[float]:
        return [
            float(f"{step * 10.0**power:.12g}")
            for power in range(first, last + 1)
            for step in steps
            if low * (1 - 1e-9) <= step * 10.0**power <= high * (1 + 1e-9)
        ]

    powers = ticks((1.0,))
    return powers if len(powers) >= 2 else ticks((1.0, 2.0, 5.0))


def log_range(values: Sequence[float]) -> tuple[float, float]:
    """Return the whole decades [10^a, 10^b] around the positive values ((0.1, 1) for none)."""
    positive = [value for value in values if value > 0 and math.isfinite(value)]
    if not positive:
        return 0.1, 1.0
    low = 10.0 ** math.floor(math.log10(min(positive)))
    high = 10.0 ** math.ceil(math.log10(max(positive)))
    return (low, high) if high > low else (low, low * 10.0)


def nice_ceiling(value: float, max_ticks: int = MAX_TICKS) -> float:
    """Return the smallest tick of a 0-based axis that is at least value (1.0 for nothing)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    step = nice_step(value, max_ticks)
    return math.ceil(value / step - 1e-9) * step


def format_tick(value: float, step: float, percent: bool = False) -> str:
    """Return a tick label with just the decimals the step needs ("0.25", "1", "80%")."""
    if percent:
        value, step = value * 100, step * 100
    decimals = 0
    while decimals < MAX_TICK_DECIMALS and not _is_whole(step * 10**decimals):
        decimals += 1
    text = f"{value:.{decimals}f}"
    return f"{text}%" if percent else text


def _is_whole(value: float) -> bool:
    """Return True when value is an integer up to floating-point noise."""
    return abs(value - round(value)) < 1e-9


def smoothing_weight(point_count: int) -> float:
    """Return the exponential-average weight whose span is SMOOTHING_SPAN of point_count points."""
    span = max(1.0, SMOOTHING_SPAN * point_count)
    return 1.0 - 1.0 / span


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """Return the bias-corrected exponential moving average of values (0 weight = unchanged).

    Bias correction divides by 1 − weight^n, so the curve starts at the first values instead
    of climbing from zero.
    """
    smoothed = []
    average = 0.0
    correction = 1.0
    for value in values:
        average = weight * average + (1.0 - weight) * value
        correction *= weight
        smoothed.append(average / (1.0 - correction) if correction < 1.0 else value)
    return smoothed


# ----- layout ----------------------------------------------------------------------------------


def plot_shapes(
    spec: PlotSpec, width: float, height: float, measure: Measure, scale: float = 1.0
) -> list[Shape]:
    """Return the shapes that draw spec in a width × height box, sizes multiplied by scale.

    measure(text) gives the width of a text in pixels, so the legend can be laid out.
    """
    left, right = MARGIN_LEFT * scale, width - MARGIN_RIGHT * scale
    top, bottom = MARGIN_TOP * scale, height - MARGIN_BOTTOM * scale
    x_scale = LinearScale(*spec.x_range, left, right)
    y_scale = _y_scale(spec, bottom, top)
    shapes: list[Shape] = [Rect("background", 0, 0, width, height, None, PLOT_BACKGROUND)]
    shapes += _axes(spec, x_scale, y_scale, scale)
    for series in spec.series:
        key = DATA_KEY_PREFIX + series.label
        coords = tuple(value for x, y in series.points for value in (x_scale(x), y_scale(y)))
        if len(coords) >= 4:
            shapes.append(Line(key, coords, series.colour, series.width * scale))
        if series.dots:
            shapes += [
                Dot(f"{key}:{i}", coords[i], coords[i + 1], DOT_RADIUS * scale, series.colour)
                for i in range(0, len(coords), 2)
            ]
    title_y = top - 16 * scale
    # Flush with the canvas's left edge rather than the axis, to leave the legend more room.
    title_x = TITLE_LEFT * scale
    shapes.append(Text("title", title_x, title_y, spec.title, TEXT_COLOUR, "w", bold=True))
    shapes += _legend(spec, right, title_y, measure, scale)
    if spec.note:
        middle = ((left + right) / 2, (top + bottom) / 2)
        shapes.append(Text("note", *middle, spec.note, MUTED_TEXT, "center"))
    return shapes


class LogScale(LinearScale):
    """Map positive values of [low, high] onto pixels [start, end] by their logarithms."""

    def __call__(self, value: float) -> float:
        """Return the pixel position of value (the range's low end for value <= 0)."""
        if value <= 0:
            return self.start
        return super().__call__(math.log10(value))


def _y_scale(spec: PlotSpec, bottom: float, top: float) -> LinearScale:
    """Return the y scale of spec: logarithmic or linear, from bottom up to top."""
    low, high = spec.y_range
    if spec.log_y:
        return LogScale(math.log10(low), math.log10(high), bottom, top)
    return LinearScale(low, high, bottom, top)


def _axes(spec: PlotSpec, x_scale: LinearScale, y_scale: LinearScale, scale: float) -> list[Shape]:
    """Return the grid lines, the axis lines, the ticks and their labels, and the x label."""
    shapes: list[Shape] = []
    tick = TICK_LENGTH * scale
    left, right, top, bottom = x_scale.start, x_scale.end, y_scale.end, y_scale.start
    y_ticks = log_ticks(*spec.y_range) if spec.log_y else nice_ticks(*spec.y_range)
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
    for index, value in enumerate(y_ticks):
        y = y_scale(value)
        shapes.append(Line(f"y-grid:{index}", (left, y, right, y), GRID_COLOUR, scale))
        label = f"{value:g}" if spec.log_y else format_tick(value, y_step, spec.percent)
        x = left - tick - 2 * scale
        shapes.append(Text(f"y-label:{index}", x, y, label, MUTED_TEXT, "e"))
    x_ticks = nice_ticks(*spec.x_range)
    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
    for index, value in enumerate(x_ticks):
        x = x_scale(value)
        shapes.append(Line(f"x-tick:{index}", (x, bottom, x, bottom + tick), AXIS_COLOUR, scale))
        label = format_tick(value, x_step)
        y = bottom + tick + 2 * scale
        shapes.append(Text(f"x-label:{index}", x, y, label, MUTED_TEXT, "n"))
    axes = (left, top, left, bottom, right, bottom)
    shapes.append(Line("axes", axes, AXIS_COLOUR, scale))
    x_title = ((left + right) / 2, bottom + 42 * scale)
    shapes.append(Text("x-title", *x_title, spec.x_label, MUTED_TEXT, "s"))
    return shapes


def _legend(spec: PlotSpec, right: float, y: float, measure: Measure, scale: float) -> list[Shape]:
    """Return the legend, right-aligned at (right, y): a colour swatch and label per series."""
    shapes: list[Shape] = []
    x = right
    for series in reversed(spec.series):
        key = f"legend:{series.label}"
        x -= measure(series.label)
        shapes.append(Text(key, x, y, series.label, MUTED_TEXT, "w"))
        x -= 4 * scale + LEGEND_SWATCH * scale
        swatch = (x, y, x + LEGEND_SWATCH * scale, y)
        width = max(series.width, 2.0) * scale
        shapes.append(Line(f"{key}:swatch", swatch, series.colour, width))
        if series.dots:
            middle = x + LEGEND_SWATCH * scale / 2
            shapes.append(Dot(f"{key}:dot", middle, y, DOT_RADIUS * scale, series.colour))
        x -= LEGEND_GAP * scale
    return shapes


# ----- one run's curves ------------------------------------------------------------------------


@dataclass
class TrainingCurves:
    """Hold the loss points and epoch figures of one run and make the two plots' specs."""

    epochs: int
    batches_per_epoch: int = 1
    points: list[LossPoint] = field(default_factory=list)
    ends: list[EpochEnd] = field(default_factory=list)
    note: str = ""
    ended: bool = False

    def loss_spec(self) -> PlotSpec:
        """Return the loss plot: per-batch loss (raw and smoothed) and per-epoch losses."""
        raw = tuple((point.epoch_position, point.loss) for point in self.points)
        expected = min(MAX_LOSS_POINTS, self.epochs * self.batches_per_epoch)
        smoothed = smooth([loss for _, loss in raw], smoothing_weight(expected))
        smooth_points = tuple((x, y) for (x, _), y in zip(raw, smoothed))
        train_points = tuple((end.epoch, end.train_loss) for end in self.ends)
        test_points = tuple(
            (end.epoch, end.test_loss) for end in self.ends if end.test_loss is not None
        )
        top = max([*smoothed, *(y for _, y in train_points + test_points)], default=0.0)
        series = (
            Series("batch", RAW_LOSS_COLOUR, raw, width=1.0),
            Series("smoothed", SMOOTH_LOSS_COLOUR, smooth_points),
            Series("epoch train", TRAIN_COLOUR, train_points, dots=True),
            Series("epoch test", TEST_COLOUR, test_points, dots=True),
        )
        return PlotSpec(
            "Loss",
            "epoch",
            (0.0, float(self.epochs)),
            (0.0, nice_ceiling(top * 1.05)),
            series,
            note=self.note if not raw else "",
        )

    def accuracy_spec(self) -> PlotSpec:
        """Return the accuracy plot: train and test accuracy after each epoch, in percent."""
        train_points = tuple((end.epoch, end.train_accuracy) for end in self.ends)
        test_points = tuple(
            (end.epoch, end.test_accuracy) for end in self.ends if end.test_accuracy is not None
        )
        lowest = min((y for _, y in train_points + test_points), default=0.0)
        floor = math.floor((lowest - 0.02) / ACCURACY_FLOOR_STEP + 1e-9) * ACCURACY_FLOOR_STEP
        series = (
            Series("train", TRAIN_COLOUR, train_points, dots=True),
            Series("test", TEST_COLOUR, test_points, dots=True),
        )
        if self.ends:
            note = ""
        elif self.ended:
            note = "no epoch was completed"
        elif self.points:
            note = "shown after each epoch"
        else:
            note = self.note
        return PlotSpec(
            "Accuracy",
            "epoch",
            (0.0, float(self.epochs)),
            (max(0.0, floor), 1.0),
            series,
            percent=True,
            note=note,
        )


# ----- drawing ---------------------------------------------------------------------------------


class PlotCanvas(tk.Canvas):
    """Draw a PlotSpec on a Tk canvas, changing only the items whose shape changed.

    Every Tk call lets the training thread take the GIL, and getting it back can take a switch
    interval (5 ms), so a redraw that only moves the growing curves is much cheaper than one
    that recreates all the axes, ticks and labels.
    """

    def __init__(self, master: tk.Misc, width: int, height: int, scale: float = 1.0) -> None:
        super().__init__(
            master,
            width=round(width * scale),
            height=round(height * scale),
            background=PLOT_BACKGROUND,
            highlightthickness=0,
        )
        self.scale = scale
        self.spec: PlotSpec | None = None
        self._font = tkfont.nametofont("TkDefaultFont")
        self._bold = tkfont.nametofont("TkHeadingFont")
        self._items: dict[str, tuple[int, Shape]] = {}
        self._text_widths: dict[str, float] = {}
        self._size: tuple[int, int] | None = None
        # Dragging a pane or the window's edge sends a burst of <Configure>: lay out once.
        self.relayout = Debouncer(self, self._on_resized)
        self.bind("<Configure>", self.relayout.trigger)

    def show(self, spec: PlotSpec) -> None:
        """Draw spec in place of what was drawn."""
        self.spec = spec
        width, height = self._size = self.drawn_size()
        shapes = plot_shapes(spec, width, height, self._measure, self.scale)
        created = False
        for shape in shapes:
            known = self._items.get(shape.key)
            if known is not None and known[1] == shape:
                continue
            kind, coords, options = self._item(shape)
            if known is not None and type(known[1]) is type(shape):
                self.coords(known[0], *coords)
                self.itemconfigure(known[0], **options)
                item = known[0]
            else:
                if known is not None:
                    self.delete(known[0])
                tag = "data" if shape.key.startswith(DATA_KEY_PREFIX) else "frame"
                create = {
                    "line": self.create_line,
                    "oval": self.create_oval,
                    "rectangle": self.create_rectangle,
                    "text": self.create_text,
                }[kind]
                item = create(*coords, **options, tags=tag)
                created = True
            self._items[shape.key] = (item, shape)
        for key in self._items.keys() - {shape.key for shape in shapes}:
            self.delete(self._items.pop(key)[0])
        if created:
            self.tag_raise("data", "frame")

    def drawn_size(self) -> tuple[int, int]:
        """Return the canvas size in pixels (the requested size until it is mapped)."""
        width, height = self.winfo_width(), self.winfo_height()
        if width <= 1:
            return int(self["width"]), int(self["height"])
        return width, height

    def _measure(self, text: str) -> float:
        """Return the width of text in the canvas font, asking Tk once per text."""
        if text not in self._text_widths:
            self._text_widths[text] = self._font.measure(text)
        return self._text_widths[text]

    def _item(self, shape: Shape) -> tuple[str, list[float], dict[str, object]]:
        """Return the canvas item type, coordinates and options that draw a shape."""
        if isinstance(shape, Line):
            options = {"fill": shape.colour, "width": shape.width}
            return (
                "line",
                list(shape.coords),
                {**options, "capstyle": "round", "joinstyle": "round"},
            )
        if isinstance(shape, Dot):
            r = shape.radius
            box = [shape.x - r, shape.y - r, shape.x + r, shape.y + r]
            return "oval", box, {"fill": shape.colour, "outline": PLOT_BACKGROUND}
        if isinstance(shape, Rect):
            options = {
                "outline": shape.outline or "",
                "fill": shape.fill or "",
                "width": 0 if shape.outline is None else 1,
            }
            return "rectangle", [shape.x0, shape.y0, shape.x1, shape.y1], options
        font = self._bold if shape.bold else self._font
        options = {"text": shape.text, "fill": shape.colour, "anchor": shape.anchor, "font": font}
        return "text", [shape.x, shape.y], options

    def _on_resized(self) -> None:
        """Lay the plot out again once the canvas has a new size."""
        if self.spec is not None and self.drawn_size() != self._size:
            self.show(self.spec)


def pillow_font(size: int, bold: bool = False) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Return a Pillow font of about size px: DejaVu Sans when installed, else Pillow's own."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(name, size)
    except OSError:
        return ImageFont.load_default(size)


def render_image(spec: PlotSpec, width: int, height: int, scale: float = 1.0) -> Image.Image:
    """Return the plot drawn with Pillow at width × height, anti-aliased by supersampling."""
    zoom = EXPORT_SUPERSAMPLE
    font = pillow_font(round(PILLOW_FONT_PX * scale * zoom))
    bold = pillow_font(round(PILLOW_FONT_PX * scale * zoom), bold=True)
    image = Image.new("RGB", (width * zoom, height * zoom), PLOT_BACKGROUND)
    pen = ImageDraw.Draw(image)
    for shape in plot_shapes(spec, width * zoom, height * zoom, font.getlength, scale * zoom):
        if isinstance(shape, Line):
            pen.line(shape.coords, fill=shape.colour, width=round(shape.width), joint="curve")
        elif isinstance(shape, Dot):
            r = shape.radius
            pen.ellipse((shape.x - r, shape.y - r, shape.x + r, shape.y + r), fill=shape.colour)
        elif isinstance(shape, Rect):
            box = (shape.x0, shape.y0, shape.x1, shape.y1)
            pen.rectangle(box, outline=shape.outline, fill=shape.fill)
        else:
            pen.text(
                (shape.x, shape.y),
                shape.text,
                fill=shape.colour,
                anchor=TK_TO_PILLOW_ANCHOR[shape.anchor],
                font=bold if shape.bold else font,
            )
    return image.resize((width, height), Image.Resampling.LANCZOS)
