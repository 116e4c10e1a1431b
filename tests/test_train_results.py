"""GUI tests of the Train tab's Results page on its own (`app.train_results.ResultsPage`)."""

from __future__ import annotations

import tkinter as tk

import pytest
from test_training_worker import digit_dataset

from app import results
from app.results import GalleryItem
from app.train_results import EMPTY_SUMMARY, ResultsPage
from app.train_style import configure_train_styles
from app.training_worker import Finished
from engine.evaluate import evaluate
from engine.network import Network
from engine.train import TrainingResult

pytestmark = pytest.mark.gui
TEST_IMAGES = 60


def make_page(root: tk.Tk) -> tuple[ResultsPage, list[str]]:
    """Return a packed Results page and the list of buttons pressed on it."""
    configure_train_styles(root)
    pressed: list[str] = []
    page = ResultsPage(root, 8, 1.0, lambda: pressed.append("save"), lambda: pressed.append("use"))
    page.pack(fill="both", expand=True)
    root.update()
    return page, pressed


def finished_run() -> Finished:
    """Return the end of a made-up run: an untrained network tested on drawn digits."""
    network = Network.create([784, 16, 10], "relu", seed=3)
    test_set = digit_dataset(TEST_IMAGES, seed=5)
    evaluation = evaluate(network, test_set)
    result = TrainingResult(network, "finished", "", 1.0, 100.0, 1, evaluation.accuracy)
    return Finished(result, evaluation, test_set, 0.0)


def test_a_finished_run_shows_accuracy_matrix_and_misclassified_digits(tk_root):
    page, pressed = make_page(tk_root)
    assert page.save_button.instate(["disabled"]) and page.use_button.instate(["disabled"])
    finished = finished_run()
    page.show(finished)
    wrong = len(finished.evaluation.misclassified)
    assert page.summary.cget("text").startswith(f"Test accuracy {finished.evaluation.accuracy:.1%}")
    assert f"({TEST_IMAGES - wrong:,} of {TEST_IMAGES:,}" in page.summary.cget("text")
    assert len(page.gallery.items) == wrong
    assert all(item.true != item.predicted for item in page.gallery.items)
    page.save_button.invoke()
    page.use_button.invoke()
    assert pressed == ["save", "use"]
    page.clear()
    assert page.summary.cget("text") == EMPTY_SUMMARY and page.save_button.instate(["disabled"])


def test_clicking_a_cell_shows_its_digits(tk_root):
    page, _ = make_page(tk_root)
    finished = finished_run()
    page.show(finished)
    true, predicted = next(
        (t, p) for t in range(10) for p in range(10) if finished.evaluation.confusion[t][p]
    )
    confusion = page.confusion
    x = confusion.left + (predicted + 0.5) * confusion.cell_width
    y = confusion.top + (true + 0.5) * confusion.cell_height
    confusion.event_generate("<Button-1>", x=round(x), y=round(y))
    count = finished.evaluation.confusion[true][predicted]
    assert len(page.gallery.items) == count
    assert all((i.true, i.predicted) == (true, predicted) for i in page.gallery.items)


def many_items(count: int) -> list[GalleryItem]:
    """Return count gallery items: digit images of a grey level that tells them apart."""
    return [
        GalleryItem(bytes([index % 251 + 4]) * (28 * 28), index % 10, (index + 1) % 10)
        for index in range(count)
    ]


def test_a_long_gallery_draws_only_the_rows_in_view_and_scrolls_to_the_last(tk_root):
    page, _ = make_page(tk_root)
    gallery = page.gallery
    gallery.show(many_items(3000))
    tk_root.update()
    layout = gallery.layout
    assert layout.rows == -(-3000 // layout.columns)
    first, last = gallery.drawn_rows
    visible = gallery.canvas.winfo_height() // layout.cell_height
    assert first == 0 and last - first <= visible + 2, "only the rows in view are drawn"
    assert gallery.photo.height() <= (visible + 2) * layout.cell_height

    for _ in range(3):
        gallery.canvas.event_generate("<Button-5>")  # the wheel, on X11
    tk_root.update()
    assert gallery.drawn_rows[0] > 0, "the wheel scrolled down"

    gallery.canvas.yview_moveto(1.0)
    tk_root.update()
    assert gallery.drawn_rows[1] == layout.rows, "the last row is reachable"
    top = gallery.canvas.coords(gallery.image_item)[1]
    assert top == gallery.drawn_rows[0] * layout.cell_height


def test_ctrl_wheel_and_ctrl_plus_minus_zoom_the_thumbnails(tk_root):
    page, _ = make_page(tk_root)
    gallery = page.gallery
    gallery.show(many_items(200))
    tk_root.update()
    side, columns = gallery.layout.side, gallery.layout.columns
    gallery.canvas.event_generate("<Control-Button-4>")
    tk_root.update()
    assert gallery.layout.side == side * 3 // 2 and gallery.layout.columns < columns
    gallery.canvas.focus_force()
    gallery.canvas.event_generate("<Control-minus>")
    gallery.canvas.event_generate("<Control-minus>")
    tk_root.update()
    assert gallery.layout.side == side // 2
    for _ in range(10):
        gallery.canvas.event_generate("<Control-Button-5>")
    assert gallery.zoom == results.MIN_THUMBNAIL_ZOOM
