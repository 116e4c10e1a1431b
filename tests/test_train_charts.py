"""Tests of the Train tab's Charts page (`app.train_charts`): the specs made from fabricated
`LayerStatistics`, and the page itself under Xvfb."""

from __future__ import annotations

import math
from tkinter import ttk

import pytest
from test_train_tab import canvas_text

from app.plot import log_range, log_ticks, plot_shapes
from app.train_charts import NOT_RELU_NOTE, ChartsPage, NetworkCharts, histogram_outline
from app.train_style import configure_train_styles
from engine.layerstats import LayerStatistics


def layer(norm: float, dead: int | None, units: int = 10, reach: float = 0.5) -> LayerStatistics:
    """Return made-up statistics of one layer: a triangular weight histogram of 4 bins."""
    return LayerStatistics(norm, reach, (1, 3, 6, 2), dead, units)


def relu_run() -> NetworkCharts:
    """Return the charts of a made-up two-layer ReLU run of 2 epochs of 1,000 images."""
    charts = NetworkCharts(epochs=2, samples_per_epoch=1000)
    charts.add((layer(0.5, 1, 128), layer(2.0, None)), 500)
    charts.add((layer(0.05, 8, 128), layer(0.4, None)), 1500)
    return charts


def test_gradient_norms_are_plotted_per_layer_over_the_run_on_a_log_scale():
    spec = relu_run().gradient_spec()
    assert spec.log_y and spec.y_range == (0.01, 10.0)
    assert [series.label for series in spec.series] == ["layer 1", "layer 2"]
    assert spec.series[0].points == ((0.5, 0.5), (1.5, 0.05))
    assert spec.series[0].colour != spec.series[1].colour
    shapes = plot_shapes(spec, 300, 150, lambda text: 6.0 * len(text))
    labels = [shape.text for shape in shapes if shape.key.startswith("y-label")]
    assert labels == ["0.01", "0.1", "1", "10"]
    line = next(shape for shape in shapes if shape.key == "data:layer 1")
    bottom, top = line.coords[3], line.coords[1]
    assert bottom > top, "the falling norm is drawn falling"


def test_log_ticks_and_ranges():
    assert log_ticks(0.001, 1.0) == [0.001, 0.01, 0.1, 1.0]
    assert log_ticks(0.2, 0.9) == [0.2, 0.5], "2 and 5 when fewer than two powers fit"
    assert log_range([0.003, 0.4]) == (0.001, 1.0)
    assert log_range([0.0, math.nan]) == (0.1, 1.0), "nothing to show: one decade"


def test_the_weight_histograms_are_outlines_relative_to_their_peaks():
    outline = histogram_outline(layer(1.0, None, reach=0.5))
    assert outline[0] == (-0.5, 0.0) and outline[-1] == (0.5, 0.0)
    heights = [y for _, y in outline[1:-1]]
    assert heights == [1 / 6, 1 / 6, 0.5, 0.5, 1.0, 1.0, 1 / 3, 1 / 3]
    assert [x for x, _ in outline[1:3]] == [-0.5, -0.25]
    spec = relu_run().histogram_spec()
    assert spec.x_range == (-0.5, 0.5) and spec.percent
    assert len(spec.series) == 2


def test_dead_units_show_for_relu_layers_and_a_note_otherwise():
    spec = relu_run().dead_spec()
    assert [series.label for series in spec.series] == ["layer 1: 8/128"]
    assert spec.series[0].points == ((0.5, 1 / 128), (1.5, 8 / 128))
    assert spec.y_range[1] >= 8 / 128
    sigmoid = NetworkCharts(epochs=1, samples_per_epoch=100)
    sigmoid.add((layer(0.1, None), layer(0.2, None)), 50)
    assert sigmoid.dead_spec().series == () and sigmoid.dead_spec().note == NOT_RELU_NOTE


def test_empty_charts_say_why():
    charts = NetworkCharts(epochs=3, note="Loading…")
    for spec in (charts.gradient_spec(), charts.histogram_spec(), charts.dead_spec()):
        assert spec.note == "Loading…" and all(not s.points for s in spec.series)


@pytest.mark.gui
def test_the_page_draws_only_while_shown_and_catches_up_when_shown(tk_root):
    configure_train_styles(tk_root)
    notebook = ttk.Notebook(tk_root)
    other = ttk.Frame(notebook)
    page = ChartsPage(notebook, 8, 1.0, epochs=2)
    notebook.add(other, text="Other")
    notebook.add(page, text="Charts")
    notebook.pack(fill="both", expand=True)
    tk_root.update()
    page.start(2, 1000)
    page.add((layer(0.5, 1, 128), layer(2.0, None)), 500)
    assert page.gradient_plot.spec is None, "not drawn while hidden"
    notebook.select(page)
    tk_root.update()
    assert "layer 2" in canvas_text(page.gradient_plot)
    assert "layer 1: 1/128" in canvas_text(page.dead_plot)
    page.add((layer(0.05, 8, 128), layer(0.4, None)), 1500)
    assert "layer 1: 8/128" in canvas_text(page.dead_plot), "drawn at once while shown"
    page.extend(3)
    assert page.gradient_plot.spec.x_range == (0.0, 3.0)
