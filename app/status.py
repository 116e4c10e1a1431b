"""Messages that tell the truth: a status bar whose lines expire or stay, and long texts kept
out of the window's height.

`StatusBar` shows one line. An ordinary message belongs to the moment and clears itself after
INFO_SECONDS (or when the next one replaces it); an error stays until the person dismisses it
(×) or a newer message supersedes it. No message ever grows the window: a text longer than
one line shows its first line, cut to fit, and a Details… button opens the whole text in a
dialog (`show_text_dialog`), which is also how the other panels show long texts.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

INFO_SECONDS = 10
# Longer lines are cut (with "…") and the whole text goes behind Details….
STATUS_MAX_CHARS = 150
DIALOG_SIZE = (100, 20)
ELLIPSIS = "…"
ERROR_COLOUR = "#c0392b"
# The window configures it (flat padding), so the buttons are no taller than the text.
STATUS_BUTTON_STYLE = "Status.TButton"


def summary_line(text: str, limit: int) -> tuple[str, bool]:
    """Return the first line of text cut to limit characters, and whether anything was left
    out (later lines or the end of the first)."""
    lines = text.strip().splitlines() or [""]
    first = lines[0].rstrip(":").strip()
    cut = len(first) > limit
    if cut:
        first = first[: limit - 1].rstrip() + ELLIPSIS
    return first, cut or len(lines) > 1


def show_text_dialog(parent: tk.Misc, title: str, text: str) -> tk.Toplevel:
    """Open a window showing text (scrollable, selectable to copy); return it."""
    window = tk.Toplevel(parent)
    window.title(title)
    window.transient(parent.winfo_toplevel())
    lines = text.count("\n") + 1
    body = ttk.Frame(window, padding=8)
    body.pack(fill="both", expand=True)
    view = tk.Text(
        body,
        width=DIALOG_SIZE[0],
        height=min(max(lines, 4), DIALOG_SIZE[1]),
        wrap="word",
        borderwidth=0,
    )
    scroll = ttk.Scrollbar(body, orient="vertical", command=view.yview)
    view.configure(yscrollcommand=scroll.set)
    view.insert("1.0", text)
    view.configure(state="disabled")
    scroll.pack(side="right", fill="y")
    view.pack(side="left", fill="both", expand=True)
    close = ttk.Button(window, text="Close", command=window.destroy)
    close.pack(anchor="e", padx=8, pady=(0, 8))
    window.bind("<Escape>", lambda _event: window.destroy())
    close.focus_set()
    return window


class StatusBar(ttk.Frame):
    """One line along the window's bottom edge: messages that expire, errors that stay."""

    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master)
        self.text = ""  # the whole message, also when the line shows only its start
        self.error = False
        self._expire_id: str | None = None
        self.columnconfigure(0, weight=1)
        # Width 1 and no wrapping: a long message never widens or heightens the window.
        self.label = ttk.Label(self, text="", style="Status.TLabel", anchor="w", width=1)
        self.label.grid(row=0, column=0, sticky="ew")
        self.details_button = ttk.Button(
            self, text="Details…", style=STATUS_BUTTON_STYLE, command=self._on_details
        )
        self.dismiss_button = ttk.Button(
            self, text="×", width=2, style=STATUS_BUTTON_STYLE, command=self.clear
        )
        # Room for the buttons from the start: showing them never makes the window taller.
        self.rowconfigure(0, minsize=self.details_button.winfo_reqheight())

    def show(self, text: str, error: bool = False) -> None:
        """Show a message in place of the last; an error stays until dismissed or replaced."""
        self._cancel_expiry()
        self.text, self.error = text, error
        line, cut = summary_line(text, STATUS_MAX_CHARS)
        self.label.configure(text=line, foreground=ERROR_COLOUR if error else "")
        if cut:
            self.details_button.grid(row=0, column=1, padx=(4, 0))
        else:
            self.details_button.grid_remove()
        if error:
            self.dismiss_button.grid(row=0, column=2, padx=(4, 4))
        else:
            self.dismiss_button.grid_remove()
            if text:
                self._expire_id = self.after(round(INFO_SECONDS * 1000), self.clear)

    def clear(self) -> None:
        """Empty the status line."""
        self._cancel_expiry()
        self.text, self.error = "", False
        self.label.configure(text="", foreground="")
        self.details_button.grid_remove()
        self.dismiss_button.grid_remove()

    def close(self) -> None:
        """Cancel the pending expiry (before the window is destroyed)."""
        self._cancel_expiry()

    def _cancel_expiry(self) -> None:
        """Forget the timer that would clear the current message."""
        if self._expire_id is not None:
            self.after_cancel(self._expire_id)
            self._expire_id = None

    def _on_details(self) -> None:
        """Show the whole message."""
        show_text_dialog(self, "Error" if self.error else "Message", self.text)
