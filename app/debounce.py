"""Run a Tk callback once a burst of events has settled (resizing a window sends dozens).

`Debouncer(widget, delay_ms, callback)`: each `trigger()` restarts a delay_ms timer on the
widget's event loop, and `callback()` runs once when it expires. The pending call is
cancelled when the widget is destroyed, so no callback outlives its widget.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable

RESIZE_DELAY_MS = 80


class Debouncer:
    """Call `callback` once, `delay_ms` after the last of a burst of `trigger` calls."""

    def __init__(
        self, widget: tk.Misc, callback: Callable[[], None], delay_ms: int = RESIZE_DELAY_MS
    ) -> None:
        self.widget = widget
        self.callback = callback
        self.delay_ms = delay_ms
        self._pending: str | None = None
        widget.bind("<Destroy>", self._on_destroy, add="+")

    @property
    def pending(self) -> bool:
        """Return True while a call is waiting to run."""
        return self._pending is not None

    def trigger(self, _event: tk.Event | None = None) -> None:
        """Restart the timer (usable directly as an event handler)."""
        self.cancel()
        self._pending = self.widget.after(self.delay_ms, self._run)

    def cancel(self) -> None:
        """Drop a waiting call."""
        if self._pending is not None:
            self.widget.after_cancel(self._pending)
            self._pending = None

    def _run(self) -> None:
        """Run the callback now that the burst has settled."""
        self._pending = None
        self.callback()

    def _on_destroy(self, event: tk.Event) -> None:
        """Cancel a waiting call when the widget itself (not a child) is destroyed."""
        if event.widget is self.widget:
            self.cancel()
