"""GUI tests of the Train tab's room to look: the sash between plots and pages, a laptop
screen, and 2× scaling (Xvfb, the whole app, real runs on a small synthetic MNIST folder)."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Iterator

import pytest
from test_draw_tab import MAX_WINDOW_SIZE, window_size
from test_train_tab import finished, pump, pump_for
from test_training_worker import write_digit_folder

from app import main
from app.main import DigitsApp, create_app
from app.widgets import screen_scale

pytestmark = pytest.mark.gui

TRAIN_IMAGES = 300
TEST_IMAGES = 60
DOUBLE_DPI_SCALING = 2 * 96 / 72  # Tk's pixels per point on a 192-dpi screen


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory: pytest.TempPathFactory):
    """Return a small synthetic MNIST folder."""
    return write_digit_folder(tmp_path_factory.mktemp("digits"), TRAIN_IMAGES, TEST_IMAGES)


@pytest.fixture
def app_on(small_folder) -> Iterator[DigitsApp]:
    """Yield the app reading MNIST from the small folder, its Train tab shown."""
    app = create_app(["--data", str(small_folder)])
    app.notebook.select(app.train_tab)
    app.root.update()
    yield app
    app.close()


def run_once(app: DigitsApp, hidden: str = "16-16") -> None:
    """Train one epoch with the form's settings and wait for the results."""
    tab = app.train_tab
    tab.form.hidden.set(hidden)
    tab.form.epochs.set("1")
    tab.train()
    pump(app.root, finished(tab))


def pages_fit(app: DigitsApp, limit: tuple[int, int]) -> None:
    """Check that the window asks for no more than limit with each Train page shown."""
    tab = app.train_tab
    for page in tab.views.tabs():
        tab.views.select(page)
        width, height = window_size(app)
        assert width <= limit[0] and height <= limit[1], (
            f"{width}×{height} with the {tab.views.tab(page, 'text')} page shown"
        )


def test_dragging_the_sash_gives_the_plots_the_room_the_pages_give_up(app_on):
    root, tab = app_on.root, app_on.train_tab
    root.geometry("1300x700")
    pump_for(root, 0.3)
    panes = tab.panes
    sash = panes.sashpos(0)
    plot_height, pages_height = tab.plots.loss_plot.winfo_height(), tab.views.winfo_height()
    x = panes.winfo_width() // 2
    panes.event_generate("<ButtonPress-1>", x=x, y=sash + 2)
    for step in range(1, 6):
        panes.event_generate("<B1-Motion>", x=x, y=sash + 2 + 24 * step, state=0x100)
    panes.event_generate("<ButtonRelease-1>", x=x, y=sash + 122, state=0x100)
    pump_for(root, 0.3)

    assert panes.sashpos(0) == sash + 120
    assert tab.plots.loss_plot.winfo_height() >= plot_height + 110
    assert tab.views.winfo_height() <= pages_height - 110
    spec_height = tab.plots.loss_plot.coords(tab.plots.loss_plot.find_withtag("frame")[0])[3]
    assert spec_height == tab.plots.loss_plot.winfo_height(), "the plot was laid out again"


def test_the_window_fits_a_laptop_screen_after_a_run_and_its_messages(app_on):
    run_once(app_on)
    tab = app_on.train_tab
    pages_fit(app_on, MAX_WINDOW_SIZE)
    long = "A long message that could widen the window " * 20
    tab.run.show_headline(long)
    tab.run.show_details(long)
    app_on.set_status(long, error=True)
    pages_fit(app_on, MAX_WINDOW_SIZE)


def test_at_double_scaling_the_tab_scales_and_fits_a_double_size_screen(small_folder, monkeypatch):
    normal_scaling: list[float] = []

    class DoubleDpiTk(tk.Tk):
        """A root window on a 192-dpi screen, as `tk scaling` makes Tk believe."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            normal_scaling.append(float(self.tk.call("tk", "scaling")))
            self.tk.call("tk", "scaling", DOUBLE_DPI_SCALING)

    monkeypatch.setattr(main.tk, "Tk", DoubleDpiTk)
    app = create_app(["--data", str(small_folder)])
    try:
        tab = app.train_tab
        assert screen_scale(app.root) == 2.0 and tab.scale == 2.0
        app.notebook.select(tab)
        run_once(app)
        doubled = (2 * MAX_WINDOW_SIZE[0], 2 * MAX_WINDOW_SIZE[1])
        pages_fit(app, doubled)
        width, height = window_size(app)
        assert width > MAX_WINDOW_SIZE[0] and height > MAX_WINDOW_SIZE[1], "it did scale up"
        assert tab.weights.layout.side >= 28, "tiles at least one screen pixel per weight"
    finally:
        app.close()
        # Tk keeps the scaling with the display connection, which outlives this window.
        root = DoubleDpiTk()
        root.tk.call("tk", "scaling", normal_scaling[0])
        root.destroy()


def test_the_sash_is_where_it_was_left_after_a_restart(small_folder, tmp_path):
    settings = tmp_path / "settings.json"
    arguments = ["--data", str(small_folder), "--settings", str(settings)]
    first = create_app(arguments)
    try:
        first.notebook.select(first.train_tab)
        first.root.geometry("1300x700")
        pump_for(first.root, 0.3)
        panes = first.train_tab.panes
        panes.sashpos(0, panes.sashpos(0) + 90)
        first.root.update()
        left_at = panes.sashpos(0)
    finally:
        first.close()
    second = create_app(arguments)
    try:
        pump_for(second.root, 0.3)
        assert second.train_tab.panes.sashpos(0) == left_at
    finally:
        second.close()
