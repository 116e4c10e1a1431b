"""The Train tab's live plots: the loss after every few batches and the accuracy per epoch.

The card holds one run's `TrainingCurves` and draws them on two `PlotCanvas`es. Loss points
arrive many times a second, so `add_points` only marks the plots stale and `tick` (called by
the tab's poll) redraws at most every REDRAW_SECONDS; epoch ends and the run's end redraw at
once. `export_plots` saves both plots side by side as one PNG.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable, Iterable
from pathlib import Path
from tkinter import ttk

from PIL import Image

from app.plot import PlotCanvas, TrainingCurves, render_image
from app.train_style import COMPACT_BUTTON_STYLE
from app.training_worker import LossPoint
from app.widgets import PANEL_BACKGROUND, Tooltip
from engine.train import EpochEnd

REDRAW_SECONDS = 0.25
LOSS_PLOT_SIZE = (440, 140)
ACCURACY_PLOT_SIZE = (250, 140)
IDLE_NOTE = "Press Train to start"


class PlotsPanel(ttk.Frame):
    """Show the run's loss and accuracy curves as they grow."""

    def __init__(
        self, master: tk.Misc, gap: int, scale: float, on_export: Callable[[], None], epochs: int
    ) -> None:
        super().__init__(master, style="Card.TFrame", padding=(gap, gap // 2))
        self.scale = scale
        self.curves = TrainingCurves(epochs, note=IDLE_NOTE)
        self._dirty = False
        self._last_drawn = 0.0
        # The loss plot takes most of any extra width: its legend is the longer one.
        self.columnconfigure(0, weight=3)
        self.columnconfigure(1, weight=1)
        self.rowconfigure(0, weight=1)
        self.loss_plot = PlotCanvas(self, *LOSS_PLOT_SIZE, scale)
        self.loss_plot.grid(row=0, column=0, sticky="nsew")
        self.accuracy_plot = PlotCanvas(self, *ACCURACY_PLOT_SIZE, scale)
        self.accuracy_plot.grid(row=0, column=1, sticky="nsew", padx=(gap, 0))
        self.export_button = ttk.Button(
            self, text="Export…", command=on_export, style=COMPACT_BUTTON_STYLE
        )
        self.export_button.grid(row=0, column=2, sticky="se", padx=(gap, 0))
        Tooltip(self.export_button, "Save the loss and accuracy plots as one PNG image.")
        self.redraw()

    def reset(self, epochs: int, note: str) -> None:
        """Start empty plots for a run of epochs, showing note until points arrive."""
        self.curves = TrainingCurves(epochs, note=note)
        self.redraw()

    def start(self, epochs: int, batches_per_epoch: int) -> None:
        """Size the axes for a run that has started."""
        self.curves = TrainingCurves(epochs, batches_per_epoch)
        self.redraw()

    def extend(self, epochs: int) -> None:
        """Stretch the axes to a run made longer (epochs in all)."""
        self.curves.epochs = epochs
        self.redraw()

    def add_points(self, points: Iterable[LossPoint]) -> None:
        """Add loss points; they are drawn by the next due `tick`."""
        self.curves.points.extend(points)
        self._dirty = True

    def add_epoch(self, end: EpochEnd) -> None:
        """Add one epoch's figures and draw them at once."""
        self.curves.ends.append(end)
        self.redraw()

    def end(self) -> None:
        """Mark the run as over and draw the final plots."""
        self.curves.ended = True
        self.redraw()

    def tick(self) -> None:
        """Redraw if points arrived and the last redraw is REDRAW_SECONDS old."""
        if self._dirty and time.perf_counter() - self._last_drawn >= REDRAW_SECONDS:
            self.redraw()

    def flush(self) -> None:
        """Draw points still waiting, however recent the last redraw."""
        if self._dirty:
            self.redraw()

    def redraw(self) -> None:
        """Draw both plots from the curves."""
        self.loss_plot.show(self.curves.loss_spec())
        self.accuracy_plot.show(self.curves.accuracy_spec())
        self._dirty = False
        self._last_drawn = time.perf_counter()

    def export_plots(self, path: Path) -> None:
        """Save the loss and accuracy plots side by side as one PNG."""
        pictures = [
            render_image(plot.spec, *plot.drawn_size(), self.scale)
            for plot in (self.loss_plot, self.accuracy_plot)
            if plot.spec is not None
        ]
        sheet = Image.new(
            "RGB",
            (sum(p.width for p in pictures), max(p.height for p in pictures)),
            PANEL_BACKGROUND,
        )
        x = 0
        for picture in pictures:
            sheet.paste(picture, (x, 0))
            x += picture.width
        sheet.save(path, "PNG")
