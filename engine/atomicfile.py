"""Write small text files atomically: a reader sees the old file or the new one, never half.

The text goes to a temporary file in the target's folder, is flushed to disk, and is renamed
over the target (`os.replace` is atomic on one file system). A failure leaves no temporary
file behind and raises the OSError.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# mkstemp makes its file readable by the owner only; these files are no secret.
NEW_FILE_MODE = 0o644


def write_text_atomically(path: Path, text: str, mode: int = NEW_FILE_MODE) -> None:
    """Write text (UTF-8) to path through a temporary file, creating the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
