"""Small reusable widgets: tooltips, probability bars, a magnified pixel view, activation grids.

The views draw their pictures with Pillow and hand Tk one finished image per update, so a live
update costs one image paste instead of hundreds of canvas item changes (`PatchedPhoto` pastes
only the box that changed, for a big picture that changes a little at a time). Sizes are
logical pixels multiplied by the `scale` the caller passes (the screen's HiDPI factor).
"""

from __future__ import annotations

import math
import tkinter as tk
from collections.abc import Sequence

from PIL import Image, ImageChops, ImageDraw, ImageTk

TOOLTIP_DELAY_MS = 500
REFERENCE_DPI = 96
# In inches so the wrap width grows with the screen's dots per inch.
TOOLTIP_WRAP = "3.5i"
TOOLTIP_BACKGROUND = "#ffffe6"
PANEL_BACKGROUND = "#ffffff"
DARK_BACKGROUND = "#15181d"
# Behind magnified images: the black of an MNIST background, so a small image has no seam.
PIXEL_BACKGROUND = "#000000"
GRID_LINE = (58, 64, 74)
CENTRE_MARK = (230, 70, 60)
BAR_TRACK = "#e8ebf0"
BAR_FILL = "#9db4d8"
BAR_HIGHLIGHT = "#2f6fdd"
TEXT_COLOUR = "#1f2328"
MUTED_TEXT = "#6b7280"
NEGATIVE_TINT = (80, 140, 230)
INFERNO = [(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)]
MIN_GRID_MAGNIFICATION = 4
MAX_ACTIVATION_CELL = 26
ACTIVATION_CELL_GAP = 1


class Tooltip:
    """Show a short help text next to a widget while the pointer rests on it."""

    def __init__(self, widget: tk.Widget, text: str) -> None:
        self.widget = widget
        self.text = text
        self._pending: str | None = None
        self._window: tk.Toplevel | None = None
        widget.bind("<Enter>", self._on_enter, add="+")
        widget.bind("<Leave>", self._on_leave, add="+")
        widget.bind("<ButtonPress>", self._on_leave, add="+")
        widget.bind("<Destroy>", self._on_leave, add="+")

    def _on_enter(self, _event: tk.Event) -> None:
        """Schedule the tooltip to appear after a short rest of the pointer."""
        self._cancel()
        self._pending = self.widget.after(TOOLTIP_DELAY_MS, self._show)

    def _on_leave(self, _event: tk.Event) -> None:
        """Hide the tooltip, or stop it from appearing."""
        self._cancel()
        self._hide()

    def _show(self) -> None:
        """Open the borderless tooltip window just below the widget."""
        self._pending = None
        window = tk.Toplevel(self.widget)
        window.wm_overrideredirect(True)
        label = tk.Label(
            window,
            text=self.text,
            justify="left",
            background=TOOLTIP_BACKGROUND,
            foreground=TEXT_COLOUR,
            relief="solid",
            borderwidth=1,
            padx=6,
            pady=3,
            wraplength=TOOLTIP_WRAP,
        )
        label.pack()
        x = self.widget.winfo_rootx() + 8
        y = self.widget.winfo_rooty() + self.widget.winfo_height() + 4
        window.wm_geometry(f"+{x}+{y}")
        self._window = window

    def _hide(self) -> None:
        """Destroy the tooltip window if it is open."""
        if self._window is not None:
            self._window.destroy()
            self._window = None

    def _cancel(self) -> None:
        """Cancel a tooltip that is waiting to appear."""
        if self._pending is not None:
            self.widget.after_cancel(self._pending)
            self._pending = None


class PatchedPhoto:
    """Hold a Tk photo image that takes each new picture by copying in only what changed.

    Pasting a whole picture makes Tk convert and redisplay every pixel of it; a pen move
    changes a few hundred of the drawing canvas's 78,400, so copying just their box costs a
    third as much (0.15 instead of 0.45 ms for 280×280) and the X server redraws only that box.
    """

    def __init__(self, picture: Image.Image) -> None:
        self.photo = ImageTk.PhotoImage(picture)
        # Pillow pastes only at a photo's top-left corner, so a changed box goes here first
        # and Tk copies it into place.
        self._patch = ImageTk.PhotoImage(picture)
        self._shown = picture

    def show(self, picture: Image.Image) -> None:
        """Show picture (the first one's size and mode; it must not change afterwards)."""
        box = ImageChops.difference(picture, self._shown).getbbox()
        self._shown = picture
        if box is None:
            return
        left, top, right, bottom = box
        self._patch.paste(picture.crop(box))
        region = ("-from", 0, 0, right - left, bottom - top, "-to", left, top)
        self.photo.tk.call(self.photo, "copy", self._patch, *region, "-compositingrule", "set")


class ProbabilityBars(tk.Canvas):
    """Draw one horizontal bar per digit, its length the probability, the top one highlighted."""

    def __init__(self, master: tk.Misc, scale: float = 1.0, width: int = 240) -> None:
        self.row_height = round(24 * scale)
        self.label_width = round(22 * scale)
        self.value_width = round(64 * scale)
        super().__init__(
            master,
            width=round(width * scale),
            height=self.row_height * 10,
            background=PANEL_BACKGROUND,
            highlightthickness=0,
        )
        self._probabilities: Sequence[float] | None = None
        self._bars: list[int] = []
        self._values: list[int] = []
        self._tracks: list[int] = []
        self._track_right = 0  # where the tracks are laid out to end; 0 before the first show
        for digit in range(10):
            self._build_row(digit)
        self.bind("<Configure>", self._on_resize)

    def _build_row(self, digit: int) -> None:
        """Create the label, track, bar and percentage items of one digit's row."""
        top = digit * self.row_height
        middle = top + self.row_height / 2
        self.create_text(
            self.label_width / 2, middle, text=str(digit), fill=TEXT_COLOUR, font="TkHeadingFont"
        )
        self._tracks.append(self.create_rectangle(0, 0, 0, 0, fill=BAR_TRACK, width=0))
        self._bars.append(self.create_rectangle(0, 0, 0, 0, fill=BAR_FILL, width=0))
        self._values.append(
            self.create_text(0, middle, text="", anchor="e", fill=MUTED_TEXT, font="TkDefaultFont")
        )

    def show(self, probabilities: Sequence[float] | None) -> None:
        """Show ten probabilities (None empties the bars)."""
        self._probabilities = probabilities
        drawn_width = self.winfo_width()
        width = drawn_width if drawn_width > 1 else int(self["width"])  # not yet mapped
        track_right = max(self.label_width + 1, width - self.value_width)
        # Tracks and percentages move only with the width: a reading moves just the bars.
        if track_right != self._track_right:
            self._lay_out_tracks(track_right)
        top_digit = None
        if probabilities is not None:
            top_digit = max(range(10), key=probabilities.__getitem__)
        track_left = self.label_width
        for digit in range(10):
            top, bottom = self._row_span(digit)
            value = 0.0 if probabilities is None else probabilities[digit]
            bar_right = track_left + (track_right - track_left) * value
            self.coords(self._bars[digit], track_left, top, bar_right, bottom)
            self.itemconfigure(
                self._bars[digit], fill=BAR_HIGHLIGHT if digit == top_digit else BAR_FILL
            )
            self.itemconfigure(
                self._values[digit],
                text="" if probabilities is None else f"{value:.1%}",
                fill=TEXT_COLOUR if digit == top_digit else MUTED_TEXT,
            )

    def _lay_out_tracks(self, track_right: int) -> None:
        """Place every row's track and percentage for tracks ending at track_right."""
        self._track_right = track_right
        for digit in range(10):
            top, bottom = self._row_span(digit)
            self.coords(self._tracks[digit], self.label_width, top, track_right, bottom)
            self.coords(self._values[digit], track_right + self.value_width - 4, (top + bottom) / 2)

    def _row_span(self, digit: int) -> tuple[int, int]:
        """Return the top and bottom of digit's track and bar, inset from its row's edges."""
        inset = max(2, self.row_height // 5)
        return digit * self.row_height + inset, (digit + 1) * self.row_height - inset

    def _on_resize(self, _event: tk.Event) -> None:
        """Stretch the bars to the new width."""
        self.show(self._probabilities)


class PixelView(tk.Canvas):
    """Show a small greyscale image magnified with crisp, visible pixels inside a square box."""

    def __init__(
        self,
        master: tk.Misc,
        box: int,
        scale: float = 1.0,
        pixel_grid: bool = True,
        centre_mark: bool = False,
    ) -> None:
        self.box = round(box * scale)
        super().__init__(
            master,
            width=self.box,
            height=self.box,
            background=PIXEL_BACKGROUND,
            highlightthickness=0,
        )
        self.pixel_grid = pixel_grid
        self.centre_mark = centre_mark
        self._photo = ImageTk.PhotoImage(Image.new("RGB", (self.box, self.box), PIXEL_BACKGROUND))
        self._item = self.create_image(self.box // 2, self.box // 2, image=self._photo)

    def show(self, image: Image.Image | None) -> None:
        """Show an "L" image magnified to fit the box (None shows an empty box)."""
        if image is None:
            picture = Image.new("RGB", (self.box, self.box), PIXEL_BACKGROUND)
        else:
            picture = magnified(image, self.box, self.pixel_grid, self.centre_mark)
        if picture.size == (self._photo.width(), self._photo.height()):
            self._photo.paste(picture)
        else:
            self._photo = ImageTk.PhotoImage(picture)
            self.itemconfigure(self._item, image=self._photo)


class ActivationGrid(tk.Canvas):
    """Show the units of one layer as a grid of cells whose brightness is the activation."""

    def __init__(
        self, master: tk.Misc, units: int, width: int, height: int, scale: float = 1.0
    ) -> None:
        self.units = units
        self.columns = grid_columns(units)
        self.rows = math.ceil(units / self.columns)
        # Square cells as large as fit in width × height, within [3, MAX_ACTIVATION_CELL] px.
        fitting = min(round(width * scale) // self.columns, round(height * scale) // self.rows)
        self.cell = max(3, min(round(MAX_ACTIVATION_CELL * scale), fitting))
        super().__init__(
            master,
            width=self.cell * self.columns,
            height=self.cell * self.rows,
            background=DARK_BACKGROUND,
            highlightthickness=0,
        )
        self._photo = ImageTk.PhotoImage(self._render(None))
        self.create_image(0, 0, image=self._photo, anchor="nw")

    def show(self, activations: Sequence[float] | None, full_scale: float | None = None) -> None:
        """Show one activation per unit (None shows every cell dark).

        full_scale is the activation shown at full brightness; None means the layer's largest.
        """
        self._photo.paste(self._render(activations, full_scale))

    def _render(
        self, activations: Sequence[float] | None, full_scale: float | None = None
    ) -> Image.Image:
        """Return the grid picture, each cell's colour its activation / full_scale."""
        colours = [(0, 0, 0)] * (self.rows * self.columns)
        if activations is not None:
            if full_scale is None:
                full_scale = max(map(abs, activations), default=0.0)
            # Colour each distinct value once: most ReLU units are exactly 0 (about 900 of the
            # shipped model's 1024 for a drawn digit), so this is ten times fewer conversions.
            palette = {
                value: activation_colour(value / full_scale if full_scale > 0 else 0.0)
                for value in set(activations)
            }
            colours[: len(activations)] = map(palette.__getitem__, activations)
        small = Image.new("RGB", (self.columns, self.rows))
        small.putdata(colours)
        picture = small.resize(
            (self.columns * self.cell, self.rows * self.cell), Image.Resampling.NEAREST
        )
        draw_grid(picture, self.cell, DARK_BACKGROUND, ACTIVATION_CELL_GAP)
        return picture


def activation_colour(strength: float) -> tuple[int, int, int]:
    """Return a cell colour for an activation scaled to [-1, 1]; 0 is black.

    Positive values climb the "inferno" ramp (black, purple, orange, pale yellow) so brightness
    reads as activation; negative ones (tanh, leaky ReLU) fade to blue instead.
    """
    if strength < 0:
        amount = min(-strength, 1.0)
        return tuple(round(channel * amount) for channel in NEGATIVE_TINT)
    position = min(strength, 1.0) * (len(INFERNO) - 1)
    index = min(int(position), len(INFERNO) - 2)
    fraction = position - index
    low, high = INFERNO[index], INFERNO[index + 1]
    return tuple(round(a + (b - a) * fraction) for a, b in zip(low, high))


def grid_columns(units: int) -> int:
    """Return how many columns lay out units as a grid about twice as wide as it is tall.

    A divisor of units near that shape is preferred, so the grid has no empty cells.
    """
    target = math.sqrt(2 * units)
    divisors = [d for d in range(1, units + 1) if units % d == 0]
    best = min(divisors, key=lambda divisor: abs(divisor - target))
    return best if abs(best - target) <= target / 3 else math.ceil(target)


def magnified(image: Image.Image, box: int, grid: bool, centre_mark: bool = False) -> Image.Image:
    """Return an "L" image as RGB scaled to fit box: whole-number zoom with pixel grid lines.

    An image larger than the box is shrunk smoothly instead (pixels would be sub-pixel anyway).
    The optional centre mark is a small cross at the middle of the image.
    """
    zoom = box // max(image.size)
    if zoom >= 1:
        picture = image.convert("RGB").resize(
            (image.width * zoom, image.height * zoom), Image.Resampling.NEAREST
        )
        if grid and zoom >= MIN_GRID_MAGNIFICATION:
            draw_grid(picture, zoom, GRID_LINE, 1)
    else:
        ratio = box / max(image.size)
        size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
        picture = image.convert("RGB").resize(size, Image.Resampling.BOX)
    if centre_mark:
        draw_centre_mark(picture)
    return picture


def draw_grid(
    picture: Image.Image, step: int, colour: str | tuple[int, int, int], width: int
) -> None:
    """Draw lines every step pixels across picture (in place), separating its cells."""
    pen = ImageDraw.Draw(picture)
    for x in range(0, picture.width, step):
        pen.rectangle((x, 0, x + width - 1, picture.height), fill=colour)
    for y in range(0, picture.height, step):
        pen.rectangle((0, y, picture.width, y + width - 1), fill=colour)


def draw_centre_mark(picture: Image.Image) -> None:
    """Draw a small cross at the centre of picture (in place)."""
    pen = ImageDraw.Draw(picture)
    x, y = picture.width / 2, picture.height / 2
    arm = max(4, picture.width // 28)
    pen.line((x - arm, y, x + arm, y), fill=CENTRE_MARK, width=2)
    pen.line((x, y - arm, x, y + arm), fill=CENTRE_MARK, width=2)


def screen_scale(widget: tk.Misc) -> float:
    """Return the HiDPI factor: 1 on an ordinary 96-dpi screen, 2 on a 192-dpi one.

    Rounded to quarters so a screen reporting 100 dpi does not get a blurry 1.04.
    """
    dots_per_inch = widget.winfo_fpixels("1i")
    return max(1.0, round(dots_per_inch / REFERENCE_DPI * 4) / 4)
