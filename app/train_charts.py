"""The Train tab's Charts page: how each layer learns, from the network's statistics.

About once a second the training measures every weight layer on a few fixed training images
(`engine.layerstats`; relayed as `app.training_worker.Statistics`). `NetworkCharts` keeps one
run's measurements and turns them into three plots (Tk-free): the gradient norm of each layer
over the run (log scale: layers differ by orders of magnitude, and a vanishing or exploding
gradient shows as a line falling or climbing away), the latest distribution of each layer's
weights (each histogram drawn relative to its own peak, so the spreads compare), and the share
of each ReLU layer's units that are dead (zero for every probe image). `ChartsPage` draws them,
only while it is shown.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from tkinter import ttk

from app.plot import PlotCanvas, PlotSpec, Series, log_range, nice_ceiling
from app.widgets import Tooltip
from engine.layerstats import LayerStatistics

# One colour per weight layer (the palette repeats beyond eight).
LAYER_COLOURS = (
    "#2f6fdd",
    "#e07b28",
    "#23985a",
    "#9b59b6",
    "#c0392b",
    "#16a2b8",
    "#7f6a00",
    "#6b7280",
)
GRADIENT_PLOT_SIZE = (300, 150)
HISTOGRAM_PLOT_SIZE = (260, 150)
DEAD_PLOT_SIZE = (240, 150)
IDLE_NOTE = "Press Train to start"
WAITING_NOTE = "measured about every second"
NOT_RELU_NOTE = "only ReLU units can die"
CHARTS_NOTE = "Measured on a few fixed training images as the run goes · point at a chart for more"
CHART_TIPS = (
    "How strongly the loss pulls on each layer's weights (the norm of its mean gradient), on a"
    " log scale. A line falling far below the others is a layer that has stopped learning.",
    "Each layer's weights now, as a histogram scaled to its own peak: watch them spread out"
    " from their small random start. Weight decay keeps them narrow.",
    "The share of each ReLU layer's units that output 0 for every probe image: dead units no"
    " longer learn. Too high a learning rate kills many.",
)


def layer_colour(index: int) -> str:
    """Return the colour of weight layer index (0 is the first)."""
    return LAYER_COLOURS[index % len(LAYER_COLOURS)]


@dataclass(frozen=True)
class Measurement:
    """One statistics report: where in the run (in epochs) and every layer's figures."""

    epoch_position: float
    layers: tuple[LayerStatistics, ...]


@dataclass
class NetworkCharts:
    """Hold one run's statistics and make the Charts page's three plot specs."""

    epochs: int
    samples_per_epoch: int = 1
    measurements: list[Measurement] = field(default_factory=list)
    note: str = IDLE_NOTE

    def add(self, layers: Sequence[LayerStatistics], samples_seen: int) -> None:
        """Record the layers' statistics measured after samples_seen training samples."""
        position = samples_seen / max(1, self.samples_per_epoch)
        self.measurements.append(Measurement(position, tuple(layers)))

    def gradient_spec(self) -> PlotSpec:
        """Return the plot of each layer's gradient norm over the run (log scale)."""
        series = tuple(
            Series(f"layer {index + 1}", layer_colour(index), points, dots=len(points) == 1)
            for index, points in enumerate(self._per_layer(lambda s: s.gradient_norm))
        )
        values = [y for one in series for _, y in one.points]
        return PlotSpec(
            "Gradient norm",
            "epoch",
            (0.0, float(self.epochs)),
            log_range(values),
            series,
            note=self._note(),
            log_y=True,
        )

    def histogram_spec(self) -> PlotSpec:
        """Return the latest weight histogram of every layer, each relative to its peak."""
        latest = self.measurements[-1].layers if self.measurements else ()
        reach = max((layer.weight_range for layer in latest), default=0.0)
        limit = nice_ceiling(reach) if reach > 0 else 1.0
        series = tuple(
            Series(f"layer {index + 1}", layer_colour(index), histogram_outline(layer))
            for index, layer in enumerate(latest)
        )
        return PlotSpec(
            "Weights",
            "weight",
            (-limit, limit),
            (0.0, 1.0),
            series,
            percent=True,
            note=self._note(),
        )

    def dead_spec(self) -> PlotSpec:
        """Return the share of dead units of each ReLU layer over the run, in percent."""
        shares = self._per_layer(
            lambda s: None if s.dead_units is None else s.dead_units / max(1, s.units)
        )
        latest = self.measurements[-1].layers if self.measurements else ()
        series = tuple(
            Series(
                f"layer {index + 1}: {latest[index].dead_units}/{latest[index].units}",
                layer_colour(index),
                points,
                dots=len(points) == 1,
            )
            for index, points in enumerate(shares)
            if points
        )
        top = max((y for one in series for _, y in one.points), default=0.0)
        note = self._note()
        if self.measurements and not series:
            note = NOT_RELU_NOTE
        return PlotSpec(
            "Dead units",
            "epoch",
            (0.0, float(self.epochs)),
            (0.0, min(1.0, nice_ceiling(max(top * 1.1, 0.05)))),
            series,
            percent=True,
            note=note,
        )

    def _per_layer(
        self, figure: Callable[[LayerStatistics], float | None]
    ) -> list[tuple[tuple[float, float], ...]]:
        """Return, per layer, the (epoch position, figure) points where figure is not None."""
        layers = len(self.measurements[-1].layers) if self.measurements else 0
        return [
            tuple(
                (m.epoch_position, figure(m.layers[index]))
                for m in self.measurements
                if index < len(m.layers) and figure(m.layers[index]) is not None
            )
            for index in range(layers)
        ]

    def _note(self) -> str:
        """Return the note shown on an empty chart."""
        if self.measurements:
            return ""
        return self.note


def histogram_outline(layer: LayerStatistics) -> tuple[tuple[float, float], ...]:
    """Return a layer's weight histogram as the outline of its bars, heights relative to the
    tallest: (weight, height) corners from −range to +range, starting and ending at 0."""
    counts = layer.histogram
    peak = max(counts, default=0)
    if peak == 0 or layer.weight_range == 0:
        return ((0.0, 0.0), (0.0, 1.0), (0.0, 0.0))
    width = 2 * layer.weight_range / len(counts)
    points = [(-layer.weight_range, 0.0)]
    for index, count in enumerate(counts):
        left = -layer.weight_range + index * width
        height = count / peak
        points += [(left, height), (left + width, height)]
    points.append((layer.weight_range, 0.0))
    return tuple(points)


class ChartsPage(ttk.Frame):
    """Show the gradient-norm, weight-histogram and dead-unit charts of a run."""

    def __init__(self, master: tk.Misc, gap: int, scale: float, epochs: int) -> None:
        super().__init__(master, style="Card.TFrame", padding=gap)
        self.charts = NetworkCharts(epochs)
        self._stale = False
        self.rowconfigure(0, weight=1)
        plots = []
        for column, (size, weight) in enumerate(
            ((GRADIENT_PLOT_SIZE, 3), (HISTOGRAM_PLOT_SIZE, 2), (DEAD_PLOT_SIZE, 2))
        ):
            plot = PlotCanvas(self, *size, scale)
            plot.grid(row=0, column=column, sticky="nsew", padx=(0 if column == 0 else gap, 0))
            self.columnconfigure(column, weight=weight)
            plots.append(plot)
        for plot, tip in zip(plots, CHART_TIPS):
            Tooltip(plot, tip)
        self.gradient_plot, self.histogram_plot, self.dead_plot = plots
        self.note = ttk.Label(self, text=CHARTS_NOTE, style="CardMuted.TLabel", width=1)
        self.note.grid(row=1, column=0, columnspan=3, sticky="ew", pady=(4, 0))
        self.bind("<Map>", self._on_map)
        self.redraw()

    def reset(self, epochs: int, note: str) -> None:
        """Start empty charts for a run of epochs, showing note until statistics arrive."""
        self.charts = NetworkCharts(epochs, note=note)
        self.redraw()

    def start(self, epochs: int, samples_per_epoch: int) -> None:
        """Size the charts' time axes for a run that has started."""
        self.charts = NetworkCharts(epochs, samples_per_epoch, note=WAITING_NOTE)
        self.redraw()

    def extend(self, epochs: int) -> None:
        """Stretch the time axes to a run made longer (epochs in all)."""
        self.charts.epochs = epochs
        self.redraw()

    def add(self, layers: Sequence[LayerStatistics], samples_seen: int) -> None:
        """Add one statistics report; drawn at once if the page is shown, else when it is."""
        self.charts.add(layers, samples_seen)
        self.redraw()

    def redraw(self) -> None:
        """Draw the three charts, or remember to when the page is next shown."""
        if not self.winfo_ismapped():
            self._stale = True
            return
        self._stale = False
        self.gradient_plot.show(self.charts.gradient_spec())
        self.histogram_plot.show(self.charts.histogram_spec())
        self.dead_plot.show(self.charts.dead_spec())

    def _on_map(self, _event: tk.Event) -> None:
        """Draw what arrived while the page was hidden."""
        if self._stale:
            self.redraw()
