"""The Train tab: train a network on MNIST on a background thread and watch it learn.

This first version only holds the frame so the main window can add the tab; the controls,
live plots and weight heatmaps follow.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from app.context import AppContext

PANEL_PADDING = 12


class TrainTab(ttk.Frame):
    """Hold the training controls, the live plots and the results of a training run."""

    def __init__(self, master: tk.Misc, context: AppContext) -> None:
        super().__init__(master, padding=PANEL_PADDING)
        self.context = context
        ttk.Label(self, text="Training", style="Heading.TLabel").pack(anchor="w")

    def shutdown(self) -> None:
        """Stop any training run and cancel pending callbacks (call before destroying the root)."""
