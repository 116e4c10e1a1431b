"""Remembered settings: a small per-user JSON file the app reads at start and writes on close.

The file is `engine.datadir.user_config_dir() / settings.json`: one JSON object
`{"version": 1, "values": {key: value, ...}}`. Nothing in it is trusted: `parse_settings`
refuses anything but such an object of at most MAX_SETTINGS_BYTES (raising SettingsError, for
any bytes at all), and each value is checked again where it is used, by `SettingsStore.get`
with one of the checks below (`choice`, `number`, `whole`, `flag`, `text`, `path_value`,
`record`), so a hand-edited or damaged value is dropped on its own and the default is used.
A file that cannot be read at all is ignored with a note the app shows, and overwritten by the
next save. Saves are atomic (`engine.atomicfile`). Nothing here imports Tk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

from engine.atomicfile import write_text_atomically
from engine.datadir import user_config_dir
from engine.regularfile import open_regular

SETTINGS_FILE = "settings.json"
FOLDERS_KEY = "folders"
SETTINGS_VERSION = 1
MAX_SETTINGS_BYTES = 64 * 1024
MAX_TEXT_CHARS = 200
MAX_PATH_CHARS = 4096
# Settings are flat records; anything nested deeper is not ours (and could exhaust the stack).
MAX_DEPTH = 4

T = TypeVar("T")
Check = Callable[[Any], T]


class SettingsError(ValueError):
    """Raised for a settings file that cannot be used; the message says why."""


def settings_path() -> Path:
    """Return where this user's settings file lives."""
    return user_config_dir() / SETTINGS_FILE


def parse_settings(data: bytes) -> dict[str, Any]:
    """Return the values of a settings file's bytes; raise SettingsError for anything else."""
    if len(data) > MAX_SETTINGS_BYTES:
        raise SettingsError(f"it is larger than {MAX_SETTINGS_BYTES // 1024} KB")
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise SettingsError(f"it is not valid JSON ({type(error).__name__})") from None
    if not isinstance(document, dict) or document.get("version") != SETTINGS_VERSION:
        raise SettingsError(f"it is not a version-{SETTINGS_VERSION} Digits settings file")
    values = document.get("values")
    if not isinstance(values, dict) or _depth(values) > MAX_DEPTH:
        raise SettingsError("its values are not a flat record")
    return values


def _refuse_constant(name: str) -> float:
    """Refuse NaN and Infinity, which JSON does not have."""
    raise ValueError(f"{name} is not JSON")


def _depth(value: object) -> int:
    """Return how deeply lists and objects nest in a parsed JSON value."""
    depth, level = 0, [value]
    while level:
        depth += 1
        children: list[object] = []
        for item in level:
            if isinstance(item, dict):
                children.extend(item.values())
            elif isinstance(item, list):
                children.extend(item)
        if not children:
            return depth
        level = children
    return depth


class SettingsStore:
    """Hold the remembered values in memory; load them from and save them to one file.

    `path` None keeps everything in memory (nothing is read or written).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.values: dict[str, Any] = {}
        self.note: str | None = None  # why the file was ignored, for the status bar

    def load(self) -> None:
        """Read the file; a missing one is a first start, a bad one is ignored with a note."""
        if self.path is None:
            return
        try:
            with open_regular(self.path) as stream:
                data = stream.read(MAX_SETTINGS_BYTES + 1)
            self.values = parse_settings(data)
        except FileNotFoundError:
            self.values = {}
        except (OSError, SettingsError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            self.values = {}
            self.note = f"Ignored the saved settings in {self.path}: {reason}. Using defaults."

    def get(self, key: str, check: Check[T]) -> T | None:
        """Return the value under key if check accepts it (check's result), else None."""
        if key not in self.values:
            return None
        try:
            return check(self.values[key])
        except (ValueError, TypeError):
            return None

    def put(self, key: str, value: object) -> None:
        """Remember a JSON value (str, number, bool, list, dict of those) under key."""
        self.values[key] = value

    def folder(self, kind: str, fallback: Path) -> Path:
        """Return the folder a file of kind ("model", "export"…) was last saved in, if it is
        still there, else fallback."""
        folders = self.get(FOLDERS_KEY, record({kind: path_value})) or {}
        folder = folders.get(kind)
        return folder if folder is not None and folder.is_dir() else fallback

    def remember_folder(self, kind: str, folder: Path) -> None:
        """Remember folder as where files of kind were last saved."""
        folders = self.values.get(FOLDERS_KEY)
        folders = dict(folders) if isinstance(folders, dict) else {}
        folders[kind] = str(folder)
        self.put(FOLDERS_KEY, folders)

    def save(self) -> str | None:
        """Write the values to the file; return why that failed (None when it worked)."""
        if self.path is None:
            return None
        document = {"version": SETTINGS_VERSION, "values": self.values}
        try:
            text = json.dumps(document, indent=1, sort_keys=True, allow_nan=False)
            write_text_atomically(self.path, text + "\n")
        except (OSError, ValueError, TypeError) as error:
            return f"Could not save the settings to {self.path}: {error}"
        return None


# ----- checks: each returns the clean value or raises ValueError/TypeError ---------------------


def choice(options: Collection[T]) -> Check[T]:
    """Return a check accepting one of options."""

    def check(value: Any) -> T:
        plain = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        if plain and value in options:
            return value
        raise ValueError(f"{value!r} is not one of the choices")

    return check


def number(low: float, high: float) -> Check[float]:
    """Return a check accepting a number in [low, high], as a float."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("not a number")
        if not low <= value <= high:
            raise ValueError(f"{value} is outside [{low}, {high}]")
        return float(value)

    return check


def whole(low: int, high: int) -> Check[int]:
    """Return a check accepting a whole number in [low, high]."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("not a whole number")
        if not low <= value <= high:
            raise ValueError(f"{value} is outside [{low}, {high}]")
        return value

    return check


def flag(value: Any) -> bool:
    """Accept true or false."""
    if not isinstance(value, bool):
        raise TypeError("not true or false")
    return value


def text(pattern: str) -> Check[str]:
    """Return a check accepting a short string that fully matches the regular expression."""
    compiled = re.compile(pattern)

    def check(value: Any) -> str:
        if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
            raise TypeError("not a short string")
        if compiled.fullmatch(value) is None:
            raise ValueError(f"{value!r} does not match {pattern}")
        return value

    return check


def path_value(value: Any) -> Path:
    """Accept an absolute path (its existence is for the caller to check)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_PATH_CHARS or "\0" in value:
        raise TypeError("not a path")
    path = Path(value)
    if not path.is_absolute():
        raise ValueError(f"{value!r} is not an absolute path")
    return path


def record(fields: Mapping[str, Check[Any]]) -> Check[dict[str, Any]]:
    """Return a check accepting an object, keeping only its known fields whose checks pass."""

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise TypeError("not an object")
        kept = {}
        for name, field_check in fields.items():
            if name in value:
                try:
                    kept[name] = field_check(value[name])
                except (ValueError, TypeError):
                    continue
        return kept

    return check
