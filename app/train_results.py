"""The Train tab's Results page: how well the trained network reads the test digits.

Once a run ends: the test accuracy, the confusion matrix (click a cell to see its digits), a
gallery of test digits with what the network read, and the buttons that save the model or
hand it to the Draw tab (through the callbacks the tab gives).
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from app.results import ConfusionMatrix, DigitGallery, GalleryItem, cell_indices
from app.train_style import COMPACT_BUTTON_STYLE
from app.training_worker import Finished

GALLERY_SIZE = (400, 190)
EMPTY_SUMMARY = "Results appear here when a run ends."


class ResultsPage(ttk.Frame):
    """Show a finished run's test results and what to do with its network."""

    def __init__(
        self,
        master: tk.Misc,
        gap: int,
        scale: float,
        on_save: Callable[[], None],
        on_use: Callable[[], None],
    ) -> None:
        super().__init__(master, style="Card.TFrame", padding=gap)
        self.finished: Finished | None = None
        self.columnconfigure(1, weight=1)
        self.rowconfigure(1, weight=1)  # spare height goes to the gallery
        self.summary = ttk.Label(self, text=EMPTY_SUMMARY, style="CardHeading.TLabel", width=1)
        self.summary.grid(row=0, column=0, columnspan=2, sticky="ew", pady=(0, 4))
        actions = ttk.Frame(self, style="Inner.TFrame")
        actions.grid(row=0, column=1, sticky="ne")
        self.save_button = ttk.Button(
            actions, text="Save model…", command=on_save, style=COMPACT_BUTTON_STYLE
        )
        self.save_button.pack(side="left", padx=(0, 4))
        self.use_button = ttk.Button(
            actions, text="Use in drawing tab", command=on_use, style=COMPACT_BUTTON_STYLE
        )
        self.use_button.pack(side="left")
        left = ttk.Frame(self, style="Inner.TFrame")
        left.grid(row=1, column=0, sticky="nw")
        self.confusion = ConfusionMatrix(left, self._on_confusion_cell, scale)
        self.confusion.pack(anchor="w")
        right = ttk.Frame(self, style="Inner.TFrame")
        right.grid(row=1, column=1, sticky="nsew", padx=(gap * 2, 0))
        self.gallery_caption = ttk.Label(right, text="", style="Card.TLabel", width=1)
        self.gallery_caption.pack(anchor="w", fill="x")
        # Here rather than under the matrix, which then sets the page's height on its own.
        ttk.Label(
            right,
            text="Click a cell of the matrix to see its digits · Ctrl+wheel zooms",
            style="CardMuted.TLabel",
            width=1,
        ).pack(anchor="w", fill="x")
        self.gallery = DigitGallery(right, *GALLERY_SIZE, scale)
        self.gallery.pack(fill="both", expand=True, pady=(2, 0))
        self.clear()

    def clear(self) -> None:
        """Empty the page for a new run."""
        self.finished = None
        self.confusion.show(None)
        self.gallery.show([])
        self.gallery_caption.configure(text="")
        self.summary.configure(text=EMPTY_SUMMARY)
        self.save_button.state(["disabled"])
        self.use_button.state(["disabled"])

    def show(self, finished: Finished) -> None:
        """Show a run's accuracy, confusion matrix and misclassified digits."""
        self.finished = finished
        evaluation = finished.evaluation
        tested = len(finished.test_set)
        self.summary.configure(
            text=f"Test accuracy {evaluation.accuracy:.1%}"
            f" ({tested - len(evaluation.misclassified):,} of {tested:,} test digits read right)"
        )
        self.confusion.show(evaluation.confusion)
        self._show_gallery(evaluation.misclassified, "Misclassified test digits")
        self.save_button.state(["!disabled"])
        self.use_button.state(["!disabled"])

    def _show_gallery(self, indices: list[int], title: str) -> None:
        """Show the test digits at indices with what the network read."""
        test_set = self.finished.test_set
        predictions = self.finished.evaluation.predictions
        items = [
            GalleryItem(test_set.images[i], test_set.labels[i], predictions[i]) for i in indices
        ]
        self.gallery.show(items)
        self.gallery_caption.configure(text=f"{title} ({len(items):,}) · true → read as")

    def _on_confusion_cell(self, true: int, predicted: int) -> None:
        """Show the test digits of one confusion-matrix cell."""
        if self.finished is None:
            return
        labels = self.finished.test_set.labels
        predictions = self.finished.evaluation.predictions
        indices = cell_indices(labels, predictions, true, predicted)
        title = f"{true}s read right" if true == predicted else f"{true}s read as {predicted}"
        self._show_gallery(indices, title)
