"""Describe the installed Digits distribution: its version and the data folders it ships.

The shipped models (`models/`) and the app's assets (`assets/`) are installed as the data
packages `digits_models` and `digits_assets` (pyproject.toml maps the folders to those names,
so the distribution adds no more generic top-level names than `app` and `engine`). They are
found with importlib.resources, which gives the same answer for a wheel, a pipx and an
editable install. Two cases need the source tree instead: a checkout run without installing
(`python3 run_app.py`, or PYTHONPATH set to it), where the data packages do not exist, and a
checkout run through PYTHONPATH while another checkout is installed in editable mode, where
the installed data would not match the code. In both, code and data come from one tree.
"""

from __future__ import annotations

import platform
import re
from importlib import metadata, resources
from pathlib import Path

DISTRIBUTION_NAME = "digits"
MODELS_PACKAGE = "digits_models"
ASSETS_PACKAGE = "digits_assets"
# Where each data package lives in a source checkout, relative to the project root.
CHECKOUT_FOLDERS = {MODELS_PACKAGE: "models", ASSETS_PACKAGE: "assets"}
PROJECT_FILE = "pyproject.toml"
PROJECT_VERSION = re.compile(r'^\[project\]$.*?^version\s*=\s*"([^"]+)"', re.M | re.S)


def shipped_folder(package: str) -> Path:
    """Return the folder holding data package `package` (MODELS_PACKAGE or ASSETS_PACKAGE).

    The installed package is used when it sits beside this code (wheel and editable installs);
    otherwise the folder of the source checkout this code runs from. The folder may be missing
    only in a broken install; callers check the files they need.
    """
    code_root = Path(__file__).resolve().parent.parent
    installed = _installed_package_folder(package)
    if installed is not None and installed.parent == code_root:
        return installed
    if installed is not None and not (code_root / PROJECT_FILE).is_file():
        return installed
    return code_root / CHECKOUT_FOLDERS[package]


def version() -> str:
    """Return Digits' version: the installed distribution's, else the checkout's pyproject."""
    try:
        return metadata.version(DISTRIBUTION_NAME)
    except metadata.PackageNotFoundError:
        pass
    project_file = Path(__file__).resolve().parent.parent / PROJECT_FILE
    try:
        match = PROJECT_VERSION.search(project_file.read_text(encoding="utf-8"))
    except OSError:
        match = None
    return f"{match.group(1)} (source checkout)" if match else "unknown (not installed)"


def version_line(program: str) -> str:
    """Return the line `--version` prints: program name, version and Python version."""
    return f"{program} {version()} (Python {platform.python_version()})"


def _installed_package_folder(package: str) -> Path | None:
    """Return the file-system folder of an importable data package, or None when there is none."""
    try:
        folder = resources.files(package)
    except ModuleNotFoundError:
        return None
    # Wheels are installed unpacked, so the folder is a real path; a zipped import is not
    # supported and behaves as if the package were missing.
    return folder.resolve() if isinstance(folder, Path) else None
