"""The Train tab's MNIST data card: where the digits are read from, and getting them.

Shows the folder in use (or why MNIST is missing there), a Download button that turns into
Cancel while a download runs, Choose folder…, and the download's progress bar. A long problem
(a failed download lists every mirror it tried) shows its first line and a Details… button
with the whole text, so it never makes the window taller. The tab owns the download thread;
this card only shows its state and reports button presses through the callbacks it was given.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk

from app.status import show_text_dialog, summary_line
from app.train_style import COMPACT_BUTTON_STYLE, ERROR_COLOUR, PROGRESS_STEPS, PROGRESS_STYLE
from app.training_worker import DataProgress
from app.widgets import Tooltip

DATA_TEXT_WRAP = 360
# About three lines at DATA_TEXT_WRAP: longer texts are cut and offered behind Details….
DATA_TEXT_MAX_CHARS = 150
# Words of the engine's checks on a file's content; a reason without them (permission
# denied, a folder where a file should be) is already plain and is shown as it is.
CONTENT_PROBLEM_WORDS = ("magic number", "idx", "header", "gzip", "truncated", "trailing", "label")
DAMAGED_HINT = "Download MNIST again, or choose another folder."


class DataPanel(ttk.Frame):
    """Show the MNIST folder and offer to download it or choose another."""

    def __init__(
        self,
        master: tk.Misc,
        gap: int,
        scale: float,
        on_download: Callable[[], None],
        on_choose_folder: Callable[[], None],
    ) -> None:
        super().__init__(master, style="Card.TFrame", padding=gap)
        self.problem = ""  # the whole text behind Details…
        self.columnconfigure(0, weight=1)
        ttk.Label(self, text="MNIST data", style="CardHeading.TLabel").grid(
            row=0, column=0, sticky="w", pady=(0, 2)
        )
        self.details_button = ttk.Button(
            self, text="Details…", command=self._on_details, style=COMPACT_BUTTON_STYLE
        )
        self.data_label = ttk.Label(
            self, text="", style="CardMuted.TLabel", wraplength=round(DATA_TEXT_WRAP * scale)
        )
        self.data_label.grid(row=1, column=0, sticky="w")
        buttons = ttk.Frame(self, style="Inner.TFrame")
        buttons.grid(row=2, column=0, sticky="ew", pady=(4, 0))
        self.download_button = ttk.Button(buttons, text="Download", command=on_download)
        self.download_button.pack(side="left", padx=(0, 4))
        Tooltip(self.download_button, "Fetch the four MNIST files (about 11 MB) and verify them.")
        self.folder_button = ttk.Button(buttons, text="Choose folder…", command=on_choose_folder)
        self.folder_button.pack(side="left")
        self.download_bar = ttk.Progressbar(self, maximum=PROGRESS_STEPS, style=PROGRESS_STYLE)
        self.download_bar.grid(row=3, column=0, sticky="ew", pady=4)
        self.download_bar.grid_remove()

    def show_folder(self, folder: Path, present: bool, problem: str | None = None) -> None:
        """Say where MNIST is read from, or what is wrong with it (in the error colour)."""
        if problem is None and present:
            self._show_text(f"Using {folder}", "")
        else:
            text = problem or f"Not found in {folder}. Download it or choose its folder."
            self._show_text(text, ERROR_COLOUR)

    def _show_text(self, text: str, colour: str) -> None:
        """Show text (its start, when long) in colour; offer the whole of a long one."""
        line, cut = summary_line(text, DATA_TEXT_MAX_CHARS)
        self.data_label.configure(text=line, foreground=colour)
        self.problem = text if cut else ""
        if cut:
            self.details_button.grid(row=0, column=0, sticky="e")
        else:
            self.details_button.grid_remove()

    def _on_details(self) -> None:
        """Show the whole of a long message."""
        if self.problem:
            show_text_dialog(self, "MNIST data", self.problem)

    def show_download_started(self, folder: Path) -> None:
        """Turn Download into Cancel, lock Choose folder… and show an empty progress bar."""
        self.download_button.configure(text="Cancel")
        self.folder_button.state(["disabled"])
        self.download_bar.configure(value=0)
        self.download_bar.grid()
        self._show_text(f"Downloading MNIST into {folder}…", "")

    def show_download_progress(self, message: DataProgress) -> None:
        """Move the download bar and say which file is coming."""
        total = message.total or 0
        fraction = message.done / total if total else 0.0
        self.download_bar.configure(value=PROGRESS_STEPS * fraction)
        size = f"{message.done / 1e6:.1f}" + (f" of {total / 1e6:.1f} MB" if total else " MB")
        self.data_label.configure(text=f"Downloading {message.file}: {size}")

    def show_download_ended(self) -> None:
        """Put the buttons back after a download ended."""
        self.download_button.configure(text="Download")
        self.folder_button.state(["!disabled"])
        self.download_bar.grid_remove()


def plain_data_problem(folder: Path, problem: str) -> str:
    """Return why the MNIST files in folder cannot be read, in plain words first.

    `problem` is the engine's message (e.g. "…/train-labels-idx1-ubyte.gz: wrong magic
    number 0x00000803, expected 0x00000801 (…)"); the result starts with a sentence a learner
    understands ("train-labels-idx1-ubyte.gz is damaged or is not an MNIST file. …"), short
    enough for the card's first line, and keeps the engine's message (with the folder) below
    it for Details…. Messages that name no file are returned as
    they are: the engine words those (a missing folder or file) plainly already.
    """
    named, separator, reason = problem.partition(": ")
    if not separator or Path(named).parent != folder:
        return problem
    name = Path(named).name
    if any(word in reason.lower() for word in CONTENT_PROBLEM_WORDS):
        headline = f"{name} is damaged or is not an MNIST file. {DAMAGED_HINT}"
    else:
        headline = f"Cannot open {name}: {reason}."
    return f"{headline}\n\nDetails: {problem}"
