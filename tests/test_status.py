"""Tests of the status line (`app.status`): messages fade, errors stay, long texts stay short."""

from __future__ import annotations

import time
import tkinter as tk

import pytest
from test_train_tab import descendants

from app import status
from app.status import STATUS_MAX_CHARS, StatusBar, summary_line

pytestmark = pytest.mark.gui


def make_bar(root: tk.Tk) -> StatusBar:
    """Return a packed status bar."""
    bar = StatusBar(root)
    bar.pack(fill="x")
    root.update()
    return bar


def test_summary_line_keeps_the_first_line_and_says_when_it_cut():
    assert summary_line("Saved.", 20) == ("Saved.", False)
    assert summary_line("could not download x from any mirror:\n  a: 404", 80) == (
        "could not download x from any mirror",
        True,
    )
    line, cut = summary_line("y" * 50, 20)
    assert cut and len(line) == 20 and line.endswith("…")


def test_a_message_fades_and_an_error_stays_until_dismissed(tk_root, monkeypatch):
    monkeypatch.setattr(status, "INFO_SECONDS", 0.05)
    bar = make_bar(tk_root)
    bar.show("Saved the drawing.")
    deadline = time.perf_counter() + 2
    while bar.label.cget("text") and time.perf_counter() < deadline:
        tk_root.update()
    assert bar.label.cget("text") == "", "an ordinary message fades"
    bar.show("The download failed: no network", error=True)
    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:
        tk_root.update()
    assert bar.label.cget("text") == "The download failed: no network"
    assert bar.dismiss_button.winfo_ismapped()
    bar.dismiss_button.invoke()
    tk_root.update()
    assert bar.text == "" and not bar.dismiss_button.winfo_ismapped()


def test_a_newer_message_supersedes_an_error(tk_root):
    bar = make_bar(tk_root)
    bar.show("The download failed", error=True)
    bar.show("MNIST is read from /data from now on.")
    tk_root.update()
    assert bar.label.cget("text") == "MNIST is read from /data from now on."
    assert str(bar.label.cget("foreground")) == "" and not bar.dismiss_button.winfo_ismapped()
    bar.close()


def test_a_long_message_keeps_one_line_and_offers_the_rest(tk_root):
    bar = make_bar(tk_root)
    height, width = tk_root.winfo_reqheight(), tk_root.winfo_reqwidth()
    mirrors = "\n".join(f"  https://mirror{i}.example.org/mnist/: refused" for i in range(12))
    text = f"could not download train-images-idx3-ubyte.gz from any mirror:\n{mirrors}"
    bar.show(text, error=True)
    tk_root.update()
    assert tk_root.winfo_reqheight() <= height + 4, "a button's height at most, no more lines"
    assert tk_root.winfo_reqwidth() <= max(width, 300)
    assert "\n" not in bar.label.cget("text")
    assert len(bar.label.cget("text")) <= STATUS_MAX_CHARS
    bar.details_button.invoke()
    window = next(w for w in bar.winfo_children() if isinstance(w, tk.Toplevel))
    shown = next(w for w in descendants(window) if isinstance(w, tk.Text))
    assert "mirror11.example.org" in shown.get("1.0", "end")
