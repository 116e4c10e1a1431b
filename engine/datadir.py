"""Decide where Digits keeps its files: MNIST, per-user models and data, and settings.

The MNIST folder is, in order: an explicit option (command line or settings), the DIGITS_DATA
environment variable, then the platform's per-user data folder. The "My digits" folder (the
person's own labelled drawings) follows the same order with DIGITS_MY_DIGITS. The per-user
folders follow each platform's rules (XDG on Linux, ~/Library on macOS, %LOCALAPPDATA% and
%APPDATA% on Windows). Everything an answer depends on is a parameter, so every platform's
rule can be tested on any machine.
"""

import os
import sys
from collections.abc import Mapping
from pathlib import Path

DATA_ENV_VAR = "DIGITS_DATA"
MY_DIGITS_ENV_VAR = "DIGITS_MY_DIGITS"
XDG_DATA_HOME_VAR = "XDG_DATA_HOME"
XDG_CONFIG_HOME_VAR = "XDG_CONFIG_HOME"
WINDOWS_LOCAL_APP_DATA_VAR = "LOCALAPPDATA"
WINDOWS_APP_DATA_VAR = "APPDATA"
APP_FOLDER_LOWER = "digits"
APP_FOLDER_TITLE = "Digits"
DATA_FOLDER = "mnist"
MODELS_FOLDER = "models"
PICTURES_FOLDER = "Pictures"
USER_DIRS_FILE = "user-dirs.dirs"
USER_DIRS_MAX_BYTES = 16 * 1024
PICTURES_KEY = "XDG_PICTURES_DIR="
MY_DIGITS_FOLDER = "my-digits"


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
    return _resolve_folder(option, environ, DATA_ENV_VAR, platform, home, DATA_FOLDER)


def user_data_root(
    environ: Mapping[str, str] = os.environ,
    platform: str = sys.platform,
    home: str | os.PathLike | None = None,
) -> Path:
    """Return the per-user folder for Digits' data (MNIST, saved models, user drawings).

    Linux and others `$XDG_DATA_HOME/digits` (default `~/.local/share/digits`), macOS
    `~/Library/Application Support/Digits`, Windows `%LOCALAPPDATA%\\Digits`. It need not exist.
    """
    if platform.startswith("win"):
        local_app_data = environ.get(WINDOWS_LOCAL_APP_DATA_VAR, "")
        base = Path(local_app_data) if local_app_data else _home(home) / "AppData" / "Local"
        return base / APP_FOLDER_TITLE
    if platform == "darwin":
        return _home(home) / "Library" / "Application Support" / APP_FOLDER_TITLE
    return xdg_data_home(environ, home) / APP_FOLDER_LOWER


def resolve_my_digits_dir(
    option: str | os.PathLike | None = None,
    environ: Mapping[str, str] = os.environ,
    platform: str = sys.platform,
    home: str | os.PathLike | None = None,
) -> Path:
    """Return the "My digits" folder of the person's labelled drawings; it need not exist yet.

    `option` wins when given and non-empty, then `environ[DIGITS_MY_DIGITS]`, then
    `user_data_root()/my-digits`, beside the per-user MNIST folder.
    """
    return _resolve_folder(option, environ, MY_DIGITS_ENV_VAR, platform, home, MY_DIGITS_FOLDER)


def user_models_dir(
    environ: Mapping[str, str] = os.environ,
    platform: str = sys.platform,
    home: str | os.PathLike | None = None,
) -> Path:
    """Return the per-user folder for models the user trained or fine-tuned (`<data>/models`)."""
    return user_data_root(environ, platform, home) / MODELS_FOLDER


def user_config_dir(
    environ: Mapping[str, str] = os.environ,
    platform: str = sys.platform,
    home: str | os.PathLike | None = None,
) -> Path:
    """Return the per-user folder for Digits' settings; it need not exist.

    Linux and others `$XDG_CONFIG_HOME/digits` (default `~/.config/digits`), macOS
    `~/Library/Application Support/Digits`, Windows `%APPDATA%\\Digits` (roaming settings).
    """
    if platform.startswith("win"):
        app_data = environ.get(WINDOWS_APP_DATA_VAR, "")
        base = Path(app_data) if app_data else _home(home) / "AppData" / "Roaming"
        return base / APP_FOLDER_TITLE
    if platform == "darwin":
        return _home(home) / "Library" / "Application Support" / APP_FOLDER_TITLE
    return _xdg_base(environ, XDG_CONFIG_HOME_VAR, home, ".config") / APP_FOLDER_LOWER


def user_pictures_dir(
    environ: Mapping[str, str] = os.environ,
    platform: str = sys.platform,
    home: str | os.PathLike | None = None,
) -> Path:
    """Return the user's pictures folder, where Save and Export dialogs first open; it need
    not exist.

    Linux and others: XDG_PICTURES_DIR from `$XDG_CONFIG_HOME/user-dirs.dirs` (the folder a
    desktop in another language names), else `~/Pictures`; macOS and Windows `~/Pictures`.
    """
    if not platform.startswith("win") and platform != "darwin":
        user_dirs = _xdg_base(environ, XDG_CONFIG_HOME_VAR, home, ".config") / USER_DIRS_FILE
        try:
            with open(user_dirs, encoding="utf-8", errors="replace") as stream:
                lines = stream.read(USER_DIRS_MAX_BYTES).splitlines()
        except OSError:
            lines = []
        for line in lines:
            if line.startswith(PICTURES_KEY):
                value = line[len(PICTURES_KEY) :].strip().strip('"')
                if value.startswith("$HOME/"):
                    return _home(home) / value[len("$HOME/") :]
                if Path(value).is_absolute():
                    return Path(value)
    return _home(home) / PICTURES_FOLDER


def xdg_data_home(
    environ: Mapping[str, str] = os.environ, home: str | os.PathLike | None = None
) -> Path:
    """Return the XDG data folder: `$XDG_DATA_HOME`, default `~/.local/share` (Linux desktops
    look for `applications/` and `icons/` launcher files there)."""
    return _xdg_base(environ, XDG_DATA_HOME_VAR, home, ".local/share")


def _resolve_folder(
    option: str | os.PathLike | None,
    environ: Mapping[str, str],
    variable: str,
    platform: str,
    home: str | os.PathLike | None,
    folder: str,
) -> Path:
    """Return option if non-empty, else environ[variable] if non-empty, else user data/folder."""
    if option is not None and os.fspath(option):
        return _expand_home(os.fspath(option), home)
    from_environment = environ.get(variable, "")
    if from_environment:
        return _expand_home(from_environment, home)
    return user_data_root(environ, platform, home) / folder


def _xdg_base(
    environ: Mapping[str, str], variable: str, home: str | os.PathLike | None, default: str
) -> Path:
    """Return the XDG base folder named by `variable`, else `home`/`default`."""
    value = environ.get(variable, "")
    # The XDG spec says relative paths in XDG_*_HOME are invalid and must be ignored.
    if value and Path(value).is_absolute():
        return Path(value)
    return _home(home) / default


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
