"""The Train tab's run card: Train, Pause/Resume and Stop, and how the run is going.

One line holds the buttons and the run's headline (its state: loading, training, paused,
finished, failed); under it the progress bar and a line of figures (epoch, loss, speed, time
left). After an unexpected worker error a Details… button opens its traceback. The tab decides
what to say; this card only shows it and reports button presses through its callbacks.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from app.train_style import COMPACT_BUTTON_STYLE, PROGRESS_STEPS, PROGRESS_STYLE
from app.training_worker import Failed

TRACEBACK_SIZE = (100, 24)


class RunPanel(ttk.Frame):
    """Hold the run buttons, the headline, the progress bar and the figures line."""

    def __init__(
        self,
        master: tk.Misc,
        gap: int,
        on_train: Callable[[], None],
        on_pause: Callable[[], None],
        on_stop: Callable[[], None],
    ) -> None:
        super().__init__(master, style="Card.TFrame", padding=gap)
        self.failure: Failed | None = None
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
        self.failure_button = ttk.Button(
            self, text="Details…", command=self._on_failure_details, style=COMPACT_BUTTON_STYLE
        )
        self.progress_bar = ttk.Progressbar(self, maximum=PROGRESS_STEPS, style=PROGRESS_STYLE)
        self.progress_bar.grid(row=1, column=1, columnspan=2, sticky="ew", pady=(2, 0))
        self.details = ttk.Label(self, text="", style="CardMuted.TLabel", anchor="w", width=1)
        self.details.grid(row=2, column=0, columnspan=3, sticky="ew", pady=(4, 0))
        # A long message (a divergence) wraps instead of being cut off.
        self.details.bind("<Configure>", self._on_details_resize)
        self.set_running(False)

    def set_running(self, running: bool) -> None:
        """Enable Train when idle, Pause and Stop while a run goes on."""
        self.train_button.state(["disabled"] if running else ["!disabled"])
        for button in (self.pause_button, self.stop_button):
            button.state(["!disabled"] if running else ["disabled"])
        self.pause_button.configure(text="Pause")

    def show_paused(self, paused: bool) -> None:
        """Label the pause button with what pressing it does next."""
        self.pause_button.configure(text="Resume" if paused else "Pause")

    def show_stopping(self) -> None:
        """Lock Pause and Stop while the run winds down."""
        self.pause_button.configure(text="Pause")
        self.pause_button.state(["disabled"])
        self.stop_button.state(["disabled"])

    def show_headline(self, text: str, colour: str | None = None) -> None:
        """Show the run's one-line state."""
        self.headline.configure(text=text, foreground=colour or "")

    def show_details(self, text: str) -> None:
        """Show the line of figures under the progress bar."""
        self.details.configure(text=text)

    def show_progress(self, fraction: float) -> None:
        """Fill the progress bar to fraction (0..1) of the run."""
        self.progress_bar.configure(value=PROGRESS_STEPS * fraction)

    def show_failure(self, failure: Failed | None) -> None:
        """Offer the traceback of a worker failure behind Details…, or hide the button."""
        self.failure = failure
        if failure is None:
            self.failure_button.grid_remove()
        else:
            self.failure_button.grid(row=0, column=2, sticky="e")

    def _on_failure_details(self) -> None:
        """Open a window with the traceback of the last worker failure."""
        if self.failure is None:
            return
        window = tk.Toplevel(self)
        window.title(f"The {self.failure.task} failed")
        window.transient(self.winfo_toplevel())
        text = tk.Text(window, width=TRACEBACK_SIZE[0], height=TRACEBACK_SIZE[1], wrap="none")
        text.insert("1.0", self.failure.details)
        text.configure(state="disabled")
        text.pack(fill="both", expand=True)
        ttk.Button(window, text="Close", command=window.destroy).pack(anchor="e", padx=8, pady=8)

    def _on_details_resize(self, event: tk.Event) -> None:
        """Wrap the figures line at its width."""
        self.details.configure(wraplength=event.width)
