"""GUI tests of steering a run from the Train tab: momentum and weight decay, the learning-rate
slider dragged to the top, Step and +1 epoch, the run log and the hint after a run (Xvfb, the
real tab, real runs on a small synthetic MNIST folder)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from test_train_tab import canvas_text, drag_slider, finished, pump
from test_training_worker import write_digit_folder

from app.main import DigitsApp, create_app
from app.train_form import MOMENTUM_STEPS, WEIGHT_DECAY_STEPS
from app.train_tab import TrainTab
from app.training_worker import LEARNING_RATE_MAX

pytestmark = pytest.mark.gui

TRAIN_IMAGES = 1000
TEST_IMAGES = 100
BIG_BATCH = "256"  # 4 batches an epoch: a run can be stepped through
BATCHES_PER_EPOCH = 4


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory):
    """Return a small synthetic MNIST folder."""
    return write_digit_folder(tmp_path_factory.mktemp("digits"), TRAIN_IMAGES, TEST_IMAGES)


@pytest.fixture
def app(folder) -> Iterator[DigitsApp]:
    """Yield the app reading MNIST from the folder, its Train tab shown, a small network set."""
    app = create_app(["--data", str(folder)])
    app.notebook.select(app.train_tab)
    app.train_tab.form.hidden.set("32")
    app.root.update()
    yield app
    app.close()


def start_paused(app: DigitsApp) -> TrainTab:
    """Start a run and pause it before its first batch; return the tab once it waits."""
    tab = app.train_tab
    tab.train()
    tab.toggle_pause()
    pump(app.root, lambda: tab.headline_kind == "run" and "Paused before" in headline(tab))
    return tab


def headline(tab: TrainTab) -> str:
    """Return the run card's headline."""
    return tab.run.headline.cget("text")


def test_momentum_and_weight_decay_start_a_run_and_steer_it_live(app):
    tab = app.train_tab
    tab.form.momentum_slider.scale.set(MOMENTUM_STEPS.index(0.5))
    tab.form.decay_slider.scale.set(WEIGHT_DECAY_STEPS.index(1e-4))
    tab.form.rate_scale.set(-1.0)  # log10 of 0.1
    tab.form.epochs.set("2")
    start_paused(app)
    assert (tab.run_config.momentum, tab.run_config.weight_decay) == (0.5, 1e-4)

    tab.form.momentum_slider.scale.set(MOMENTUM_STEPS.index(0.9))
    tab.form.decay_slider.scale.set(WEIGHT_DECAY_STEPS.index(1e-3))
    pump(app.root, lambda: not tab._knob_log.pending)
    assert tab.log.lines()[-1] == "set momentum 0.9, weight decay 0.001"
    tab.toggle_pause()
    pump(app.root, finished(tab))

    metadata = tab.finished.result.network.metadata
    assert (metadata["momentum"], metadata["weight_decay"]) == (0.9, 1e-3)
    assert tab.finished.result.reason == "finished"
    assert tab.log.lines()[0].startswith("Run started: 784-32-10 (relu) on 1,000 images")
    assert "momentum 0.5, weight decay 0.0001" in tab.log.lines()[0]


def test_the_slider_dragged_to_the_top_mid_run_is_recovered_from_on_the_slider_and_log(app):
    tab = app.train_tab
    tab.form.schedule.set("constant")
    tab.form.epochs.set("4")
    # With momentum, a rate of 10 diverges on these easy digits too (plain SGD may cope).
    tab.form.momentum_slider.scale.set(MOMENTUM_STEPS.index(0.9))
    start_paused(app)
    for _ in range(2):  # two batches at the preset's rate: the run is under way
        tab.step()
        pump(app.root, lambda: tab.run.step_button.instate(["!disabled"]))
    drag_slider(app.root, tab.form.rate_scale, 1.0)  # log10 of 10, the top
    assert tab.form.learning_rate == LEARNING_RATE_MAX
    tab.toggle_pause()
    pump(app.root, finished(tab))

    result = tab.finished.result
    assert result.reason == "finished" and result.epochs_completed == 4, "the run went on"
    assert result.divergences >= 1
    assert tab.form.learning_rate == result.final_learning_rate < LEARNING_RATE_MAX
    assert tab.form.rate_label.cget("text") == f"{result.final_learning_rate:.3g}"
    log = tab.log.lines()
    recoveries = [line for line in log if "went back to the last good" in line]
    assert len(recoveries) == result.divergences
    moved = log.index("Epoch 1, batch 2: set learning rate 10")  # after the 2 steps
    assert moved < log.index(recoveries[0]), "the move is logged before what it caused"
    assert recoveries[-1].endswith(f"lowered the learning rate to {result.final_learning_rate:g}.")
    assert headline(tab).startswith("Finished: test accuracy")
    assert tab.hint.startswith(f"The learning rate {LEARNING_RATE_MAX:g} was too high")
    assert details(tab).startswith(tab.hint[:40]), "the hint is shown with the outcome"


def details(tab: TrainTab) -> str:
    """Return the line under the run card's progress bar."""
    return tab.run.details.cget("text")


def test_step_trains_one_batch_and_plus_one_epoch_goes_on_after_the_last(app):
    tab = app.train_tab
    tab.form.batch_size.set(BIG_BATCH)
    tab.form.epochs.set("1")
    tab.form.cores.set("1")  # one process trains every batch of an epoch
    start_paused(app)
    assert tab.run.step_button.instate(["!disabled"])
    for batch in range(2, BATCHES_PER_EPOCH + 1):
        tab.run.step_button.invoke()
        pump(app.root, lambda batch=batch: f"before batch {batch} " in headline(tab))
    assert tab.latest_batch.batch == BATCHES_PER_EPOCH - 1
    tab.run.step_button.invoke()  # the last batch: the epoch ends and the run waits
    pump(app.root, lambda: "All 1 epochs done" in headline(tab))
    assert tab.running and tab.run.step_button.instate(["disabled"])
    assert len(tab.plots.curves.ends) == 1

    tab.run.extra_epoch_button.invoke()
    assert tab.plots.curves.epochs == 2
    pump(app.root, lambda: "All 2 epochs done" in headline(tab))
    assert len(tab.plots.curves.ends) == 2 and tab.running
    tab.stop()
    pump(app.root, finished(tab))
    assert tab.finished.result.epochs_completed == 2
    log = tab.log.lines()
    assert "+1 epoch: the run now has 2 epochs" in log
    assert log.count("Step: one batch") == BATCHES_PER_EPOCH
    assert "Paused after the last epoch (2)" in log


def test_a_poor_run_ends_with_a_hint_from_what_it_measured(app):
    tab = app.train_tab
    tab.form.rate_scale.set(-3.0)  # log10 of 0.001: far too low
    tab.form.epochs.set("1")
    tab.train()
    started = time.perf_counter()
    pump(app.root, finished(tab))
    assert time.perf_counter() - started < 60
    assert "1,000 training images" in tab.hint or "too low" in tab.hint, tab.hint
    assert details(tab) == tab.hint
    assert tab.log.lines()[-1] == f"Hint: {tab.hint}"


def test_a_run_fills_the_charts_with_every_layer_statistics(app):
    tab = app.train_tab
    tab.form.hidden.set("32-16")
    tab.form.epochs.set("2")
    tab.train()
    pump(app.root, finished(tab))
    measurements = tab.charts.charts.measurements
    assert measurements, "at least the trained network's statistics arrived"
    assert all(len(m.layers) == 3 for m in measurements)
    assert measurements[-1].epoch_position == pytest.approx(2.0, abs=0.05)
    tab.views.select(tab.charts)
    app.root.update()
    for plot in (tab.charts.gradient_plot, tab.charts.histogram_plot, tab.charts.dead_plot):
        assert "layer 1" in " ".join(canvas_text(plot)), canvas_text(plot)
    dead = [text for text in canvas_text(tab.charts.dead_plot) if text.startswith("layer")]
    assert sorted(text.split(":")[0] for text in dead) == ["layer 1", "layer 2"], "hidden ReLU"
