"""Keep the person's own labelled drawings ("My digits") in a plain folder other tools understand.

Store layout (documented in the README; any tool that writes it can feed Digits)::

    <folder>/
      0/                      one sub-folder per digit, named "0" … "9"
        20261201-110502-3f9a1c.png
        …                     one PNG per drawing: the 280×280 canvas as drawn, greyscale,
      1/                      dark ink on white paper (any size up to MAX_IMAGE_SIDE px and any
      …                       ink/paper colours are accepted, as for every image Digits reads)
      9/

The folder is `engine.datadir.resolve_my_digits_dir` (an option, else $DIGITS_MY_DIGITS, else
`<per-user data>/my-digits`). A drawing's name is its UTC time of storing plus a random tag, so
names sort by age and never collide. The 28×28 network input is not stored: it is recomputed
by `engine.preprocess` when the drawings are loaded (about half a millisecond each), so stored
drawings always match what the current preprocessing makes of a canvas.

Every write is atomic (a temporary file in the same folder, flushed, then renamed), so a crash
never leaves half a PNG. Reading trusts nothing: a file's size and its image's dimensions are
checked before it is decoded, and anything that is not a readable drawing (a damaged PNG, a
text file, a folder named "x") is skipped with a note, never an exception. At most MAX_DRAWINGS
drawings are read, so a huge folder cannot exhaust memory.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from engine.preprocess import (
    IMAGE_FORMATS,
    ImageFileError,
    NothingDrawn,
    load_image_file,
    preprocess_image,
)
from engine.regularfile import open_regular

DIGITS = tuple(range(10))
IMAGE_SUFFIX = ".png"
TEMP_SUFFIX = ".tmp"
CANVAS_SIZE = 280
# A 280×280 greyscale drawing compresses to a few kB; anything far larger is not one of ours.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_IMAGE_SIDE = 2048
# Enough for years of corrections; 2,000 drawings load in about two seconds.
MAX_DRAWINGS = 5000
NEW_FILE_MODE = 0o644


class StoreError(Exception):
    """Raised when the store cannot do what was asked (full, unwritable, bad label); says why."""


@dataclass(frozen=True)
class StoredDrawing:
    """One drawing file in the store: where it is and the digit its folder says it is."""

    path: Path
    label: int

    @property
    def name(self) -> str:
        """Return the file name without its folder."""
        return self.path.name


@dataclass(frozen=True)
class Sample:
    """One loaded drawing: its file, its label and its 28×28 network input (784 bytes)."""

    drawing: StoredDrawing
    pixels: bytes

    @property
    def label(self) -> int:
        """Return the digit this drawing was labelled as."""
        return self.drawing.label


@dataclass
class LoadResult:
    """The drawings that could be read, and one note for each file that was skipped."""

    samples: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def counts(self) -> list[int]:
        """Return how many samples there are of each digit 0..9."""
        counts = [0] * len(DIGITS)
        for sample in self.samples:
            counts[sample.label] += 1
        return counts


@dataclass
class ImportResult:
    """How an import or export went: files copied, and a note per file left out."""

    copied: int = 0
    notes: list[str] = field(default_factory=list)


class DigitStore:
    """Add, list, relabel, delete, load, import and export the drawings in one folder."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    # ------------------------------------------------------------------------- listing

    def drawings(self) -> tuple[list[StoredDrawing], list[str]]:
        """Return every drawing file, by digit then oldest first, and notes on foreign entries.

        Only the names are looked at here; nothing is opened. Hidden files (our own temporary
        files among them) are passed over silently. At most MAX_DRAWINGS are returned.
        """
        found: list[StoredDrawing] = []
        notes: list[str] = []
        if not self.folder.is_dir():
            return found, notes
        for entry in sorted(self.folder.iterdir()):
            if entry.name.startswith("."):
                continue
            if not (entry.is_dir() and _digit_of(entry.name) is not None):
                notes.append(f"skipped {entry.name}: not a digit folder 0–9")
                continue
            label = int(entry.name)
            for path in sorted(entry.iterdir()):
                if path.name.startswith("."):
                    continue
                if path.suffix.lower() != IMAGE_SUFFIX or not path.is_file():
                    notes.append(f"skipped {entry.name}/{path.name}: not a PNG file")
                    continue
                found.append(StoredDrawing(path, label))
        if len(found) > MAX_DRAWINGS:
            notes.append(
                f"only the first {MAX_DRAWINGS:,} of {len(found):,} drawings are used;"
                " delete some to use the rest"
            )
            found = found[:MAX_DRAWINGS]
        return found, notes

    def counts(self) -> list[int]:
        """Return how many drawing files there are of each digit 0..9 (none are opened)."""
        counts = [0] * len(DIGITS)
        for drawing in self.drawings()[0]:
            counts[drawing.label] += 1
        return counts

    # ------------------------------------------------------------------------- reading

    def load(self, progress: Callable[[int, int], None] | None = None) -> LoadResult:
        """Return every readable drawing with its 28×28 input; skip the others with a note.

        progress(done, total) is called every 100 files and at the end.
        """
        drawings, notes = self.drawings()
        result = LoadResult(notes=notes)
        for index, drawing in enumerate(drawings, start=1):
            try:
                pixels = read_drawing_input(drawing.path)
            except ImageFileError as error:
                result.notes.append(f"skipped {_short(drawing)}: {error}")
            except NothingDrawn:
                result.notes.append(f"skipped {_short(drawing)}: nothing drawn on it")
            else:
                result.samples.append(Sample(drawing, pixels))
            if progress is not None and (index % 100 == 0 or index == len(drawings)):
                progress(index, len(drawings))
        return result

    # ------------------------------------------------------------------------- writing

    def add(self, image: Image.Image, label: int) -> StoredDrawing:
        """Store image (a drawing of any mode) as digit label; return the new drawing.

        Raises StoreError when the label is not 0..9, the image is too big, the store already
        holds MAX_DRAWINGS drawings, or the file cannot be written.
        """
        _check_label(label)
        if max(image.size) > MAX_IMAGE_SIDE:
            raise StoreError(
                f"the image is {image.width}×{image.height} px; at most {MAX_IMAGE_SIDE}"
            )
        if len(self.drawings()[0]) >= MAX_DRAWINGS:
            raise StoreError(
                f"My digits already holds {MAX_DRAWINGS:,} drawings; delete some to add more"
            )
        buffer = io.BytesIO()
        image.convert("L").save(buffer, format="PNG", optimize=True)
        return self._write(buffer.getvalue(), label, _new_name())

    def remove(self, drawing: StoredDrawing) -> bytes | None:
        """Delete one drawing file; return what it held, for `restore` (None if it was gone).

        A file larger than MAX_FILE_BYTES, which no drawing is, is deleted without being kept.
        """
        try:
            with open_regular(drawing.path) as file:
                content: bytes | None = file.read(MAX_FILE_BYTES + 1)
        except OSError:
            content = None  # gone already, or unreadable: nothing to give back
        if content is not None and len(content) > MAX_FILE_BYTES:
            content = None
        try:
            drawing.path.unlink()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(
                f"cannot delete {_short(drawing)}: {error.strerror or error}"
            ) from None
        return content

    def restore(self, drawing: StoredDrawing, content: bytes) -> StoredDrawing:
        """Write a removed drawing's file back, under its own name unless that is taken again;
        return it. Raises StoreError when it cannot be written."""
        name = drawing.name
        if (self._digit_folder(drawing.label) / name).exists():
            name = _new_name()
        return self._write(content, drawing.label, name)

    def relabel(self, drawing: StoredDrawing, label: int) -> StoredDrawing:
        """Move a drawing to another digit's folder (an atomic rename); return it as moved."""
        _check_label(label)
        if label == drawing.label:
            return drawing
        target_folder = self._digit_folder(label)
        target = target_folder / drawing.name
        if target.exists():
            target = target_folder / _new_name()
        try:
            os.replace(drawing.path, target)
        except OSError as error:
            raise StoreError(f"cannot move {_short(drawing)}: {error.strerror or error}") from None
        return StoredDrawing(target, label)

    def import_folder(self, source: str | os.PathLike) -> ImportResult:
        """Copy the readable drawings of a folder in the store layout into this store.

        Each image is decoded and written again as a greyscale PNG, so nothing foreign is
        copied byte for byte; unreadable or blank images and other files are left out with a
        note. Raises StoreError if source is not a folder or is this store itself.
        """
        source_store = DigitStore(source)
        if not source_store.folder.is_dir():
            raise StoreError(f"{source_store.folder} is not a folder")
        if _same_folder(source_store.folder, self.folder):
            raise StoreError("that is the My digits folder itself")
        drawings, notes = source_store.drawings()
        result = ImportResult(notes=notes)
        for drawing in drawings:
            try:
                image = load_drawing(drawing.path)
                preprocess_image(image)
                self.add(image, drawing.label)
            except ImageFileError as error:
                result.notes.append(f"skipped {_short(drawing)}: {error}")
            except NothingDrawn:
                result.notes.append(f"skipped {_short(drawing)}: nothing drawn on it")
            except StoreError as error:
                result.notes.append(str(error))
                break
            else:
                result.copied += 1
        return result

    def export(self, destination: str | os.PathLike) -> ImportResult:
        """Copy every drawing into destination in the same layout; return how many were copied.

        Files already there with the same name are left alone (and noted), never overwritten.
        """
        destination = Path(destination)
        if _same_folder(destination, self.folder):
            raise StoreError("choose a folder other than the My digits folder itself")
        drawings, notes = self.drawings()
        result = ImportResult(notes=notes)
        for drawing in drawings:
            target = destination / str(drawing.label) / drawing.name
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists():
                    result.notes.append(f"kept the existing {target}")
                    continue
                shutil.copyfile(drawing.path, target)
            except OSError as error:
                raise StoreError(
                    f"cannot export to {destination}: {error.strerror or error}"
                ) from None
            result.copied += 1
        return result

    # ------------------------------------------------------------------------- helpers

    def _digit_folder(self, label: int) -> Path:
        """Return the folder of digit label, created if needed (StoreError if impossible)."""
        folder = self.folder / str(label)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create {folder}: {error.strerror or error}") from None
        return folder

    def _write(self, data: bytes, label: int, name: str) -> StoredDrawing:
        """Write data as the drawing `name` of digit label, atomically; return it."""
        folder = self._digit_folder(label)
        path = folder / name
        temp_path: str | None = None
        try:
            descriptor, temp_path = tempfile.mkstemp(prefix=".", suffix=TEMP_SUFFIX, dir=folder)
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temp_path, NEW_FILE_MODE)
            os.replace(temp_path, path)
        except OSError as error:
            if temp_path is not None and os.path.exists(temp_path):
                os.unlink(temp_path)
            raise StoreError(f"cannot save to {folder}: {error.strerror or error}") from None
        return StoredDrawing(path, label)


def load_drawing(path: str | os.PathLike) -> Image.Image:
    """Return the image of a drawing file after checking its size and dimensions.

    Raises ImageFileError (a ValueError) when the file is missing, larger than MAX_FILE_BYTES,
    wider or taller than MAX_IMAGE_SIDE px, or not a readable image.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ImageFileError(f"cannot read {path.name}: {error.strerror or error}") from None
    if size > MAX_FILE_BYTES:
        raise ImageFileError(
            f"{path.name} is {size:,} bytes; a drawing is at most {MAX_FILE_BYTES:,}"
        )
    try:
        # Image.open reads only the header, so the dimensions are known before any decoding;
        # formats= keeps Pillow to raster formats (no Ghostscript for an EPS named .png), and
        # open_regular refuses a FIFO or device instead of blocking on it.
        with open_regular(path) as file, Image.open(file, formats=IMAGE_FORMATS) as opened:
            width, height = opened.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageFileError(f"cannot read image {path.name}: {error}") from None
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ImageFileError(
            f"{path.name} is {width}×{height} px; a drawing is at most {MAX_IMAGE_SIDE} px a side"
        )
    return load_image_file(path)


def read_drawing_input(path: str | os.PathLike) -> bytes:
    """Return the 784-byte network input of a drawing file (ImageFileError, NothingDrawn)."""
    return preprocess_image(load_drawing(path)).pixels


def _check_label(label: int) -> None:
    """Raise StoreError unless label is a digit 0..9."""
    if label not in DIGITS:
        raise StoreError(f"a label is a digit 0–9, not {label!r}")


def _digit_of(name: str) -> int | None:
    """Return the digit a folder name stands for ("0".."9"), or None."""
    return int(name) if len(name) == 1 and name.isdigit() and name.isascii() else None


def _new_name() -> str:
    """Return a fresh drawing file name: UTC time of day to the microsecond and a random tag."""
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    micro = int(now % 1 * 1_000_000)
    return f"{stamp}-{micro:06d}-{secrets.token_hex(3)}{IMAGE_SUFFIX}"


def _same_folder(first: Path, second: Path) -> bool:
    """Return True if both paths name the same existing folder."""
    try:
        return first.resolve() == second.resolve()
    except OSError:
        return False


def _short(drawing: StoredDrawing) -> str:
    """Return "digit/name" of a drawing, for notes."""
    return f"{drawing.label}/{drawing.name}"
