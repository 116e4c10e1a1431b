"""The Train tab's Log page: what happened during the runs, one line each, newest at the end.

The tab writes a line when a run starts (with its settings), when a knob is moved (once the
knob comes to rest), when the run is paused, stepped or made longer, when a divergence is
recovered from (the lowered learning rate), after each epoch and when the run ends (with the
hint that explains a poor result). Lines are plain text in a read-only, scrolling Text; the
page keeps the last MAX_LINES.
"""

from __future__ import annotations

import time
import tkinter as tk
from tkinter import ttk

from app.widgets import PANEL_BACKGROUND, TEXT_COLOUR

MAX_LINES = 2000
LOG_HEIGHT_LINES = 8


class LogPage(ttk.Frame):
    """Show the log of the runs, scrolled to its newest line."""

    def __init__(self, master: tk.Misc, gap: int) -> None:
        super().__init__(master, style="Card.TFrame", padding=gap)
        self.text = tk.Text(
            self,
            height=LOG_HEIGHT_LINES,
            width=1,
            wrap="word",
            background=PANEL_BACKGROUND,
            foreground=TEXT_COLOUR,
            relief="flat",
            highlightthickness=0,
            font="TkDefaultFont",
            state="disabled",
        )
        scrollbar = ttk.Scrollbar(self, orient="vertical", command=self.text.yview)
        self.text.configure(yscrollcommand=scrollbar.set)
        self.text.pack(side="left", fill="both", expand=True)
        scrollbar.pack(side="right", fill="y")

    def add(self, line: str) -> None:
        """Append one line, stamped with the time of day, and show it."""
        self.text.configure(state="normal")
        self.text.insert("end", f"{time.strftime('%H:%M:%S')}  {line}\n")
        extra = int(self.text.index("end-1c").split(".")[0]) - 1 - MAX_LINES
        if extra > 0:
            self.text.delete("1.0", f"{extra + 1}.0")
        self.text.configure(state="disabled")
        self.text.see("end")

    def lines(self) -> list[str]:
        """Return the lines shown, without their time stamps."""
        text = self.text.get("1.0", "end-1c")
        return [line.split("  ", 1)[1] for line in text.splitlines() if line]
