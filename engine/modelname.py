"""Name new model files after what they hold, and never overwrite one that exists.

`model_file_name` says what a network is and how well it did ("784-128-10-relu-97.49pct.json");
`reserve_model_path` claims a free file of that name in a folder (adding "-2", "-3", … when the
name is taken) by creating it empty, exclusively, so two runs finishing at once cannot pick the
same file. `engine.modelfile.save_model` then replaces the empty file atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

MODEL_SUFFIX = ".json"
MAX_NAME_ATTEMPTS = 10_000


def model_file_name(architecture: str, activation: str, accuracy: float | None) -> str:
    """Return a file name from the architecture ("784-128-10"), activation and test accuracy
    (0..1, or None when the model was not tested)."""
    measured = "untested" if accuracy is None else f"{accuracy * 100:.2f}pct"
    return f"{architecture}-{activation}-{measured}{MODEL_SUFFIX}"


def reserve_model_path(folder: Path, name: str) -> Path:
    """Create `folder` if needed and an empty new file named like `name` in it; return its path.

    Tries name, then name-2, name-3, … before the suffix; an existing file is never touched.
    Raises FileExistsError when MAX_NAME_ATTEMPTS names are all taken and OSError when the
    folder cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    stem, suffix = os.path.splitext(name)
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        path = folder / (name if attempt == 1 else f"{stem}-{attempt}{suffix}")
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        os.close(descriptor)
        return path
    raise FileExistsError(f"{MAX_NAME_ATTEMPTS} files named like {name} already exist in {folder}")
