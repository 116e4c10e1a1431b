"""Add Digits to a Linux desktop's application menu, or take it out again.

`install_desktop_entry` writes `digits.desktop` to `$XDG_DATA_HOME/applications` (default
`~/.local/share/applications`), pointing at the installed `digits` command by its absolute
path, and copies the shipped icons into the hicolor theme there
(`icons/hicolor/<size>x<size>/apps/digits.png`). `remove_desktop_entry` deletes them, and
only a desktop entry this module wrote (it carries a marker key). No Tk here: `digits
--install-desktop-entry` runs without a display.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from engine.atomicfile import write_text_atomically
from engine.datadir import xdg_data_home
from engine.distribution import ASSETS_PACKAGE, shipped_folder

COMMAND_NAME = "digits"
ENTRY_FILE = "digits.desktop"
ICON_NAME = "digits"
ICON_FILE = re.compile(r"icon-(\d+)\.png")
WM_CLASS = "Digits"
# Marks entries this module wrote, so removing never deletes someone else's file.
MARKER_KEY = "X-Digits-Installed-By"
MARKER = f"{MARKER_KEY}=digits --install-desktop-entry"
ENTRY_TEMPLATE = """[Desktop Entry]
Type=Application
Version=1.5
Name=Digits
GenericName=Handwritten Digit Reader
Comment=Draw a digit and watch a pure-Python neural network read it; train it on MNIST live
Exec={exec_line}
Icon={icon}
Terminal=false
Categories=Education;Science;
Keywords=neural network;MNIST;handwriting;machine learning;
StartupNotify=true
StartupWMClass={wm_class}
{marker}
"""
# Characters that must be backslash-escaped inside a quoted Exec argument (Desktop Entry spec).
EXEC_ESCAPED = '"`$\\'


class DesktopEntryError(Exception):
    """Raised when the desktop entry cannot be installed or removed; the message says why."""


def icon_files(assets: Path | None = None) -> dict[int, Path]:
    """Return the shipped icons by size in pixels, e.g. {16: …/icon-16.png, …, 256: …}."""
    folder = shipped_folder(ASSETS_PACKAGE) if assets is None else assets
    icons = {}
    for path in folder.glob("icon-*.png"):
        match = ICON_FILE.fullmatch(path.name)
        if match:
            icons[int(match.group(1))] = path
    return dict(sorted(icons.items()))


def installed_command(
    executable: str = sys.executable, which: Callable[[str], str | None] = shutil.which
) -> Path:
    """Return the absolute path of the installed `digits` command.

    The script beside the running interpreter wins (a pipx or virtual-environment install),
    then `digits` on PATH. Raises DesktopEntryError when there is none (a source checkout).
    """
    beside = Path(executable).parent / COMMAND_NAME
    if beside.is_file():
        return beside.absolute()
    found = which(COMMAND_NAME)
    if found:
        return Path(found).absolute()
    raise DesktopEntryError(
        "no installed `digits` command found; install Digits first "
        "(`pipx install .` or `python3 -m pip install .`)"
    )


def desktop_entry_text(command: Path, icon: str = ICON_NAME) -> str:
    """Return the text of the .desktop file that starts `command` with the icon named `icon`."""
    quoted = "".join("\\" + char if char in EXEC_ESCAPED else char for char in str(command))
    # The Exec value is itself a string value, whose own escaping doubles backslashes.
    exec_line = '"' + quoted.replace("\\", "\\\\").replace("%", "%%") + '"'
    return ENTRY_TEMPLATE.format(exec_line=exec_line, icon=icon, wm_class=WM_CLASS, marker=MARKER)


def install_desktop_entry(
    command: Path, environ: Mapping[str, str] = os.environ, assets: Path | None = None
) -> list[Path]:
    """Write the desktop entry for `command` and its icons; return the files written."""
    data_home = xdg_data_home(environ)
    icons = icon_files(assets)
    if not icons:
        raise DesktopEntryError("no icons found in the installed assets; reinstall Digits")
    written = []
    for size, source in icons.items():
        target = _icon_target(data_home, size)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    entry = data_home / "applications" / ENTRY_FILE
    write_text_atomically(entry, desktop_entry_text(command))
    written.append(entry)
    return written


def remove_desktop_entry(
    environ: Mapping[str, str] = os.environ, assets: Path | None = None
) -> list[Path]:
    """Delete the desktop entry and icons `install_desktop_entry` wrote; return what was removed.

    Raises DesktopEntryError, deleting nothing, when `digits.desktop` exists but was not
    written by Digits.
    """
    data_home = xdg_data_home(environ)
    entry = data_home / "applications" / ENTRY_FILE
    if entry.exists() and MARKER not in entry.read_text(encoding="utf-8", errors="replace"):
        raise DesktopEntryError(f"{entry} was not written by Digits; left it alone")
    candidates = [_icon_target(data_home, size) for size in icon_files(assets)]
    removed = []
    for path in [*candidates, entry]:
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def run_desktop_command(remove: bool) -> int:
    """Install (or with `remove`, remove) the desktop entry, print what changed; return status."""
    try:
        if remove:
            changed = remove_desktop_entry()
            print(
                "digits: removed from the application menu:"
                if changed
                else f"digits: no desktop entry in {xdg_data_home()}"
            )
        else:
            changed = install_desktop_entry(installed_command())
            print("digits: added to the application menu:")
    except (DesktopEntryError, OSError) as error:
        print(f"digits: {error}", file=sys.stderr)
        return 1
    for path in changed:
        print(f"  {path}")
    return 0


def _icon_target(data_home: Path, size: int) -> Path:
    """Return where the hicolor icon theme under `data_home` keeps Digits' icon of `size` px."""
    return data_home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
