"""What a finished run shows: the confusion matrix and a gallery of test digits.

`ConfusionMatrix` is a 10×10 canvas of counts (rows = true digit, columns = prediction) with
each digit's accuracy at the end of its row; clicking a cell calls back with (true, predicted).
`DigitGallery` shows any number of test images with "true → read as" captions in a scrolling,
zoomable grid, drawing only the rows in view with Pillow into one image. The colour, layout
and selection rules are plain functions.
"""

from __future__ import annotations

import math
import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from tkinter import font as tkfont
from tkinter import ttk

from PIL import Image, ImageDraw, ImageFont, ImageTk

from app.plot import pillow_font
from app.widgets import MUTED_TEXT, PANEL_BACKGROUND, TEXT_COLOUR
from engine.mnist import DIGIT_CLASSES, IMAGE_COLUMNS, IMAGE_ROWS

CELL_WIDTH = 32
CELL_HEIGHT = 20
LABEL_SPACE = 22
ACCURACY_SPACE = 46
CAPTION_SPACE = 16
LIGHT_TEXT = "#ffffff"
EMPTY_CELL = (246, 247, 249)
CORRECT_FULL = (47, 111, 221)
WRONG_FULL = (214, 69, 65)
SELECTED_OUTLINE = "#1f2328"
# Off-diagonal cells reach full red at this share of their row: mistakes are rarely more.
WRONG_FULL_SHARE = 0.1
DARK_LUMINANCE = 140
THUMBNAIL_ZOOM = 2
MIN_THUMBNAIL_ZOOM = 1
MAX_THUMBNAIL_ZOOM = 5
ZOOM_IN_KEYS = ("<Control-plus>", "<Control-equal>")
ZOOM_OUT_KEYS = ("<Control-minus>",)
THUMBNAIL_GAP = 6
CAPTION_PX = 12
GALLERY_BACKGROUND = (255, 255, 255)
CAPTION_COLOUR = (31, 35, 40)


def cell_colour(count: int, row_total: int, diagonal: bool) -> tuple[int, int, int]:
    """Return a cell's colour: blue as its row's share for the diagonal, red for mistakes."""
    if count == 0 or row_total == 0:
        return EMPTY_CELL
    share = count / row_total
    strength = share if diagonal else min(1.0, share / WRONG_FULL_SHARE)
    full = CORRECT_FULL if diagonal else WRONG_FULL
    # A faint floor so that a single mistake is still visible.
    strength = 0.12 + 0.88 * strength
    return tuple(round(e + (f - e) * strength) for e, f in zip(EMPTY_CELL, full))


def text_colour(background: tuple[int, int, int]) -> str:
    """Return white on dark backgrounds and near-black on light ones."""
    red, green, blue = background
    luminance = 0.299 * red + 0.587 * green + 0.114 * blue
    return LIGHT_TEXT if luminance < DARK_LUMINANCE else TEXT_COLOUR


def hex_colour(colour: tuple[int, int, int]) -> str:
    """Return an (r, g, b) colour as "#rrggbb" for Tk."""
    return "#{:02x}{:02x}{:02x}".format(*colour)


def cell_indices(
    labels: Sequence[int], predictions: Sequence[int], true: int, predicted: int
) -> list[int]:
    """Return the indices of the images of digit `true` that were read as `predicted`."""
    return [
        index
        for index, (label, guess) in enumerate(zip(labels, predictions))
        if label == true and guess == predicted
    ]


@dataclass(frozen=True)
class GalleryItem:
    """One gallery image: its 784 pixels, its true digit and what the network read."""

    pixels: bytes
    true: int
    predicted: int


class ConfusionMatrix(tk.Canvas):
    """Show a 10×10 confusion matrix; clicking a cell calls on_select(true, predicted)."""

    def __init__(
        self, master: tk.Misc, on_select: Callable[[int, int], None], scale: float = 1.0
    ) -> None:
        self.cell_width = round(CELL_WIDTH * scale)
        self.cell_height = round(CELL_HEIGHT * scale)
        self.left = round(LABEL_SPACE * 1.5 * scale)
        self.top = round(LABEL_SPACE * 1.5 * scale)
        super().__init__(
            master,
            width=self.left + self.cell_width * DIGIT_CLASSES + round(ACCURACY_SPACE * scale),
            height=self.top + self.cell_height * DIGIT_CLASSES + 2,
            background=PANEL_BACKGROUND,
            highlightthickness=0,
        )
        self.on_select = on_select
        self.small_font = tkfont.nametofont("TkSmallCaptionFont")
        self._cells: list[list[int]] = []
        self._counts: list[list[int]] = []
        self._accuracies: list[int] = []
        self._selection = self.create_rectangle(0, 0, 0, 0, outline="", width=2)
        self._build_labels()
        self._build_cells()
        self.tag_raise(self._selection)
        self.bind("<Button-1>", self._on_click)

    def _build_labels(self) -> None:
        """Create the axis captions and the digit labels of rows and columns."""
        grid_right = self.left + self.cell_width * DIGIT_CLASSES
        self.create_text(
            self.left + self.cell_width * 5,
            2,
            text="read as →",
            anchor="n",
            fill=MUTED_TEXT,
            font=self.small_font,
        )
        self.create_text(
            2,
            self.top + self.cell_height * 5,
            text="true",
            anchor="n",
            fill=MUTED_TEXT,
            angle=90,
            font=self.small_font,
        )
        for digit in range(DIGIT_CLASSES):
            across = self.left + (digit + 0.5) * self.cell_width
            down = self.top + (digit + 0.5) * self.cell_height
            self.create_text(across, self.top - 3, text=str(digit), anchor="s")
            self.create_text(self.left - 4, down, text=str(digit), anchor="e")
            self._accuracies.append(
                self.create_text(
                    grid_right + 6,
                    down,
                    text="",
                    anchor="w",
                    fill=MUTED_TEXT,
                    font=self.small_font,
                )
            )

    def _build_cells(self) -> None:
        """Create the 100 cell rectangles and their count texts."""
        for true in range(DIGIT_CLASSES):
            rects, texts = [], []
            for predicted in range(DIGIT_CLASSES):
                x0 = self.left + predicted * self.cell_width
                y0 = self.top + true * self.cell_height
                rects.append(
                    self.create_rectangle(
                        x0,
                        y0,
                        x0 + self.cell_width,
                        y0 + self.cell_height,
                        fill=hex_colour(EMPTY_CELL),
                        outline=PANEL_BACKGROUND,
                    )
                )
                texts.append(
                    self.create_text(
                        x0 + self.cell_width / 2,
                        y0 + self.cell_height / 2,
                        text="",
                        font=self.small_font,
                    )
                )
            self._cells.append(rects)
            self._counts.append(texts)

    def show(self, confusion: list[list[int]] | None) -> None:
        """Show the counts confusion[true][predicted] (None empties the matrix)."""
        self.select(None)
        for true in range(DIGIT_CLASSES):
            row = confusion[true] if confusion is not None else [0] * DIGIT_CLASSES
            total = sum(row)
            for predicted, count in enumerate(row):
                colour = cell_colour(count, total, true == predicted)
                self.itemconfigure(self._cells[true][predicted], fill=hex_colour(colour))
                self.itemconfigure(
                    self._counts[true][predicted],
                    text=str(count) if count else "",
                    fill=text_colour(colour),
                )
            accuracy = f"{row[true] / total:.0%}" if total else ""
            self.itemconfigure(self._accuracies[true], text=accuracy)

    def select(self, cell: tuple[int, int] | None) -> None:
        """Outline the cell (true, predicted), or nothing."""
        if cell is None:
            self.itemconfigure(self._selection, outline="")
            return
        true, predicted = cell
        x0 = self.left + predicted * self.cell_width
        y0 = self.top + true * self.cell_height
        x1, y1 = x0 + self.cell_width, y0 + self.cell_height
        self.coords(self._selection, x0 + 1, y0 + 1, x1 - 1, y1 - 1)
        self.itemconfigure(self._selection, outline=SELECTED_OUTLINE)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """Return the (true, predicted) cell under canvas point (x, y), or None."""
        column = math.floor((x - self.left) / self.cell_width)
        row = math.floor((y - self.top) / self.cell_height)
        if 0 <= row < DIGIT_CLASSES and 0 <= column < DIGIT_CLASSES:
            return row, column
        return None

    def _on_click(self, event: tk.Event) -> None:
        """Select the clicked cell and report it."""
        cell = self.cell_at(event.x, event.y)
        if cell is not None:
            self.select(cell)
            self.on_select(*cell)


class DigitGallery(ttk.Frame):
    """Show test digits with "true → read as" captions in a scrolling grid of any length.

    Only the rows in view are drawn (one Pillow image per scroll or resize), so a cell of
    thousands of digits scrolls as fast as one of ten. Ctrl+wheel (or Ctrl+plus/minus) makes
    the thumbnails larger or smaller.
    """

    def __init__(self, master: tk.Misc, width: int, height: int, scale: float = 1.0) -> None:
        super().__init__(master, style="Inner.TFrame")
        self.scale = scale
        self.zoom = THUMBNAIL_ZOOM
        self.canvas = tk.Canvas(
            self,
            width=round(width * scale),
            height=round(height * scale),
            background=hex_colour(GALLERY_BACKGROUND),
            highlightthickness=0,
            takefocus=True,
        )
        self.scrollbar = ttk.Scrollbar(self, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=self._on_view_change)
        self.canvas.pack(side="left", fill="both", expand=True)
        self.scrollbar.pack(side="right", fill="y")
        self.items: list[GalleryItem] = []
        self.layout = gallery_layout(0, 1, self.zoom, scale)
        self.drawn_rows = (0, 0)
        self.photo: ImageTk.PhotoImage | None = None
        self.image_item = self.canvas.create_image(0, 0, anchor="nw")
        self.canvas.bind("<Configure>", self._on_resize)
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>"):
            self.canvas.bind(sequence, self._on_wheel)
        for sequence in ("<Control-MouseWheel>", "<Control-Button-4>", "<Control-Button-5>"):
            self.canvas.bind(sequence, self._on_zoom_wheel)
        for sequence in ZOOM_IN_KEYS + ZOOM_OUT_KEYS:
            self.canvas.bind(sequence, self._on_zoom_key)
        self.canvas.bind("<Button-1>", lambda _event: self.canvas.focus_set())

    def show(self, items: Sequence[GalleryItem]) -> None:
        """Show every item from the top (an empty sequence clears the gallery)."""
        self.items = list(items)
        self._layout()
        self.canvas.yview_moveto(0.0)
        self._draw_visible()

    def set_zoom(self, zoom: int) -> None:
        """Show the thumbnails at zoom × 28 px (within MIN/MAX_THUMBNAIL_ZOOM), scrolled so the
        digit that was at the top left stays in view."""
        zoom = max(MIN_THUMBNAIL_ZOOM, min(MAX_THUMBNAIL_ZOOM, zoom))
        if zoom == self.zoom:
            return
        first_item = self.layout.first_row(self.canvas.canvasy(0)) * self.layout.columns
        self.zoom = zoom
        self._layout()
        row = first_item // self.layout.columns
        self.canvas.yview_moveto(row * self.layout.cell_height / max(1, self.layout.height))
        self._draw_visible()

    def _layout(self) -> None:
        """Lay the items out for the canvas's width and set the scrolling region."""
        width = max(self.canvas.winfo_width(), int(self.canvas["width"]))
        self.layout = gallery_layout(len(self.items), width, self.zoom, self.scale)
        # One wheel notch scrolls half a row.
        self.canvas.configure(
            scrollregion=(0, 0, width, self.layout.height),
            yscrollincrement=max(1, self.layout.cell_height // 2),
        )
        self.drawn_rows = (0, 0)

    def _draw_visible(self) -> None:
        """Draw the rows in view (and one more) into the canvas's one image."""
        layout = self.layout
        top = self.canvas.canvasy(0)
        bottom = top + max(self.canvas.winfo_height(), int(self.canvas["height"]))
        first, last = layout.first_row(top), min(layout.rows, layout.first_row(bottom) + 1)
        if (first, last) == self.drawn_rows:
            return
        self.drawn_rows = (first, last)
        shown = self.items[first * layout.columns : last * layout.columns]
        picture = gallery_image(shown, layout, self.scale)
        self.photo = ImageTk.PhotoImage(picture)
        self.canvas.itemconfigure(self.image_item, image=self.photo)
        self.canvas.coords(self.image_item, 0, first * layout.cell_height)

    def _on_view_change(self, first: str, last: str) -> None:
        """Move the scroll bar and draw the rows that came into view."""
        self.scrollbar.set(first, last)
        self._draw_visible()

    def _on_resize(self, _event: tk.Event) -> None:
        """Reflow the grid for the new width."""
        self._layout()
        self._draw_visible()

    def _on_wheel(self, event: tk.Event) -> None:
        """Scroll with the mouse wheel (Button-4/5 on X11, MouseWheel elsewhere)."""
        self.canvas.yview_scroll(-1 if wheel_up(event) else 1, "units")

    def _on_zoom_key(self, event: tk.Event) -> None:
        """Make the thumbnails larger (Ctrl+plus) or smaller (Ctrl+minus)."""
        self.set_zoom(self.zoom + (-1 if event.keysym == "minus" else 1))

    def _on_zoom_wheel(self, event: tk.Event) -> None:
        """Make the thumbnails larger (wheel up) or smaller (wheel down)."""
        self.set_zoom(self.zoom + (1 if wheel_up(event) else -1))


def wheel_up(event: tk.Event) -> bool:
    """Return True for a wheel turned up (away from the user) on X11, Windows or macOS."""
    return event.num == 4 or getattr(event, "delta", 0) > 0


@dataclass(frozen=True)
class GalleryLayout:
    """Where a gallery's digits go: `columns` cells of cell_width × cell_height px per row,
    each a `side` px thumbnail over a caption_height px caption, `gap` px apart."""

    count: int
    columns: int
    side: int
    gap: int
    caption_height: int

    @property
    def cell_width(self) -> int:
        """Return the horizontal step between cells, in pixels."""
        return self.side + self.gap

    @property
    def cell_height(self) -> int:
        """Return the vertical step between rows, in pixels."""
        return self.side + self.caption_height + self.gap

    @property
    def rows(self) -> int:
        """Return the number of rows."""
        return math.ceil(self.count / self.columns)

    @property
    def height(self) -> int:
        """Return the height of the whole grid, in pixels."""
        return self.gap + self.rows * self.cell_height

    def first_row(self, y: float) -> int:
        """Return the row at height y (clamped to 0)."""
        return max(0, int(y // self.cell_height))


def gallery_layout(count: int, width: int, zoom: int, scale: float = 1.0) -> GalleryLayout:
    """Return the layout of count thumbnails of zoom × 28 px in rows across width."""
    side = round(IMAGE_COLUMNS * zoom * scale)
    gap = round(THUMBNAIL_GAP * scale)
    columns = max(1, (width - gap) // (side + gap))
    return GalleryLayout(count, columns, side, gap, round(CAPTION_SPACE * scale))


def gallery_image(
    items: Sequence[GalleryItem], layout: GalleryLayout, scale: float = 1.0
) -> Image.Image:
    """Return the items drawn in rows as layout says: magnified digit, caption under it.

    The picture starts at a row's top and is as wide as the layout's columns.
    """
    rows = math.ceil(len(items) / layout.columns)
    width = layout.gap + layout.columns * layout.cell_width
    picture = Image.new("RGB", (width, max(1, rows * layout.cell_height)), GALLERY_BACKGROUND)
    font = pillow_font(round(CAPTION_PX * scale))
    side = layout.side
    # Drawing text is the slow part, and there are at most 100 different captions.
    captions: dict[tuple[int, int], Image.Image] = {}
    for index, item in enumerate(items):
        row, column = divmod(index, layout.columns)
        x, y = layout.gap + column * layout.cell_width, layout.gap + row * layout.cell_height
        digit = Image.frombytes("L", (IMAGE_COLUMNS, IMAGE_ROWS), item.pixels)
        picture.paste(digit.resize((side, side), Image.Resampling.NEAREST), (x, y))
        key = (item.true, item.predicted)
        if key not in captions:
            captions[key] = caption_image(
                f"{item.true} → {item.predicted}", side, layout.caption_height, font
            )
        picture.paste(captions[key], (x, y + side))
    return picture


def caption_image(
    text: str, width: int, height: int, font: ImageFont.ImageFont | ImageFont.FreeTypeFont
) -> Image.Image:
    """Return text centred at the top of a width × height strip of the gallery's background."""
    strip = Image.new("RGB", (width, height), GALLERY_BACKGROUND)
    ImageDraw.Draw(strip).text((width / 2, 2), text, fill=CAPTION_COLOUR, anchor="ma", font=font)
    return strip
