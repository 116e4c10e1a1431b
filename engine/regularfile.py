"""Open only regular files: a FIFO, device, socket or folder given as input is refused at once.

Opening a FIFO for reading blocks until something writes to it, and a device such as
/dev/zero never ends, so every file the engine reads from a user's path (models, images,
MNIST data) goes through `open_regular`. The file is opened without blocking and checked
with fstat on the open descriptor, so nothing can swap the file between check and read.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

# Not on Windows, where opening a special file does not block in the first place.
NONBLOCKING_FLAG = getattr(os, "O_NONBLOCK", 0)
BINARY_FLAG = getattr(os, "O_BINARY", 0)
KIND_NAMES = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFile(OSError):
    """Raised for a path that exists but is not a regular file; strerror says what it is."""


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Return `path` opened for binary reading; raise NotRegularFile unless it is a regular file.

    Other failures (missing, no permission) raise the usual OSError subclasses.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | NONBLOCKING_FLAG | BINARY_FLAG)
    except IsADirectoryError:
        raise NotRegularFile(0, "it is a folder, not a file", os.fspath(path)) from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(0, f"it is {kind_name(mode)}, not a file", os.fspath(path))
        if NONBLOCKING_FLAG:
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def kind_name(mode: int) -> str:
    """Return what a non-regular st_mode is in plain words, e.g. "a named pipe (FIFO)"."""
    for test, name in KIND_NAMES:
        if test(mode):
            return name
    return "a special file"
