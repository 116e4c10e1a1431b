"""GUI tests of the Train tab under Xvfb: real runs on a small synthetic MNIST folder.

Each test builds a window holding the real `TrainTab` (or the whole app, for closing it),
presses its buttons, drags its slider with mouse events and pumps Tk's event loop while the
training process trains, checking what reaches the screen and the engine, and which processes
run (read from /proc). The event-loop probe (`EventLoopProbe`) schedules `after(10)` callbacks
and records how late they run; the test that needs real MNIST (`DIGITS_DATA`) prints the delays
and the training speed next to the CLI's, on 1 and 2 cores.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import tkinter as tk
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import training_hooks
from PIL import Image, ImageDraw, ImageFont
from test_draw_tab import assert_window_fits_a_laptop
from test_parallel import alive, child_pids, shared_blocks
from test_training_worker import write_digit_folder

from app import training_worker
from app.context import AppContext
from app.main import create_app
from app.train_form import available_cores
from app.train_tab import TrainTab
from app.training_process import TrainingService
from engine.download import DownloadError
from engine.modelfile import load_model
from engine.mydigits import DigitStore
from engine.network import Network
from engine.train import TrainConfig

pytestmark = pytest.mark.gui

RUN_TIMEOUT_SECONDS = 60.0
CLOSE_LIMIT_SECONDS = 1.0
PROBE_INTERVAL_MS = 10
# Speed is measured, not asserted (see the README for the figures); the tests only catch a
# frozen window, which would delay the event loop by seconds.
FROZEN_MS = 1000.0
TRAIN_IMAGES = 1000
TEST_IMAGES = 100
SMALL_HIDDEN = "32"
REAL_MNIST_IMAGES = "5,000"
REAL_MNIST_LIMIT = 5000


@dataclass
class Window:
    """A root window holding one Train tab, and what the tab told its context."""

    root: tk.Tk
    tab: TrainTab
    statuses: list[str] = field(default_factory=list)
    used: list[tuple[Network, str]] = field(default_factory=list)
    loaded: Network | None = None


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a synthetic MNIST folder of drawn digits."""
    return write_digit_folder(tmp_path_factory.mktemp("digits"), TRAIN_IMAGES, TEST_IMAGES)


@pytest.fixture
def make_window() -> Iterator[Callable[[Path | None], Window]]:
    """Yield a builder of Train-tab windows reading MNIST from a folder; close them afterwards."""
    windows: list[Window] = []

    def build(data_dir: Path | None) -> Window:
        root = tk.Tk()
        window = Window(root, None)  # the tab needs the context, the context the window
        context = AppContext(
            root=root,
            set_status=lambda text, error=False: window.statuses.append(text),
            use_model=lambda network, label: window.used.append((network, label)),
            current_model=lambda: window.loaded,
            data_dir=data_dir,
        )
        window.tab = TrainTab(root, context)
        window.tab.pack(fill="both", expand=True)
        window.tab.form.hidden.set(SMALL_HIDDEN)
        root.update()
        windows.append(window)
        return window

    yield build
    for window in windows:
        window.tab.shutdown()
        window.root.destroy()
    assert multiprocessing.active_children() == [], "a training process outlived its tab"


def pump(root: tk.Tk, until: Callable[[], bool], timeout: float = RUN_TIMEOUT_SECONDS) -> None:
    """Run Tk's event loop until until() is true; fail after timeout seconds."""
    deadline = time.perf_counter() + timeout
    while not until():
        assert time.perf_counter() < deadline, "timed out waiting for the tab"
        root.update()
        time.sleep(0.005)


def pump_for(root: tk.Tk, seconds: float) -> None:
    """Run Tk's event loop for a while."""
    deadline = time.perf_counter() + seconds
    pump(root, lambda: time.perf_counter() >= deadline)


def finished(tab: TrainTab) -> Callable[[], bool]:
    """Return a condition: the run's results are shown."""
    return lambda: tab.finished is not None


def canvas_text(canvas: tk.Canvas) -> list[str]:
    """Return the texts of every text item on a canvas."""
    return [
        canvas.itemcget(item, "text") for item in canvas.find_all() if canvas.type(item) == "text"
    ]


def longest_line(canvas: tk.Canvas) -> int:
    """Return the number of points of the longest line item on a canvas."""
    lines = [item for item in canvas.find_all() if canvas.type(item) == "line"]
    return max((len(canvas.coords(item)) // 2 for item in lines), default=0)


def descendants(widget: tk.Misc) -> list[tk.Misc]:
    """Return every widget inside widget, at any depth."""
    found = []
    for child in widget.winfo_children():
        found += [child, *descendants(child)]
    return found


def drag_slider(root: tk.Tk, scale: tk.Widget, value: float) -> None:
    """Drag a ttk scale's slider to value with mouse events, as a person would."""
    start = scale.coords()
    end = scale.coords(value)
    scale.event_generate("<ButtonPress-1>", x=start[0], y=start[1], warp=True)
    root.update()
    for step in range(1, 6):
        x = start[0] + (end[0] - start[0]) * step / 5
        scale.event_generate("<B1-Motion>", x=x, y=start[1], state=0x100)
        root.update()
    scale.event_generate("<ButtonRelease-1>", x=end[0], y=end[1], state=0x100)
    root.update()


class EventLoopProbe:
    """Record how late `after(10)` callbacks run: the Tk event loop's delay, in ms."""

    def __init__(self, root: tk.Tk) -> None:
        self.root = root
        self.delays: list[float] = []
        self._due = 0.0
        self._id: str | None = None

    @property
    def running(self) -> bool:
        """Return True while probing."""
        return self._id is not None

    def start(self) -> None:
        """Start probing."""
        self._due = time.perf_counter() + PROBE_INTERVAL_MS / 1000
        self._id = self.root.after(PROBE_INTERVAL_MS, self._tick)

    def stop(self) -> None:
        """Stop probing."""
        if self._id is not None:
            self.root.after_cancel(self._id)
            self._id = None

    def percentile(self, share: float) -> float:
        """Return the delay below which `share` of the probes ran."""
        ordered = sorted(self.delays)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def _tick(self) -> None:
        """Record this callback's lateness and schedule the next."""
        now = time.perf_counter()
        self.delays.append((now - self._due) * 1000)
        self._due = now + PROBE_INTERVAL_MS / 1000
        self._id = self.root.after(PROBE_INTERVAL_MS, self._tick)


# ----- a whole run -------------------------------------------------------------------------------


def test_a_run_shows_live_loss_and_heatmaps_then_results(make_window, digit_folder, tmp_path):
    window = make_window(digit_folder)
    tab, root = window.tab, window.root
    tab.service = TrainingService(training_hooks.serve_with_frequent_snapshots)
    tab.form.epochs.set("3")
    tab.run.train_button.invoke()
    assert tab.running and tab.run.train_button.instate(["disabled"])

    live_points: list[int] = []
    mosaics: set[str] = set()

    def watch() -> bool:
        if tab.running and tab.plots.curves.points:
            live_points.append(longest_line(tab.plots.loss_plot))
        if tab.weights.heatmaps is not None:
            mosaics.add(hashlib.sha1(tab.weights.heatmaps.mosaic.tobytes()).hexdigest())
        return tab.finished is not None

    pump(root, watch)

    assert max(live_points) > 10, "loss points reached the plot while training ran"
    assert len(mosaics) >= 3, "the heatmaps changed during the run"
    assert tab.run.headline.cget("text").startswith("Finished: test accuracy")
    assert tab.finished.evaluation.accuracy > 0.3
    assert "Accuracy" in canvas_text(tab.plots.accuracy_plot)
    assert {"Loss", "smoothed", "epoch test"} <= set(canvas_text(tab.plots.loss_plot))
    assert str(tab.views.select()) == str(tab.results)
    counts = [int(text) for text in canvas_text(tab.results.confusion) if text.isdigit()]
    assert sum(counts) >= TEST_IMAGES  # the cells, plus the row and column digit labels
    assert len(tab.results.gallery.items) == len(tab.finished.evaluation.misclassified)

    tab.results.use_button.invoke()
    assert window.used and window.used[0][0] is tab.finished.result.network
    tab.save_model(tmp_path / "trained.json")
    assert load_model(tmp_path / "trained.json").layer_sizes == [784, 32, 10]


def test_add_my_digits_trains_on_the_kept_drawings_too(make_window, digit_folder, tmp_path):
    window = make_window(digit_folder)
    tab, root = window.tab, window.root
    mine = tmp_path / "my-digits"
    tab.context.my_digits_folder = lambda: mine
    tab.form.epochs.set("1")
    tab.form.cores.set("1")  # one worker counts every sample it trains on
    tab.form.my_digits_check.invoke()
    assert tab.form.settings().add_my_digits

    tab.run.train_button.invoke()  # My digits is still empty: nothing to add
    assert not tab.running
    assert tab.run.headline.cget("text").startswith("Cannot train: My digits has no drawings")

    store = DigitStore(mine)
    for label in range(5):
        image = Image.new("L", (280, 280), 255)
        ImageDraw.Draw(image).text(
            (140, 140), str(label), fill=0, font=ImageFont.load_default(180), anchor="mm"
        )
        store.add(image, label)
    tab.run.train_button.invoke()
    assert tab.running
    pump(root, lambda: tab.started is not None)
    assert "with 5 of my digits" in tab.run.headline.cget("text")
    pump(root, finished(tab))

    repeats = round(training_worker.MY_DIGITS_SHARE * TRAIN_IMAGES / 5)
    assert tab.started.train_images == TRAIN_IMAGES + 5 * repeats
    assert f"{5 * repeats:,} of the images are my digits" in tab.log.text.get("1.0", "end")


def test_clicking_a_confusion_cell_and_a_neuron(make_window, digit_folder):
    window = make_window(digit_folder)
    tab, root = window.tab, window.root
    tab.form.epochs.set("1")
    tab.run.train_button.invoke()
    pump(root, finished(tab))

    confusion = tab.results.confusion
    x = confusion.left + 2.5 * confusion.cell_width
    y = confusion.top + 2.5 * confusion.cell_height
    confusion.event_generate("<Button-1>", x=round(x), y=round(y))
    root.update()
    right = tab.finished.evaluation.confusion[2][2]
    assert len(tab.results.gallery.items) == right
    assert all(item.true == item.predicted == 2 for item in tab.results.gallery.items)
    assert tab.results.gallery_caption.cget("text").startswith(f"2s read right ({right}")

    tab.views.select(tab.weights)
    layout = tab.weights.layout  # as shown (the page may have grown since the run began)
    step = layout.side + layout.gap
    tab.weights.mosaic_canvas.event_generate("<Button-1>", x=step * 3 + 2, y=2)
    root.update()
    assert tab.weights.selected_unit == 3
    assert tab.weights.neuron_caption.cget("text") == "Unit 4 of layer 1"


def test_plots_and_heatmaps_export_as_png(make_window, digit_folder, tmp_path):
    window = make_window(digit_folder)
    tab, root = window.tab, window.root
    tab.form.epochs.set("1")
    tab.run.train_button.invoke()
    pump(root, finished(tab))

    tab.plots.export_plots(tmp_path / "plots.png")
    tab.weights.export_heatmaps(tmp_path / "heatmaps.png")
    with Image.open(tmp_path / "plots.png") as plots:
        assert plots.format == "PNG"
        assert (
            plots.width == tab.plots.loss_plot.winfo_width() + tab.plots.accuracy_plot.winfo_width()
        )
    with Image.open(tmp_path / "heatmaps.png") as heatmaps:
        assert heatmaps.format == "PNG"
        assert heatmaps.width >= tab.weights.heatmaps.mosaic.width


# ----- steering a run ----------------------------------------------------------------------------


def test_moving_the_slider_reaches_the_running_engine(make_window, digit_folder):
    window = make_window(digit_folder)
    tab, root = window.tab, window.root
    tab.form.schedule.set("constant")
    tab.form.epochs.set("100")
    tab.run.train_button.invoke()
    pump(root, lambda: tab.latest_batch is not None)
    assert tab.latest_batch.learning_rate == TrainConfig().learning_rate

    drag_slider(root, tab.form.rate_scale, -2.0)  # log10 of 0.01

    assert tab.form.learning_rate == 0.01
    assert tab.form.rate_label.cget("text") == "0.01"
    pump(root, lambda: tab.latest_batch.learning_rate == 0.01)
    tab.run.stop_button.invoke()
    pump(root, finished(tab))


def test_pause_resume_and_stop(make_window, digit_folder):
    window = make_window(digit_folder)
    tab, root = window.tab, window.root
    tab.form.epochs.set("100")
    tab.run.train_button.invoke()
    pump(root, lambda: tab.latest_batch is not None)

    tab.run.pause_button.invoke()
    assert tab.run.pause_button.cget("text") == "Resume"
    assert tab.run.headline.cget("text").startswith("Paused")
    pump_for(root, 0.3)  # let the batch under way and its messages arrive
    paused_at = tab.latest_batch.samples_seen
    pump_for(root, 0.5)
    assert tab.latest_batch.samples_seen == paused_at

    tab.run.pause_button.invoke()
    assert tab.run.pause_button.cget("text") == "Pause"
    pump(root, lambda: tab.latest_batch.samples_seen > paused_at)

    tab.run.stop_button.invoke()
    pump(root, finished(tab))
    assert tab.finished.result.reason == "stopped"
    assert tab.run.headline.cget("text").startswith("Stopped: test accuracy")
    assert not tab.run.train_button.instate(["disabled"])
    assert tab.run.stop_button.instate(["disabled"])


def test_a_run_at_learning_rate_10_recovers_and_finishes(make_window, digit_folder):
    window = make_window(digit_folder)
    tab, root = window.tab, window.root
    tab.form.schedule.set("constant")
    tab.form.epochs.set("3")
    tab.form.rate_scale.set(1.0)  # log10 of 10
    tab.form.cores.set("1")  # averaging two workers' weights can spare them the divergence
    assert tab.form.rate_label.cget("text") == "10"
    tab.run.train_button.invoke()
    pump(root, finished(tab))

    assert tab.finished.result.reason == "finished"
    assert tab.finished.result.divergences >= 1
    assert tab.run.headline.cget("text").startswith("Finished: test accuracy")
    weights = tab.finished.result.network.weights
    assert all(abs(w) < 1e6 for layer in weights for row in layer for w in row)
    assert not tab.results.use_button.instate(["disabled"])


def test_an_exception_in_the_worker_is_shown(make_window, digit_folder):
    window = make_window(digit_folder)
    tab, root = window.tab, window.root
    tab.service = TrainingService(training_hooks.serve_with_broken_train)
    tab.run.train_button.invoke()
    pump(root, lambda: tab.last_failure is not None)

    assert tab.run.headline.cget("text") == "The training failed: RuntimeError: the engine broke"
    assert tab.run.details_button.winfo_ismapped()
    assert not tab.run.train_button.instate(["disabled"])
    tab.run.details_button.invoke()
    details = next(w for w in tab.run.winfo_children() if isinstance(w, tk.Toplevel))
    text = next(w for w in descendants(details) if isinstance(w, tk.Text))
    assert "Traceback" in text.get("1.0", "end") and "broken_train" in text.get("1.0", "end")


def test_a_run_whose_testing_fails_can_still_be_saved(make_window, digit_folder, tmp_path):
    window = make_window(digit_folder)
    tab, root = window.tab, window.root
    tab.service = TrainingService(training_hooks.serve_with_broken_evaluate)
    tab.form.epochs.set("1")
    tab.run.train_button.invoke()
    pump(root, lambda: tab.last_failure is not None)

    assert tab.run.headline.cget("text") == "Trained, but testing the network failed"
    assert tab.run.details.cget("text") == (
        "Save model… keeps the trained weights. (ValueError: nothing to evaluate)"
    )
    assert tab.views.select() == str(tab.results)
    assert tab.run.details_button.winfo_ismapped()
    assert not tab.results.save_button.instate(["disabled"])
    tab.save_model(tmp_path / "kept.json")
    assert load_model(tmp_path / "kept.json").layer_sizes[-1] == 10


def two_cores(tab: TrainTab) -> None:
    """Set the form to train on two worker processes (skip on a one-core computer)."""
    if available_cores() < 2:
        pytest.skip("training on two cores needs a computer with two")
    tab.form.cores.set("2")


def test_cores_default_to_all_of_them_and_are_remembered(make_window, tmp_path):
    form = make_window(tmp_path).tab.form
    assert form.cores.get() == str(available_cores()) == str(min(os.cpu_count(), 64))
    assert form.settings().config().workers == available_cores()
    form.cores.set("1")
    assert form.values()["cores"] == 1
    assert form.settings().config().workers == 1
    form.restore({"cores": 64})  # remembered on a bigger computer
    assert form.cores.get() == str(available_cores())
    form.cores.set("0")
    with pytest.raises(ValueError, match="cores must be a whole number from 1 to"):
        form.settings()


def start_a_long_two_core_run(tab: TrainTab) -> tuple[set[int], int]:
    """Start a 100-epoch run on 2 cores and wait for its first batch.

    Return the test process's child pids from before the run and the training process's pid.
    """
    two_cores(tab)
    tab.form.epochs.set("100")
    before = child_pids(os.getpid())
    tab.run.train_button.invoke()
    pump(tab.winfo_toplevel(), lambda: tab.latest_batch is not None)
    return before, tab.worker.pid


def test_a_run_trains_in_a_child_process_that_starts_the_other_worker(make_window, digit_folder):
    window = make_window(digit_folder)
    tab, root = window.tab, window.root
    before, hub = start_a_long_two_core_run(tab)
    assert hub != os.getpid() and child_pids(os.getpid()) - before == {hub}
    assert len(child_pids(hub)) == 1, "the training process started one more worker"
    assert " on 2 cores, " in tab.run.headline.cget("text")
    assert tab.latest_batch.total_samples == 100 * TRAIN_IMAGES
    tab.run.stop_button.invoke()
    pump(root, finished(tab))
    assert tab.finished.result.network.metadata["workers"] == 2
    pump(root, lambda: not child_pids(hub))  # the run's other worker ended with it

    # The training process stays for the next run, with the data it read.
    tab.form.cores.set("1")
    tab.form.epochs.set("1")
    tab.run.train_button.invoke()
    assert tab.worker.pid == hub
    pump(root, finished(tab))
    assert "workers" not in tab.finished.result.network.metadata


def test_shutdown_mid_training_ends_every_worker_process_quickly(make_window, digit_folder):
    tab = make_window(digit_folder).tab
    before, hub = start_a_long_two_core_run(tab)
    workers = {hub, *child_pids(hub)}
    assert len(workers) == 2

    started = time.perf_counter()
    tab.shutdown()
    while any(alive(pid) for pid in workers):
        assert time.perf_counter() - started < CLOSE_LIMIT_SECONDS, "a worker outlived the tab"
        time.sleep(0.01)
    assert multiprocessing.active_children() == []
    assert child_pids(os.getpid()) - before == set()


def test_a_killed_training_process_is_reported_and_the_next_run_starts_afresh(
    make_window, digit_folder
):
    window = make_window(digit_folder)
    tab, root = window.tab, window.root
    tab.form.epochs.set("100")
    tab.run.train_button.invoke()
    pump(root, lambda: tab.latest_batch is not None)
    killed = tab.worker.pid
    workers = {killed, *child_pids(killed)}

    os.kill(killed, signal.SIGKILL)
    pump(root, lambda: tab.last_failure is not None)

    assert tab.run.headline.cget("text") == (
        "The training failed: the training process ended unexpectedly (killed by signal 9)"
    )
    assert not tab.running and not tab.run.train_button.instate(["disabled"])
    pump(root, lambda: not any(alive(pid) for pid in workers), timeout=5.0)
    tab.form.epochs.set("1")
    tab.run.train_button.invoke()
    assert tab.worker.pid != killed
    pump(root, finished(tab))
    assert tab.finished.result.reason == "finished"


def app_training_in_a_subprocess(folder: Path, then: str) -> subprocess.Popen:
    """Start the app in a subprocess, training on folder; once a batch is done it prints the
    time and the pids of its training processes, then runs the Python statement `then`."""
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from app import main
        from app.main import create_app

        main.messagebox.askokcancel = lambda *args, **options: True  # "Quit while training?"

        def parent_of(entry):
            try:
                return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                return None

        app = create_app(["--data", {str(folder)!r}])
        tab = app.train_tab
        app.notebook.select(tab)
        tab.form.epochs.set("100")
        tab.train()

        def once_training():
            if tab.latest_batch is None:
                app.root.after(20, once_training)
                return
            hub = tab.worker.pid
            workers = [hub] + [
                int(entry.name)
                for entry in Path("/proc").iterdir()
                if entry.name.isdigit() and parent_of(entry) == hub
            ]
            print(time.time(), *workers, flush=True)
            {then}

        app.root.after(20, once_training)
        app.root.mainloop()
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )


def test_closing_the_window_mid_training_exits_within_a_second(digit_folder, x_display):
    close = 'app.root.tk.call(app.root.protocol("WM_DELETE_WINDOW"))  # the close button'
    blocks_before = shared_blocks()
    process = app_training_in_a_subprocess(digit_folder, close)
    closed_at, *workers = process.stdout.readline().split()
    process.wait(RUN_TIMEOUT_SECONDS)
    exited_at = time.time()
    stderr = process.stderr.read()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert exited_at - float(closed_at) < CLOSE_LIMIT_SECONDS
    assert len(workers) == min(2, available_cores())  # the training process and its spoke
    assert not any(alive(int(pid)) for pid in workers), "a worker outlived the app"
    assert_shared_memory_released(blocks_before)


def assert_shared_memory_released(blocks_before: set[str]) -> None:
    """Fail if shared memory made since blocks_before outlives the app for a second or more
    (the workers' board: a killed training process leaves it to multiprocessing's tracker)."""
    deadline = time.perf_counter() + CLOSE_LIMIT_SECONDS
    while shared_blocks() - blocks_before and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert shared_blocks() - blocks_before == set(), "the workers' shared memory was left"


def test_no_worker_outlives_an_app_that_is_killed_mid_training(digit_folder, x_display):
    blocks_before = shared_blocks()
    process = app_training_in_a_subprocess(digit_folder, "pass")
    _, *workers = process.stdout.readline().split()
    assert workers
    process.kill()  # as a crash or the task manager would: no shutdown code runs
    process.wait(RUN_TIMEOUT_SECONDS)
    deadline = time.perf_counter() + CLOSE_LIMIT_SECONDS
    while any(alive(int(pid)) for pid in workers):
        assert time.perf_counter() < deadline, "a worker outlived the killed app"
        time.sleep(0.01)
    assert_shared_memory_released(blocks_before)


def test_the_window_still_fits_a_laptop_screen_after_a_run(digit_folder, x_display):
    app = create_app(["--data", str(digit_folder)])
    try:
        tab = app.train_tab
        app.notebook.select(tab)
        tab.form.hidden.set(
            "16-16"
        )  # the classic shape: the most weight pictures beside the mosaic
        tab.form.epochs.set("1")
        tab.train()
        pump(app.root, finished(tab))
        for page in (tab.weights, tab.results):
            tab.views.select(page)
            assert_window_fits_a_laptop(app)
    finally:
        app.close()


# ----- data -----------------------------------------------------------------------------------


def test_missing_mnist_offers_a_download_that_makes_it_trainable(
    make_window, tmp_path, monkeypatch
):
    def download(folder: Path, progress: Callable, cancel: object) -> None:
        progress("train-images-idx3-ubyte.gz", 0, 100)
        write_digit_folder(folder, 200, 50)
        progress("train-images-idx3-ubyte.gz", 100, 100)

    monkeypatch.setattr(training_worker, "download_mnist", download)
    window = make_window(tmp_path / "data")
    tab, root = window.tab, window.root
    assert tab.data.data_label.cget("text").startswith("Not found in")
    tab.run.train_button.invoke()
    assert not tab.running
    assert tab.run.headline.cget("text").startswith("MNIST is needed")

    tab.data.download_button.invoke()
    pump(root, lambda: tab.run.headline.cget("text").startswith("MNIST downloaded"))
    assert tab.data.data_label.cget("text") == f"Using {tmp_path / 'data'}"
    tab.form.epochs.set("1")
    tab.run.train_button.invoke()
    pump(root, finished(tab))


def test_a_failed_download_says_why_and_keeps_nothing(make_window, tmp_path, monkeypatch):
    def download(folder: Path, progress: Callable, cancel: object) -> None:
        raise DownloadError("train-images-idx3-ubyte.gz: no network (connection refused)")

    monkeypatch.setattr(training_worker, "download_mnist", download)
    window = make_window(tmp_path / "data")
    tab, root = window.tab, window.root
    tab.data.download_button.invoke()
    pump(root, lambda: tab.run.headline.cget("text").startswith("The download failed"))
    assert "no network" in tab.data.data_label.cget("text")
    assert tab.data.download_button.cget("text") == "Download"
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


# ----- responsiveness ----------------------------------------------------------------------------


def measure_run(window: Window) -> EventLoopProbe:
    """Train with the tab's settings under Tk's own mainloop, as the app runs; return the probe.

    The probe records only while batches arrive and no result is shown yet.
    """
    root, tab = window.root, window.tab
    probe = EventLoopProbe(root)
    deadline = time.perf_counter() + RUN_TIMEOUT_SECONDS

    def watch() -> None:
        if tab.latest_batch is not None and not probe.running and tab.finished is None:
            probe.start()
        if tab.finished is not None or not tab.running or time.perf_counter() > deadline:
            probe.stop()
            root.quit()
        else:
            root.after(PROBE_INTERVAL_MS, watch)

    tab.run.train_button.invoke()
    root.after(PROBE_INTERVAL_MS, watch)
    root.mainloop()
    assert tab.finished is not None, "the run did not finish in time"
    return probe


def cli_samples_per_second(folder: Path, images: int, workers: int, tmp_path: Path) -> float:
    """Return the speed `python -m engine train --workers W` reports for one epoch on images."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine",
            "train",
            "--data",
            str(folder),
            "--limit",
            str(images),
            "--epochs",
            "1",
            "--workers",
            str(workers),
            "--json",
            "--out",
            str(tmp_path / "cli.json"),
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS * 5,
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
    )
    return json.loads(completed.stdout)["samples_per_second"]


def test_the_event_loop_stays_responsive_while_training(make_window, digit_folder):
    """Probe the event loop while training; print p50/p99 and require that it never froze."""
    window = make_window(digit_folder)
    window.tab.form.hidden.set("128")
    window.tab.form.epochs.set("4")
    probe = measure_run(window)
    p50, p99 = probe.percentile(0.5), probe.percentile(0.99)
    print(
        f"\nevent-loop delay while training: p50 {p50:.1f} ms, p99 {p99:.1f} ms,"
        f" {len(probe.delays)} probes, load average {os.getloadavg()[0]:.1f}"
    )
    assert len(probe.delays) > 20
    assert max(probe.delays) < FROZEN_MS


@pytest.mark.mnist
@pytest.mark.parametrize("cores", [1, 2])
def test_real_mnist_speed_and_event_loop_delay(make_window, tmp_path, cores):
    """Train 784-128-10 on 5,000 real digits for one epoch, as `engine train` does by default,
    on 1 and 2 cores.

    Prints the event-loop delays, the heatmaps' cost and the app's speed next to the CLI's on
    the same settings (`--workers` as many as the app's cores).
    """
    folder = os.environ.get("DIGITS_DATA", "")
    if not folder:
        pytest.skip("real MNIST not available: set DIGITS_DATA to a folder with the MNIST files")
    window = make_window(Path(folder))
    tab = window.tab
    tab.form.hidden.set("128")
    tab.form.training_size.set(REAL_MNIST_IMAGES)
    tab.form.epochs.set("1")
    if cores > available_cores():
        pytest.skip(f"{cores} cores needed")
    tab.form.cores.set(str(cores))
    window_cpu = time.process_time()
    probe = measure_run(window)
    window_cpu = time.process_time() - window_cpu
    result = tab.finished.result
    cli_speed = cli_samples_per_second(Path(folder), REAL_MNIST_LIMIT, cores, tmp_path)
    p50, p99 = probe.percentile(0.5), probe.percentile(0.99)
    print(
        f"\nreal MNIST, 784-128-10 relu, 5,000 images, 1 epoch, batch 32, {cores} cores:"
        f" app {result.samples_per_second:,.0f} samples/s, CLI {cli_speed:,.0f} samples/s,"
        f" load average {os.getloadavg()[0]:.1f}; test accuracy"
        f" {result.test_accuracy:.1%}; event-loop delay p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        f" ({len(probe.delays)} probes); heatmap snapshots"
        f" {tab.finished.snapshot_seconds / result.train_seconds:.1%} of training time,"
        f" last render on the Tk thread {tab.weights.render_seconds * 1000:.1f} ms;"
        f" the window's process used {window_cpu:.2f} s of CPU in"
        f" {result.train_seconds:.2f} s of training"
    )
    assert result.test_accuracy > 0.8
    assert max(probe.delays) < FROZEN_MS


def test_damaged_mnist_is_named_in_plain_words_with_the_details_kept(
    make_window, digit_folder, tmp_path
):
    data = tmp_path / "damaged"
    shutil.copytree(digit_folder, data)
    labels = next(data.glob("train-labels*"))
    raw = gzip.decompress(labels.read_bytes()) if labels.suffix == ".gz" else labels.read_bytes()
    damaged = b"\0\0\x08\x03" + raw[4:]  # the magic number of an image file in a label file
    labels.write_bytes(gzip.compress(damaged) if labels.suffix == ".gz" else damaged)
    window = make_window(data)
    tab, root = window.tab, window.root
    tab.run.train_button.invoke()
    pump(root, lambda: not tab.training)

    line = tab.data.data_label.cget("text")
    assert line == (
        f"{labels.name} is damaged or is not an MNIST file. "
        "Download MNIST again, or choose another folder."
    )
    assert "magic" not in tab.run.headline.cget("text")
    assert tab.data.details_button.winfo_ismapped()
    assert "wrong magic number 0x00000803" in tab.data.problem
