"""GUI tests of the Train tab's live plots on their own (`app.train_plots.PlotsPanel`)."""

from __future__ import annotations

import time
import tkinter as tk

import pytest
from PIL import Image
from test_train_tab import canvas_text, longest_line

from app import train_plots
from app.train_plots import PlotsPanel
from app.train_style import configure_train_styles
from app.training_worker import LossPoint
from engine.train import EpochEnd

pytestmark = pytest.mark.gui


def make_panel(root: tk.Tk) -> tuple[PlotsPanel, list[str]]:
    """Return a packed plots card and the list of export presses."""
    configure_train_styles(root)
    pressed: list[str] = []
    panel = PlotsPanel(root, 8, 1.0, lambda: pressed.append("export"), epochs=2)
    panel.pack(fill="both", expand=True)
    root.update()
    return panel, pressed


def epoch_end(epoch: int) -> EpochEnd:
    """Return the figures of a made-up epoch."""
    return EpochEnd(epoch, 2, 0.5 / epoch, 0.8, 0.6 / epoch, 0.75, 1000.0, float(epoch))


def test_points_wait_for_the_next_due_tick(tk_root, monkeypatch):
    panel, _ = make_panel(tk_root)
    panel.start(epochs=2, batches_per_epoch=10)
    panel.add_points(LossPoint(i / 10, 2.0 - i / 10) for i in range(12))
    assert longest_line(panel.loss_plot) < 12, "not drawn before a tick"
    panel.tick()
    assert longest_line(panel.loss_plot) < 12, "a tick right after the last redraw waits"
    monkeypatch.setattr(train_plots, "REDRAW_SECONDS", 0.0)
    panel.tick()
    assert longest_line(panel.loss_plot) == 12


def test_an_epoch_end_is_drawn_at_once_and_the_plots_export(tk_root, tmp_path):
    panel, pressed = make_panel(tk_root)
    panel.start(epochs=2, batches_per_epoch=10)
    panel.add_epoch(epoch_end(1))
    ovals = [i for i in panel.accuracy_plot.find_all() if panel.accuracy_plot.type(i) == "oval"]
    assert len(ovals) >= 2, "train and test accuracy dots"
    panel.end()
    assert "Accuracy" in canvas_text(panel.accuracy_plot)
    panel.export_button.invoke()
    assert pressed == ["export"]
    panel.export_plots(tmp_path / "plots.png")
    with Image.open(tmp_path / "plots.png") as image:
        width = panel.loss_plot.winfo_width() + panel.accuracy_plot.winfo_width()
        assert image.format == "PNG" and image.width == width


def test_the_plots_grow_with_the_panel(tk_root):
    panel, _ = make_panel(tk_root)
    before = panel.loss_plot.winfo_width(), panel.loss_plot.winfo_height()
    tk_root.geometry(f"{tk_root.winfo_width() + 300}x{tk_root.winfo_height() + 200}")
    tk_root.update()
    after = panel.loss_plot.winfo_width(), panel.loss_plot.winfo_height()
    assert after[0] > before[0] + 100 and after[1] > before[1] + 100
    assert panel.loss_plot.relayout.pending, "a burst of resizes is laid out once, later"
    deadline = time.perf_counter() + 2.0
    while panel.loss_plot.relayout.pending and time.perf_counter() < deadline:
        tk_root.update()
    background = panel.loss_plot.find_withtag("frame")[0]
    assert panel.loss_plot.coords(background)[2:] == [float(after[0]), float(after[1])]
