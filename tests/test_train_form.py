"""GUI tests of the Train tab's settings form on its own (`app.train_form.SettingsForm`)."""

from __future__ import annotations

import tkinter as tk

import pytest

from app.train_form import (
    CUSTOM_PRESET,
    MOMENTUM_STEPS,
    WEIGHT_DECAY_STEPS,
    SettingsForm,
    remembered_fields,
)
from app.train_style import configure_train_styles
from engine.network import Network

pytestmark = pytest.mark.gui


def make_form(
    root: tk.Tk, loaded: Network | None = None, knobs: list[tuple[str, float]] | None = None
) -> tuple[SettingsForm, list[float]]:
    """Return a packed form and the list of learning rates it reports (momentum and weight
    decay moves go to knobs, as (name, value))."""
    configure_train_styles(root)
    rates: list[float] = []
    moves = [] if knobs is None else knobs
    form = SettingsForm(
        root,
        8,
        1.0,
        lambda: loaded,
        rates.append,
        lambda value: moves.append(("momentum", value)),
        lambda value: moves.append(("weight decay", value)),
    )
    form.pack()
    root.update()
    return form, rates


def test_the_fields_become_train_settings(tk_root):
    form, _ = make_form(tk_root)
    form.hidden.set("64-32")
    form.epochs.set("7")
    form.batch_size.set("16")
    form.training_size.set("30,000")
    form.augment.set(True)
    settings = form.settings()
    assert settings.architecture.hidden == "64-32"
    assert (settings.epochs, settings.batch_size, settings.train_images) == (7, 16, 30_000)
    assert settings.augment and not settings.continue_loaded
    assert settings.learning_rate == form.learning_rate


def test_a_bad_epoch_count_says_why(tk_root):
    form, _ = make_form(tk_root)
    form.epochs.set("three")
    with pytest.raises(ValueError, match="epochs must be a whole number"):
        form.settings()


def test_presets_fill_the_fields_and_an_edit_makes_it_custom(tk_root):
    form, rates = make_form(tk_root)
    classic = next(name for name in form.presets if "16-16" in name)
    form.apply_preset(classic)
    assert form.hidden.get() == "16-16"
    assert form.learning_rate == form.presets[classic].learning_rate
    assert rates == [], "applying a preset is not a slider move"
    form.hidden.set("20")
    assert form.preset.get() == CUSTOM_PRESET


def test_running_locks_the_fields_but_not_the_slider(tk_root):
    form, rates = make_form(tk_root)
    form.set_running(True)
    assert form.hidden_entry.instate(["disabled"]) and form.epochs_box.instate(["disabled"])
    assert not form.rate_scale.instate(["disabled"])
    form.rate_scale.set(-2.0)  # log10 of 0.01
    assert rates[-1] == 0.01 and form.rate_label.cget("text") == "0.01"
    form.set_running(False)
    assert not form.hidden_entry.instate(["disabled"])


def test_continuing_the_loaded_model_locks_the_architecture(tk_root):
    form, _ = make_form(tk_root, Network.create([784, 16, 10], "relu", seed=0))
    form.start_loaded.invoke()
    assert form.hidden_entry.instate(["disabled"])
    assert form.loaded_label.cget("text") == "784-16-10, relu"
    assert form.settings().continue_loaded


def test_momentum_and_weight_decay_stop_at_their_steps_start_a_run_and_stay_live(tk_root):
    knobs: list[tuple[str, float]] = []
    form, _ = make_form(tk_root, knobs=knobs)
    assert (form.momentum, form.weight_decay) == (0.0, 0.0)
    assert form.momentum_slider.label.cget("text") == "off"
    form.set_running(True)
    assert not form.momentum_slider.scale.instate(["disabled"])
    assert not form.decay_slider.scale.instate(["disabled"])
    form.momentum_slider.scale.set(MOMENTUM_STEPS.index(0.9) + 0.3)  # snaps to the nearest stop
    form.decay_slider.scale.set(WEIGHT_DECAY_STEPS.index(1e-4))
    assert knobs == [("momentum", 0.9), ("weight decay", 1e-4)]
    assert form.momentum_slider.label.cget("text") == "0.9"
    form.momentum_slider.scale.set(MOMENTUM_STEPS.index(0.9) - 0.2)
    assert len(knobs) == 2, "a move within the same stop is not reported again"
    form.set_running(False)
    config = form.settings().config()
    assert (config.momentum, config.weight_decay) == (0.9, 1e-4)


def test_knobs_are_remembered_and_a_lowered_rate_shows_exactly(tk_root):
    form, rates = make_form(tk_root)
    form.momentum_slider.scale.set(MOMENTUM_STEPS.index(0.5))
    form.decay_slider.scale.set(WEIGHT_DECAY_STEPS.index(3e-3))
    form.show_learning_rate(0.75)  # 1.5 halved by a recovered divergence
    assert form.rate_label.cget("text") == "0.75" and form.learning_rate == 0.75
    assert rates == [], "showing a rate does not report it"
    remembered = remembered_fields(form.presets)(form.values())
    other, _ = make_form(tk_root)
    other.restore(remembered)
    assert (other.momentum, other.weight_decay, other.learning_rate) == (0.5, 3e-3, 0.75)
    form.rate_scale.set(-1.0)
    assert form.learning_rate == 0.1 == rates[-1]
