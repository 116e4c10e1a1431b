"""The Train tab's Weights page: every layer's weights as pictures, refreshed during a run.

The first layer is a mosaic of 28×28 heatmaps, one per unit, that fills the space the page
is given, with the colour legend under it; beside it the enlarged unit (the one under the
pointer, else the one last clicked), which grows with the page too, its weight range, and
each later layer's weight matrix (units down, inputs across). The heatmaps are drawn by the
training worker (`app.heatmap.render_heatmaps` at this page's `geometry()`); here they are
only pasted into photos the widgets already show, which costs one Tk call each. After a resize
the mosaic is laid out again here from the coloured picture (about 15 ms), until the tab has
the training process draw the next heatmaps at the page's new size (`geometry()`).
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk

from PIL import Image, ImageTk

from app.debounce import Debouncer
from app.heatmap import (
    HeatmapGeometry,
    Heatmaps,
    MosaicLayout,
    SheetStyle,
    heatmap_sheet,
    legend_image,
    mosaic_layout,
    neuron_mosaic,
    neuron_tile,
    scale_label,
)
from app.plot import pillow_font
from app.train_style import COMPACT_BUTTON_STYLE
from app.training_worker import WeightsUpdate
from app.widgets import MUTED_TEXT, PANEL_BACKGROUND, Tooltip, magnified

MOSAIC_BOX = (500, 180)
MOSAIC_GAP = 2
MOSAIC_BACKGROUND = (214, 219, 227)
NEURON_BOX = 112
MATRIX_WIDTH = 300
MATRIX_HEIGHT = 36
LEGEND_SIZE = (180, 10)
# Room either side of the gradient for the half of its end labels that sticks out.
LEGEND_MARGIN = 20
WEIGHTS_HINT = "The weights of every layer appear here when a run starts."
EXPORT_FONT_PX = 13
EXPORT_BACKGROUND = (255, 255, 255)
EXPORT_TEXT = (31, 35, 40)


class WeightsPage(ttk.Frame):
    """Show the network's weights as heatmaps that grow with the page."""

    def __init__(
        self, master: tk.Misc, gap: int, scale: float, on_export: Callable[[], None]
    ) -> None:
        super().__init__(master, style="Card.TFrame", padding=gap)
        self.gap = gap
        self.scale = scale
        self.heatmaps: Heatmaps | None = None
        self.layout: MosaicLayout | None = None
        self.selected_unit = 0
        self.hovered_unit: int | None = None
        self.render_seconds = 0.0
        self.mosaic_photo: ImageTk.PhotoImage | None = None
        self.neuron_photo: ImageTk.PhotoImage | None = None
        self._matrix_views: list[tuple[ttk.Label, ttk.Label]] = []
        self._matrix_photos: list[ImageTk.PhotoImage | None] = []
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)  # spare room goes to the mosaic
        self.mosaic_caption = ttk.Label(self, text=WEIGHTS_HINT, style="Card.TLabel", width=1)
        self.mosaic_caption.grid(row=0, column=0, sticky="ew")
        width, height = (round(size * scale) for size in MOSAIC_BOX)
        self.mosaic_canvas = tk.Canvas(
            self,
            width=width,
            height=height,
            background=PANEL_BACKGROUND,
            highlightthickness=0,
            cursor="hand2",
        )
        self.mosaic_canvas.grid(row=1, column=0, sticky="nsew", pady=4)
        self.mosaic_item = self.mosaic_canvas.create_image(0, 0, anchor="nw")
        self.mosaic_canvas.bind("<Button-1>", self._on_mosaic_click)
        self.mosaic_canvas.bind("<Motion>", self._on_mosaic_motion)
        self.mosaic_canvas.bind("<Leave>", self._on_mosaic_leave)
        self.mosaic_resize = Debouncer(self.mosaic_canvas, self._on_mosaic_resized)
        self.mosaic_canvas.bind("<Configure>", self.mosaic_resize.trigger)
        legend_row = self._build_legend()
        self._build_side()
        self.export_button = ttk.Button(
            legend_row, text="Export PNG…", command=on_export, style=COMPACT_BUTTON_STYLE
        )
        self.export_button.pack(side="right", anchor="n")
        Tooltip(self.export_button, "Save the heatmaps and their colour scale as one PNG image.")

    def _build_legend(self) -> ttk.Frame:
        """Build the colour-map legend: the gradient bar with −scale, 0 and +scale under it.

        Return the legend's row, which has room for a button at its right end.
        """
        width, height = (round(size * self.scale) for size in LEGEND_SIZE)
        row = ttk.Frame(self, style="Inner.TFrame")
        row.grid(row=2, column=0, sticky="ew")
        ttk.Label(row, text="weight", style="CardMuted.TLabel").pack(side="left", padx=(0, 6))
        text_height = round(16 * self.scale)
        margin = round(LEGEND_MARGIN * self.scale)
        self.legend = tk.Canvas(
            row,
            width=width + 2 * margin,
            height=height + text_height,
            background=PANEL_BACKGROUND,
            highlightthickness=0,
        )
        self.legend.pack(side="left")
        self.legend_photo = ImageTk.PhotoImage(legend_image(width, height))
        self.legend.create_image(margin, 0, image=self.legend_photo, anchor="nw")
        self.legend_texts = [
            self.legend.create_text(
                margin + width * fraction, height + 2, text=label, anchor="n", fill=MUTED_TEXT
            )
            for fraction, label in ((0.0, "−"), (0.5, "0"), (1.0, "+"))
        ]
        self.note = ttk.Label(self, text="", style="CardMuted.TLabel", width=1)
        self.note.grid(row=3, column=0, sticky="ew", pady=(4, 0))
        return row

    def _build_side(self) -> None:
        """Build the column of the enlarged unit and the later layers' matrices.

        It runs the page's full height, so a deeper network (the classic 16-16) still fits
        without making the window taller; the enlarged unit takes the height left over.
        """
        side = ttk.Frame(self, style="Inner.TFrame")
        side.grid(row=0, column=1, rowspan=4, sticky="ns", padx=(self.gap, 0))
        side.rowconfigure(2, weight=1)
        side.columnconfigure(0, weight=1)
        self.neuron_caption = ttk.Label(side, text="", style="Card.TLabel")
        self.neuron_caption.grid(row=0, column=0, sticky="w")
        self.neuron_range = ttk.Label(side, text="", style="CardMuted.TLabel")
        self.neuron_range.grid(row=1, column=0, sticky="w")
        box = round(NEURON_BOX * self.scale)
        # Shown with the first heatmaps: an empty view would be a black square.
        self.neuron_view = tk.Canvas(
            side, width=box, height=box, background=PANEL_BACKGROUND, highlightthickness=0
        )
        self.neuron_item = self.neuron_view.create_image(0, 0, anchor="nw")
        self.neuron_resize = Debouncer(self.neuron_view, self._show_neuron)
        self.neuron_view.bind("<Configure>", self.neuron_resize.trigger)
        self.matrices = ttk.Frame(side, style="Inner.TFrame")
        self.matrices.grid(row=3, column=0, sticky="ew")

    # ----- what the tab asks ------------------------------------------------------------------

    def geometry(self) -> HeatmapGeometry:
        """Return where this page shows heatmaps, in screen pixels (its size right now)."""
        return HeatmapGeometry(
            mosaic_box=self.mosaic_box(),
            gap=round(MOSAIC_GAP * self.scale),
            background=MOSAIC_BACKGROUND,
            matrix_box=(round(MATRIX_WIDTH * self.scale), round(MATRIX_HEIGHT * self.scale)),
        )

    def mosaic_box(self) -> tuple[int, int]:
        """Return the (width, height) the mosaic may fill: its canvas, once shown."""
        canvas = self.mosaic_canvas
        width, height = canvas.winfo_width(), canvas.winfo_height()
        if width <= 1:
            return int(canvas["width"]), int(canvas["height"])
        return width, height

    def show_update(self, message: WeightsUpdate) -> None:
        """Show new heatmaps and what making them costs the training."""
        started = time.perf_counter()
        self.heatmaps = message.heatmaps
        self._show_weights()
        self.render_seconds = time.perf_counter() - started
        note = f"after {message.samples_seen:,} images"
        if message.interval_seconds:
            note += (
                f" · refresh costs {message.cost_seconds * 1000:.0f} ms"
                f" every {message.interval_seconds:.1f} s"
                f" = {message.cost_seconds / message.interval_seconds:.1%} of training time"
            )
        self.note.configure(text=note)

    def show_final_cost(self, share: float) -> None:
        """Say the shown weights are final and what share of the run their refreshes took."""
        self.note.configure(
            text=f"final weights · heatmap refreshes took {share:.1%} of the training time"
        )

    def export_heatmaps(self, path: Path) -> None:
        """Save every heatmap, captioned and with the colour scale, as one PNG at path."""
        if self.heatmaps is None:
            return
        size = round(EXPORT_FONT_PX * self.scale)
        style = SheetStyle(
            font=pillow_font(size),
            line_height=round(size * 1.5),
            background=EXPORT_BACKGROUND,
            text_colour=EXPORT_TEXT,
            margin=self.gap,
        )
        heatmap_sheet(self.heatmaps, style).save(path, "PNG")

    # ----- showing ----------------------------------------------------------------------------

    def _show_weights(self) -> None:
        """Paste the first layer's mosaic, the enlarged unit and the later layers' matrices."""
        heatmaps = self.heatmaps
        first = heatmaps.layers[0]
        self._show_mosaic()
        self.mosaic_caption.configure(
            text=f"Layer 1: the {first.inputs} weights into each of its {first.units} units"
            " · point at one to enlarge it, click to keep it"
        )
        for item, value in zip(self.legend_texts, (-first.scale, 0.0, first.scale)):
            self.legend.itemconfigure(item, text=scale_label(value))
        self.selected_unit = min(self.selected_unit, first.units - 1)
        if self.hovered_unit is not None and self.hovered_unit >= first.units:
            self.hovered_unit = None
        self._show_neuron()
        self._show_matrices()

    def _show_mosaic(self) -> None:
        """Paste the mosaic, laid out again here if the page's size changed since the run began."""
        heatmaps = self.heatmaps
        gap = heatmaps.layout.gap
        layout = mosaic_layout(heatmaps.layers[0].units, *self.mosaic_box(), gap)
        mosaic = heatmaps.mosaic
        if layout != heatmaps.layout:
            mosaic = neuron_mosaic(heatmaps.first_coloured, layout, MOSAIC_BACKGROUND)
        self.layout = layout
        self.mosaic_photo, replaced = pasted(self.mosaic_photo, mosaic)
        if replaced:
            self.mosaic_canvas.itemconfigure(self.mosaic_item, image=self.mosaic_photo)

    def _show_neuron(self) -> None:
        """Show the pointed-at (else the clicked) first-layer unit as large as its view allows."""
        if self.heatmaps is None:
            return
        unit = self.selected_unit if self.hovered_unit is None else self.hovered_unit
        if not self.neuron_view.winfo_manager():
            self.neuron_view.grid(row=2, column=0, sticky="nsew", pady=(2, 6))
        self.neuron_caption.configure(text=f"Unit {unit + 1} of layer 1")
        low, high = self.heatmaps.unit_ranges[unit]
        self.neuron_range.configure(text=f"weights {scale_label(low)} to {scale_label(high)}")
        box = neuron_box(self.neuron_view)
        tile = magnified(neuron_tile(self.heatmaps.first_coloured, unit), box, grid=False)
        self.neuron_photo, replaced = pasted(self.neuron_photo, tile)
        if replaced:
            self.neuron_view.itemconfigure(self.neuron_item, image=self.neuron_photo)

    def _show_matrices(self) -> None:
        """Show each later layer's weight matrix (units down, inputs across)."""
        later = self.heatmaps.layers[1:]
        if len(self._matrix_views) != len(later):
            for caption, view in self._matrix_views:
                caption.destroy()
                view.destroy()
            self._matrix_views = [
                (
                    ttk.Label(self.matrices, style="CardMuted.TLabel"),
                    ttk.Label(self.matrices, style="Card.TLabel"),
                )
                for _ in later
            ]
            self._matrix_photos = [None] * len(later)
            for caption, view in self._matrix_views:
                caption.grid(column=0, sticky="w")
                view.grid(column=0, sticky="w", pady=(0, 4))
        pieces = zip(later, self.heatmaps.matrices, self._matrix_views)
        for index, (picture, image, (caption, view)) in enumerate(pieces):
            caption.configure(
                text=f"Layer {index + 2}: {picture.units} units × {picture.inputs} inputs"
                f" (±{picture.scale:.2g})"
            )
            self._matrix_photos[index], replaced = pasted(self._matrix_photos[index], image)
            if replaced:
                view.configure(image=self._matrix_photos[index])

    # ----- event handlers ---------------------------------------------------------------------

    def _on_mosaic_click(self, event: tk.Event) -> None:
        """Keep the clicked first-layer unit enlarged."""
        unit = self._unit_at(event)
        if unit is not None:
            self.selected_unit = unit
            self._show_neuron()

    def _on_mosaic_motion(self, event: tk.Event) -> None:
        """Enlarge the unit under the pointer (a gap between tiles keeps the last one)."""
        unit = self._unit_at(event)
        if unit is not None and unit != self.hovered_unit:
            self.hovered_unit = unit
            self._show_neuron()

    def _on_mosaic_leave(self, _event: tk.Event) -> None:
        """Go back to the clicked unit when the pointer leaves the mosaic."""
        if self.hovered_unit is not None:
            self.hovered_unit = None
            self._show_neuron()

    def _on_mosaic_resized(self) -> None:
        """Lay the mosaic out again for the canvas's new size."""
        if self.heatmaps is not None:
            self._show_mosaic()

    def _unit_at(self, event: tk.Event) -> int | None:
        """Return the first-layer unit whose tile is under the pointer, or None."""
        if self.heatmaps is None or self.layout is None:
            return None
        return self.layout.unit_at(event.x, event.y)


def neuron_box(view: tk.Canvas) -> int:
    """Return the side of the largest square the enlarged-unit view can show, in pixels."""
    width, height = view.winfo_width(), view.winfo_height()
    if width <= 1:
        return int(view["width"])
    return max(1, min(width, height))


def pasted(photo: ImageTk.PhotoImage | None, image: Image.Image) -> tuple[ImageTk.PhotoImage, bool]:
    """Return a photo showing image and whether it is new: photo itself when the size matches.

    Pasting into the photo a widget already shows costs one Tk call and no widget change.
    """
    if photo is not None and (photo.width(), photo.height()) == image.size:
        photo.paste(image)
        return photo, False
    return ImageTk.PhotoImage(image), True
