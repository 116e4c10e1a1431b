"""GUI tests of the Train tab's Weights page on its own (`app.train_weights.WeightsPage`)."""

from __future__ import annotations

import time
import tkinter as tk

import pytest
from PIL import Image

from app.heatmap import render_heatmaps
from app.train_style import configure_train_styles
from app.train_weights import WeightsPage
from app.training_worker import WeightsUpdate
from engine.network import Network

pytestmark = pytest.mark.gui


def make_page(root: tk.Tk) -> WeightsPage:
    """Return a packed Weights page."""
    configure_train_styles(root)
    page = WeightsPage(root, 8, 1.0, lambda: None)
    page.pack(fill="both", expand=True)
    root.update()
    return page


def update_for(page: WeightsPage, layers: list[int], seed: int = 0) -> WeightsUpdate:
    """Return a weights update of a fresh network of layer sizes layers."""
    network = Network.create(layers, "relu", seed=seed)
    return WeightsUpdate(render_heatmaps(network.weights, page.geometry()), 1234, 0.01, 1.0)


def test_an_update_shows_every_layer_and_what_it_cost(tk_root):
    page = make_page(tk_root)
    page.show_update(update_for(page, [784, 16, 12, 10]))
    tk_root.update()
    assert page.mosaic_caption.cget("text").startswith("Layer 1: the 784 weights")
    assert page.neuron_caption.cget("text") == "Unit 1 of layer 1"
    captions = [w.cget("text") for w in page.matrices.winfo_children() if w.cget("text")]
    assert captions[0].startswith("Layer 2: 12 units × 16 inputs")
    assert captions[1].startswith("Layer 3: 10 units × 12 inputs")
    assert page.note.cget("text") == (
        "after 1,234 images · refresh costs 10 ms every 1.0 s = 1.0% of training time"
    )
    legend = [page.legend.itemcget(item, "text") for item in page.legend_texts]
    assert legend[1] == "0" and legend[0].startswith("−")


def test_clicking_a_tile_enlarges_that_unit_and_a_smaller_network_keeps_it_valid(tk_root):
    page = make_page(tk_root)
    page.show_update(update_for(page, [784, 16, 10]))
    layout = page.heatmaps.layout
    step = layout.side + layout.gap
    page.mosaic_canvas.event_generate("<Button-1>", x=step * 5 + 2, y=2)
    assert page.selected_unit == 5
    assert page.neuron_caption.cget("text") == "Unit 6 of layer 1"
    page.show_update(update_for(page, [784, 4, 10]))
    assert page.selected_unit == 3


def test_the_heatmaps_export_as_one_png(tk_root, tmp_path):
    page = make_page(tk_root)
    page.export_heatmaps(tmp_path / "nothing.png")
    assert not (tmp_path / "nothing.png").exists(), "nothing to export before a run"
    page.show_update(update_for(page, [784, 16, 10]))
    page.export_heatmaps(tmp_path / "heatmaps.png")
    with Image.open(tmp_path / "heatmaps.png") as image:
        assert image.format == "PNG" and image.width >= page.heatmaps.mosaic.width


def pump_for(root: tk.Tk, seconds: float) -> None:
    """Run Tk's event loop for a while (resizes are laid out after a short delay)."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        root.update()
        time.sleep(0.005)


def tile_centre(page: WeightsPage, unit: int) -> tuple[int, int]:
    """Return the centre of a unit's tile in the mosaic as shown."""
    layout = page.layout
    row, column = divmod(unit, layout.columns)
    step = layout.side + layout.gap
    return column * step + layout.side // 2, row * step + layout.side // 2


def test_pointing_at_a_tile_enlarges_it_with_its_weight_range_until_the_pointer_leaves(tk_root):
    page = make_page(tk_root)
    network = Network.create([784, 16, 10], "relu", seed=0)
    network.weights[0][5] = [-0.5 + 0.75 * i / 783 for i in range(784)]  # −0.5 … +0.25
    page.show_update(WeightsUpdate(render_heatmaps(network.weights, page.geometry()), 0))
    tk_root.update()

    x, y = tile_centre(page, 5)
    page.mosaic_canvas.event_generate("<Motion>", x=x, y=y)
    assert page.neuron_caption.cget("text") == "Unit 6 of layer 1"
    assert page.neuron_range.cget("text") == "weights −0.5 to +0.25"
    assert page.selected_unit == 0, "pointing does not change the clicked unit"
    page.mosaic_canvas.event_generate("<Leave>")
    assert page.neuron_caption.cget("text") == "Unit 1 of layer 1"

    x, y = tile_centre(page, 5)
    page.mosaic_canvas.event_generate("<Button-1>", x=x, y=y)
    page.mosaic_canvas.event_generate("<Leave>")
    assert page.neuron_caption.cget("text") == "Unit 6 of layer 1"


def test_the_mosaic_and_the_enlarged_unit_grow_with_the_page(tk_root):
    page = make_page(tk_root)
    page.show_update(update_for(page, [784, 128, 10]))
    pump_for(tk_root, 0.2)
    side, neuron = page.layout.side, page.neuron_photo.width()
    tk_root.geometry(f"{tk_root.winfo_width() + 700}x{tk_root.winfo_height() + 500}")
    pump_for(tk_root, 0.3)

    assert page.layout.side > side, "bigger tiles in a bigger page"
    assert page.mosaic_photo.width() == page.layout.size[0] <= page.mosaic_box()[0]
    assert page.neuron_photo.width() > neuron
    assert page.geometry().mosaic_box == page.mosaic_box(), "the next run draws at this size"
    x, y = tile_centre(page, 77)
    page.mosaic_canvas.event_generate("<Button-1>", x=x, y=y)
    assert page.selected_unit == 77, "clicks find tiles in the new layout"
