"""The Train tab's shared look: the ttk styles and colours its panels use.

`configure_train_styles` is called once by the tab before its panels are built; the panels
then name these styles. Nothing here builds a widget.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from app.widgets import BAR_HIGHLIGHT, BAR_TRACK, PANEL_BACKGROUND

PANEL_PADDING = 8
ERROR_COLOUR = "#c0392b"
WARNING_COLOUR = "#b45309"
SUCCESS_COLOUR = "#1e7b45"
RADIO_STYLE = "Train.TRadiobutton"
CHECK_STYLE = "Train.TCheckbutton"
PROGRESS_STYLE = "Train.Horizontal.TProgressbar"
SASH_THICKNESS = 8
# Buttons sharing a line with text (headlines, captions) are no taller than the text, so the
# tab fits a 768-pixel-high screen.
COMPACT_BUTTON_STYLE = "Compact.TButton"
COMPACT_BUTTON_PADDING = (8, 0)
PROGRESS_STEPS = 1000


def configure_train_styles(widget: tk.Misc) -> None:
    """Style the check and radio buttons, the progress bars, the compact buttons and the sash."""
    style = ttk.Style(widget)
    for name in (RADIO_STYLE, CHECK_STYLE):
        style.configure(name, background=PANEL_BACKGROUND)
        style.map(name, background=[("disabled", PANEL_BACKGROUND), ("active", PANEL_BACKGROUND)])
    style.configure(COMPACT_BUTTON_STYLE, padding=COMPACT_BUTTON_PADDING)
    # The sash is the gap between two cards, wide enough to grab.
    style.configure("Sash", sashthickness=SASH_THICKNESS, gripcount=0)
    style.configure(
        PROGRESS_STYLE,
        background=BAR_HIGHLIGHT,
        troughcolor=BAR_TRACK,
        bordercolor=BAR_TRACK,
        lightcolor=BAR_HIGHLIGHT,
        darkcolor=BAR_HIGHLIGHT,
    )
