"""The Train tab's run card: Train, Pause/Resume and Stop, and how the run is going.

One line holds the buttons and the run's headline (its state: loading, training, paused,
finished, failed); under it the progress bar and one line of figures (epoch, loss, speed, time
left) with, at its end while a run goes on, the small Step (one batch, while paused) and +1
epoch buttons. Neither line wraps, so no message changes the window's height: a longer text
shows its start, and a Details… button opens the whole of it, as it does an unexpected error's
traceback. The tab decides what to say; this card only shows it and reports button presses
through its callbacks.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from app.status import show_text_dialog, summary_line
from app.train_style import COMPACT_BUTTON_STYLE, PROGRESS_STEPS, PROGRESS_STYLE
from app.widgets import Tooltip

DETAILS_MAX_CHARS = 140


class RunPanel(ttk.Frame):
    """Hold the run buttons, the headline, the progress bar and the figures line."""

    def __init__(
        self,
        master: tk.Misc,
        gap: int,
        on_train: Callable[[], None],
        on_pause: Callable[[], None],
        on_stop: Callable[[], None],
        on_step: Callable[[], None],
        on_extra_epoch: Callable[[], None],
    ) -> None:
        super().__init__(master, style="Card.TFrame", padding=gap)
        self.more: tuple[str, str] | None = ("", "")  # (title, text) behind Details…
        self.columnconfigure(1, weight=1)
        buttons = ttk.Frame(self, style="Inner.TFrame")
        # The buttons span the headline and the bar, so they cost the card no height.
        buttons.grid(row=0, column=0, rowspan=2, sticky="w", padx=(0, gap))
        self.train_button = ttk.Button(buttons, text="Train", command=on_train)
        self.pause_button = ttk.Button(buttons, text="Pause", command=on_pause)
        self.stop_button = ttk.Button(buttons, text="Stop", command=on_stop)
        for button in (self.train_button, self.pause_button, self.stop_button):
            button.pack(side="left", padx=(0, 4))
        # Labels whose text changes ask for width 1 and stretch, so they never widen the window.
        self.headline = ttk.Label(
            self, text="Ready to train", style="CardHeading.TLabel", anchor="w", width=1
        )
        self.headline.grid(row=0, column=1, sticky="ew")
        self.details_button = ttk.Button(
            self, text="Details…", command=self._on_details_button, style=COMPACT_BUTTON_STYLE
        )
        # Room for Details… from the start, so showing it never makes the card taller.
        self.rowconfigure(0, minsize=self.details_button.winfo_reqheight())
        self.progress_bar = ttk.Progressbar(self, maximum=PROGRESS_STEPS, style=PROGRESS_STYLE)
        self.progress_bar.grid(row=1, column=1, columnspan=2, sticky="ew", pady=(2, 0))
        # The figures and the small buttons share a row of their own, so the buttons take no
        # width from the headline.
        bottom = ttk.Frame(self, style="Inner.TFrame")
        bottom.grid(row=2, column=0, columnspan=3, sticky="ew", pady=(4, 0))
        # Shown only while a run goes on, so an outcome's hint has the whole line.
        self.steering = steering = ttk.Frame(bottom, style="Inner.TFrame")
        self.details = ttk.Label(bottom, text="", style="CardMuted.TLabel", anchor="w", width=1)
        self.details.pack(side="left", fill="x", expand=True)
        self.step_button = ttk.Button(
            steering, text="Step", command=on_step, style=COMPACT_BUTTON_STYLE
        )
        self.extra_epoch_button = ttk.Button(
            steering, text="+1 epoch", command=on_extra_epoch, style=COMPACT_BUTTON_STYLE
        )
        self.step_button.pack(side="left", padx=(4, 0))
        self.extra_epoch_button.pack(side="left", padx=(4, 0))
        Tooltip(self.step_button, "Train one batch, then pause again (while paused).")
        Tooltip(
            self.extra_epoch_button,
            "Make the run one epoch longer. After its last epoch a paused run waits:"
            " +1 epoch then trains one more and pauses again.",
        )
        self.set_running(False)
        self.show_more(None)

    def set_running(self, running: bool) -> None:
        """Enable Train when idle; Pause, Stop and +1 epoch while a run goes on."""
        self.train_button.state(["disabled"] if running else ["!disabled"])
        for button in (self.pause_button, self.stop_button, self.extra_epoch_button):
            button.state(["!disabled"] if running else ["disabled"])
        if running:
            self.steering.pack(side="right", before=self.details)
        else:
            self.steering.pack_forget()
        self.show_paused(False)

    def show_paused(self, paused: bool, can_step: bool = True) -> None:
        """Label the pause button with what pressing it does next; Step works while paused
        (unless can_step is False: a run paused after its last epoch has no batch to step)."""
        self.pause_button.configure(text="Resume" if paused else "Pause")
        self.step_button.state(["!disabled"] if paused and can_step else ["disabled"])

    def show_stopping(self) -> None:
        """Lock the buttons that steer a run while it winds down."""
        self.show_paused(False)
        for button in (self.pause_button, self.stop_button, self.extra_epoch_button):
            button.state(["disabled"])

    def show_headline(self, text: str, colour: str | None = None) -> None:
        """Show the run's one-line state."""
        self.headline.configure(text=text, foreground=colour or "")

    def show_details(self, text: str, title: str = "Details") -> None:
        """Show the line under the progress bar; a longer text shows its start and the whole
        of it goes behind Details… (under title)."""
        line, cut = summary_line(text, DETAILS_MAX_CHARS)
        self.details.configure(text=line)
        self.show_more((title, text) if cut else None)

    def show_progress(self, fraction: float) -> None:
        """Fill the progress bar to fraction (0..1) of the run."""
        self.progress_bar.configure(value=PROGRESS_STEPS * fraction)

    def show_more(self, more: tuple[str, str] | None) -> None:
        """Offer a text (title, text) behind Details…, or hide the button (None)."""
        if more == self.more:
            return
        self.more = more
        if more is None:
            self.details_button.grid_remove()
        else:
            self.details_button.grid(row=0, column=2, sticky="e")

    def _on_details_button(self) -> None:
        """Open a window with the whole text behind Details…."""
        if self.more is not None:
            show_text_dialog(self, *self.more)
