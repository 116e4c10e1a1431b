"""GUI tests of the Train tab's run card on its own (`app.train_run.RunPanel`)."""

from __future__ import annotations

import tkinter as tk

import pytest
from test_train_tab import descendants

from app.train_run import DETAILS_MAX_CHARS, RunPanel
from app.train_style import configure_train_styles

pytestmark = pytest.mark.gui


def make_panel(root: tk.Tk) -> tuple[RunPanel, list[str]]:
    """Return a packed run card and the list of buttons pressed on it."""
    configure_train_styles(root)
    pressed: list[str] = []
    panel = RunPanel(
        root,
        8,
        lambda: pressed.append("train"),
        lambda: pressed.append("pause"),
        lambda: pressed.append("stop"),
        lambda: pressed.append("step"),
        lambda: pressed.append("+1 epoch"),
    )
    panel.pack(fill="x")
    root.update()
    return panel, pressed


def test_buttons_follow_the_running_state_and_report_presses(tk_root):
    panel, pressed = make_panel(tk_root)
    assert panel.pause_button.instate(["disabled"]) and panel.stop_button.instate(["disabled"])
    panel.train_button.invoke()
    panel.set_running(True)
    assert panel.train_button.instate(["disabled"])
    panel.pause_button.invoke()
    panel.show_paused(True)
    assert panel.pause_button.cget("text") == "Resume"
    panel.stop_button.invoke()
    panel.show_stopping()
    assert panel.stop_button.instate(["disabled"]) and panel.pause_button.cget("text") == "Pause"
    assert pressed == ["train", "pause", "stop"]


def test_headline_progress_and_details(tk_root):
    panel, _ = make_panel(tk_root)
    panel.show_headline("Diverged", "#c0392b")
    panel.show_progress(0.25)
    panel.show_details("Epoch 1/4")
    assert panel.headline.cget("text") == "Diverged"
    assert str(panel.headline.cget("foreground")) == "#c0392b"
    assert panel.progress_bar.cget("value") == 250
    assert panel.details.cget("text") == "Epoch 1/4"


def test_a_long_text_shows_one_line_and_the_rest_behind_details(tk_root):
    panel, _ = make_panel(tk_root)
    assert not panel.details_button.winfo_ismapped()
    height = panel.winfo_reqheight()
    long_text = "Training diverged at epoch 3, batch 12: " + "the loss grew without bound. " * 20
    panel.show_details(long_text, "How the run ended")
    tk_root.update()
    shown = panel.details.cget("text")
    assert shown.endswith("…") and len(shown) <= DETAILS_MAX_CHARS
    assert panel.winfo_reqheight() == height, "a long text does not make the card taller"
    assert panel.details_button.winfo_ismapped()
    panel.details_button.invoke()
    window = next(w for w in panel.winfo_children() if isinstance(w, tk.Toplevel))
    assert window.title() == "How the run ended"
    text = next(w for w in descendants(window) if isinstance(w, tk.Text))
    assert text.get("1.0", "end").strip() == long_text.strip()
    panel.show_details("Epoch 1/3")
    tk_root.update()
    assert not panel.details_button.winfo_ismapped(), "a new state drops the old details"


def test_a_failure_offers_its_traceback(tk_root):
    panel, _ = make_panel(tk_root)
    panel.show_more(("The training failed", "Traceback (most recent call last):\n  boom"))
    tk_root.update()
    assert panel.details_button.winfo_ismapped()
    panel.details_button.invoke()
    window = next(w for w in panel.winfo_children() if isinstance(w, tk.Toplevel))
    text = next(w for w in descendants(window) if isinstance(w, tk.Text))
    assert text.get("1.0", "end").startswith("Traceback")
    panel.show_more(None)
    tk_root.update()
    assert not panel.details_button.winfo_ismapped()


def test_step_works_only_while_paused_and_plus_one_epoch_while_running(tk_root):
    panel, pressed = make_panel(tk_root)
    assert panel.step_button.instate(["disabled"])
    assert panel.extra_epoch_button.instate(["disabled"])
    assert not panel.steering.winfo_ismapped(), "no run, no run controls: the line is the hint's"
    panel.set_running(True)
    tk_root.update()
    assert panel.steering.winfo_ismapped()
    assert panel.step_button.instate(["disabled"]), "a running run has nothing to step"
    assert not panel.extra_epoch_button.instate(["disabled"])
    panel.show_paused(True)
    assert not panel.step_button.instate(["disabled"])
    panel.step_button.invoke()
    panel.extra_epoch_button.invoke()
    assert pressed == ["step", "+1 epoch"]
    panel.show_stopping()
    assert panel.step_button.instate(["disabled"])
    assert panel.extra_epoch_button.instate(["disabled"])
