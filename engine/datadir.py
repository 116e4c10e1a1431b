"""Decide which folder holds the MNIST files.

In order: an explicit option (command line or settings), the DIGITS_DATA environment
variable, then the platform's per-user data folder. Everything the answer depends on is a
parameter, so every platform's rule can be tested on any machine.
"""

import os
import sys
from collections.abc import Mapping
from pathlib import Path

DATA_ENV_VAR = "DIGITS_DATA"
XDG_DATA_HOME_VAR = "XDG_DATA_HOME"
WINDOWS_LOCAL_APP_DATA_VAR = "LOCALAPPDATA"
APP_FOLDER_LOWER = "digits"
APP_FOLDER_TITLE = "Digits"
DATA_FOLDER = "mnist"


def resolve_data_dir(
    option: str | os.PathLike | None = None,
    environ: Mapping[str, str] = os.environ,
    platform: str = sys.platform,
    home: str | os.PathLike | None = None,
) -> Path:
    """Return the MNIST data folder; it need not exist yet.

    `option` wins when given and non-empty, then `environ[DIGITS_DATA]`, then the per-user
    folder for `platform` (a sys.platform value): Linux and others
    `$XDG_DATA_HOME/digits/mnist` (default `~/.local/share/digits/mnist`), macOS
    `~/Library/Application Support/Digits/mnist`, Windows `%LOCALAPPDATA%\\Digits\\mnist`.
    A leading `~` means `home`, which defaults to the current user's home folder.
    """
    if option is not None and os.fspath(option):
        return _expand_home(os.fspath(option), home)
    from_environment = environ.get(DATA_ENV_VAR, "")
    if from_environment:
        return _expand_home(from_environment, home)
    if platform.startswith("win"):
        local_app_data = environ.get(WINDOWS_LOCAL_APP_DATA_VAR, "")
        base = Path(local_app_data) if local_app_data else _home(home) / "AppData" / "Local"
        return base / APP_FOLDER_TITLE / DATA_FOLDER
    if platform == "darwin":
        return _home(home) / "Library" / "Application Support" / APP_FOLDER_TITLE / DATA_FOLDER
    xdg_data_home = environ.get(XDG_DATA_HOME_VAR, "")
    # The XDG spec says relative paths in XDG_DATA_HOME are invalid and must be ignored.
    if xdg_data_home and Path(xdg_data_home).is_absolute():
        base = Path(xdg_data_home)
    else:
        base = _home(home) / ".local" / "share"
    return base / APP_FOLDER_LOWER / DATA_FOLDER


def _home(home: str | os.PathLike | None) -> Path:
    """Return `home` as a Path, or the current user's home folder when it is None."""
    return Path.home() if home is None else Path(home)


def _expand_home(path_text: str, home: str | os.PathLike | None) -> Path:
    """Return `path_text` as a Path with a leading `~` or `~/` replaced by the home folder."""
    if path_text == "~":
        return _home(home)
    if path_text.startswith(("~/", "~" + os.sep)):
        return _home(home) / path_text[2:]
    return Path(path_text)
