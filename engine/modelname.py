"""Name new model files after what they hold, and never overwrite one that exists.

`model_file_name` says what a network is and how well it did
("digits-784-128-10-relu-97.5pct.json"). `reserve_model_path` claims a free file of that name
in a folder (adding "-2", "-3", … when the name is taken) by creating it empty, exclusively, so
two runs finishing at once cannot pick the same file; `engine.modelfile.save_model` then
replaces the empty file atomically. `unused_model_name` only looks, for a name to suggest in a
save dialog.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

MODEL_SUFFIX = ".json"
NAME_PREFIX = "digits-"
MAX_NAME_ATTEMPTS = 10_000


def model_file_name(architecture: str, activation: str, accuracy: float | None) -> str:
    """Return a file name from the architecture ("784-128-10"), activation and test accuracy
    (0..1, or None when the model was not tested): "digits-784-128-10-relu-97.5pct.json"."""
    measured = "untested" if accuracy is None else f"{accuracy * 100:.1f}pct"
    return f"{NAME_PREFIX}{architecture}-{activation}-{measured}{MODEL_SUFFIX}"


def numbered_names(name: str) -> Iterator[str]:
    """Yield name, then name-2, name-3, … (numbered before the suffix): MAX_NAME_ATTEMPTS names."""
    stem, suffix = os.path.splitext(name)
    yield name
    for number in range(2, MAX_NAME_ATTEMPTS + 1):
        yield f"{stem}-{number}{suffix}"


def unused_model_name(folder: Path, name: str) -> str:
    """Return the first of `numbered_names(name)` that no file in folder has (to suggest it)."""
    for candidate in numbered_names(name):
        if not (folder / candidate).exists():
            return candidate
    raise FileExistsError(f"{MAX_NAME_ATTEMPTS} files named like {name} already exist in {folder}")


def reserve_model_path(folder: Path, name: str) -> Path:
    """Create `folder` if needed and an empty new file named like `name` in it; return its path.

    Tries name, then name-2, name-3, … before the suffix; an existing file is never touched.
    Raises FileExistsError when MAX_NAME_ATTEMPTS names are all taken and OSError when the
    folder cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for candidate in numbered_names(name):
        path = folder / candidate
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        os.close(descriptor)
        return path
    raise FileExistsError(f"{MAX_NAME_ATTEMPTS} files named like {name} already exist in {folder}")
