"""The narrow interface the app's tabs share: the window, the status bar and the current model.

`app.main` builds one `AppContext` and hands it to every tab, so tabs never import each other:
the training tab hands a freshly trained network to the drawing tab through `use_model`, and
every tab keeps what it remembers between runs in the shared `settings` store.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.settings import SettingsStore
from engine.network import Network


@dataclass
class AppContext:
    """Hold what a tab may use of the application around it."""

    root: tk.Tk
    # set_status(text, error=False): a message in the status bar; an error stays until the
    # person dismisses it or a newer message replaces it, other messages fade after a while.
    set_status: Callable[..., None]
    # Make a network the drawing tab's current model; the str is the label shown in the
    # model picker, e.g. "Trained just now".
    use_model: Callable[[Network, str], None]
    # The drawing tab's current model; None only when no model file could be found at start-up.
    current_model: Callable[[], Network | None]
    data_dir: Path | None  # the --data option, else None (engine.datadir resolves the rest)
    # What the app remembers between runs; each tab reads and writes its own keys.
    settings: SettingsStore = field(default_factory=lambda: SettingsStore(None))
    # The My digits folder in use now (the person can switch it); None when the app has none.
    my_digits_folder: Callable[[], Path | None] = lambda: None
