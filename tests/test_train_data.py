"""GUI tests of the Train tab's MNIST data card on its own (`app.train_data.DataPanel`)."""

from __future__ import annotations

import tkinter as tk
from pathlib import Path

import pytest

from app.train_data import DataPanel, plain_data_problem
from app.train_style import ERROR_COLOUR, configure_train_styles
from app.training_worker import DataProgress

pytestmark = pytest.mark.gui


def make_panel(root: tk.Tk) -> tuple[DataPanel, list[str]]:
    """Return a packed data card and the list of buttons pressed on it."""
    configure_train_styles(root)
    pressed: list[str] = []
    panel = DataPanel(
        root, 8, 1.0, lambda: pressed.append("download"), lambda: pressed.append("folder")
    )
    panel.pack(fill="x")
    root.update()
    return panel, pressed


def test_the_folder_line_says_whether_mnist_is_there(tk_root, tmp_path):
    panel, _ = make_panel(tk_root)
    panel.show_folder(tmp_path, present=False)
    assert panel.data_label.cget("text") == (
        f"Not found in {tmp_path}. Download it or choose its folder."
    )
    assert str(panel.data_label.cget("foreground")) == ERROR_COLOUR
    panel.show_folder(tmp_path, present=True)
    assert panel.data_label.cget("text") == f"Using {tmp_path}"
    assert str(panel.data_label.cget("foreground")) == ""
    panel.show_folder(tmp_path, present=True, problem="checksum mismatch")
    assert panel.data_label.cget("text") == "checksum mismatch"


def test_a_download_shows_cancel_and_progress_then_puts_the_buttons_back(tk_root):
    panel, pressed = make_panel(tk_root)
    panel.download_button.invoke()
    panel.show_download_started(Path("/tmp/mnist"))
    tk_root.update()
    assert panel.download_button.cget("text") == "Cancel"
    assert panel.folder_button.instate(["disabled"]) and panel.download_bar.winfo_ismapped()
    panel.show_download_progress(DataProgress("train-images-idx3-ubyte.gz", 2_000_000, 8_000_000))
    assert panel.data_label.cget("text") == "Downloading train-images-idx3-ubyte.gz: 2.0 of 8.0 MB"
    assert panel.download_bar.cget("value") == 250
    panel.show_download_ended()
    tk_root.update()
    assert panel.download_button.cget("text") == "Download"
    assert not panel.download_bar.winfo_ismapped()
    panel.folder_button.invoke()
    assert pressed == ["download", "folder"]


def test_problems_are_put_in_plain_words_first(tmp_path):
    folder = tmp_path / "mnist"
    opened = plain_data_problem(
        folder, f"{folder / 't10k-images-idx3-ubyte'}: it is a named pipe (FIFO), not a file"
    )
    assert opened.splitlines()[0] == (
        "Cannot open t10k-images-idx3-ubyte: it is a named pipe (FIFO), not a file."
    )
    truncated = plain_data_problem(
        folder, f"{folder / 'train-images-idx3-ubyte.gz'}: truncated gzip stream: the data ends"
    )
    assert truncated.startswith("train-images-idx3-ubyte.gz is damaged or is not an MNIST file.")
    assert truncated.endswith(
        "Details: "
        + f"{folder / 'train-images-idx3-ubyte.gz'}: "
        + "truncated gzip stream: the data ends"
    )
    missing = f"MNIST data folder {folder} does not exist; download it"
    assert plain_data_problem(folder, missing) == missing, "already plain: left as it is"
