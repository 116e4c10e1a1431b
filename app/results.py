"""What a finished run shows: the confusion matrix and a gallery of test digits.

`ConfusionMatrix` is a 10×10 canvas of counts (rows = true digit, columns = prediction) with
each digit's accuracy at the end of its row; clicking a cell calls back with (true, predicted).
`DigitGallery` shows test images with "true → read as" captions, drawn with Pillow into one
image per update. The colour and selection rules are plain functions.
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
THUMBNAIL_GAP = 6
CAPTION_PX = 12
MAX_GALLERY_IMAGES = 300
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
    """Show test digits with "true → read as" captions in a scrolling grid."""

    def __init__(self, master: tk.Misc, width: int, height: int, scale: float = 1.0) -> None:
        super().__init__(master, style="Inner.TFrame")
        self.scale = scale
        self.canvas = tk.Canvas(
            self,
            width=round(width * scale),
            height=round(height * scale),
            background=hex_colour(GALLERY_BACKGROUND),
            highlightthickness=0,
        )
        scrollbar = ttk.Scrollbar(self, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=scrollbar.set)
        self.canvas.pack(side="left", fill="both", expand=True)
        scrollbar.pack(side="right", fill="y")
        self.items: list[GalleryItem] = []
        self._photo: ImageTk.PhotoImage | None = None
        self._image_item = self.canvas.create_image(0, 0, anchor="nw")
        self.canvas.bind("<Configure>", self._on_resize)
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>"):
            self.canvas.bind(sequence, self._on_wheel)

    def show(self, items: Sequence[GalleryItem]) -> None:
        """Show up to MAX_GALLERY_IMAGES items (an empty sequence clears the gallery)."""
        self.items = list(items[:MAX_GALLERY_IMAGES])
        self._render()
        self.canvas.yview_moveto(0.0)

    def _render(self) -> None:
        """Draw the items for the canvas's current width and set the scrolling region."""
        width = max(self.canvas.winfo_width(), int(self.canvas["width"]))
        picture = gallery_image(self.items, width, self.scale)
        self._photo = ImageTk.PhotoImage(picture)
        self.canvas.itemconfigure(self._image_item, image=self._photo)
        self.canvas.configure(scrollregion=(0, 0, picture.width, picture.height))

    def _on_resize(self, _event: tk.Event) -> None:
        """Reflow the grid for the new width."""
        if self.items:
            self._render()

    def _on_wheel(self, event: tk.Event) -> None:
        """Scroll with the mouse wheel (Button-4/5 on X11, MouseWheel elsewhere)."""
        if event.num == 4 or getattr(event, "delta", 0) > 0:
            self.canvas.yview_scroll(-1, "units")
        else:
            self.canvas.yview_scroll(1, "units")


def gallery_image(items: Sequence[GalleryItem], width: int, scale: float = 1.0) -> Image.Image:
    """Return the items laid out in rows across width: magnified digit, caption under it."""
    side = round(IMAGE_COLUMNS * THUMBNAIL_ZOOM * scale)
    gap = round(THUMBNAIL_GAP * scale)
    caption_height = round(CAPTION_SPACE * scale)
    cell_width, cell_height = side + gap, side + caption_height + gap
    columns = max(1, (width - gap) // cell_width)
    rows = math.ceil(len(items) / columns)
    picture = Image.new("RGB", (width, max(1, gap + rows * cell_height)), GALLERY_BACKGROUND)
    font = pillow_font(round(CAPTION_PX * scale))
    # Drawing text is the slow part, and there are at most 100 different captions.
    captions: dict[tuple[int, int], Image.Image] = {}
    for index, item in enumerate(items):
        row, column = divmod(index, columns)
        x, y = gap + column * cell_width, gap + row * cell_height
        digit = Image.frombytes("L", (IMAGE_COLUMNS, IMAGE_ROWS), item.pixels)
        picture.paste(digit.resize((side, side), Image.Resampling.NEAREST), (x, y))
        key = (item.true, item.predicted)
        if key not in captions:
            captions[key] = caption_image(
                f"{item.true} → {item.predicted}", side, caption_height, font
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
