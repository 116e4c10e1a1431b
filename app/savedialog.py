"""The Save… and Export… dialogs: they open where the user last saved that kind of file.

A first save of a kind opens in the folder the caller suggests (the per-user models folder
for models) or else the user's pictures folder; the folder of each file saved is remembered
in the settings store, so it is the start of the next dialog, also after a restart.
"""

from __future__ import annotations

import tkinter as tk
from pathlib import Path
from tkinter import filedialog

from app.settings import SettingsStore
from engine.datadir import user_pictures_dir


def pictures_or_home() -> Path:
    """Return the user's pictures folder if it exists, else the home folder."""
    pictures = user_pictures_dir()
    return pictures if pictures.is_dir() else Path.home()


def ask_save_path(
    parent: tk.Misc,
    settings: SettingsStore,
    kind: str,
    title: str,
    file_types: list[tuple[str, str]],
    initial_name: str = "",
    first_folder: Path | None = None,
) -> Path | None:
    """Ask where to save a file of kind; return the path chosen (remembering its folder) or
    None when the dialog was cancelled."""
    folder = settings.folder(kind, first_folder or pictures_or_home())
    chosen = filedialog.asksaveasfilename(
        parent=parent,
        title=title,
        defaultextension=file_types[0][1].lstrip("*"),
        filetypes=file_types,
        initialdir=str(folder),
        initialfile=initial_name,
    )
    if not chosen:
        return None
    path = Path(chosen)
    settings.remember_folder(kind, path.parent)
    return path
