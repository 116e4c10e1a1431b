"""The Linux desktop entry and the icons it installs, in a temporary XDG_DATA_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from app.desktop import (
    DesktopEntryError,
    desktop_entry_text,
    icon_files,
    install_desktop_entry,
    installed_command,
    remove_desktop_entry,
)
from app.main import WINDOW_ICON_SIZES, create_app, main
from assets.make_icon import ICON_SIZES, make_icon
from engine.modelfile import DEFAULT_MODEL_PATH, load_model


def _entry_values(text: str) -> dict[str, str]:
    """Return the key=value pairs of a .desktop file's text."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_every_desktop_icon_size_is_shipped_at_its_size():
    """assets/ holds icon-N.png for 16..256 px, each really N×N with transparency."""
    icons = icon_files()
    assert sorted(icons) == sorted(ICON_SIZES)
    assert {16, 24, 32, 48, 64, 128, 256} <= set(icons)
    for size, path in icons.items():
        with Image.open(path) as image:
            assert image.size == (size, size)
            assert image.mode == "RGBA"
            assert image.getpixel((0, 0))[3] < 32  # the rounded corner is see-through


def test_make_icon_draws_the_digit_on_the_screen():
    """The generator's icon has a light "7" stroke on the dark screen at every size."""
    for size in ICON_SIZES:
        icon = make_icon(size).convert("L")
        middle_row = [icon.getpixel((x, size * 3 // 10)) for x in range(size)]
        assert max(middle_row) > 200  # the 7's top bar
        assert icon.getpixel((size * 17 // 100, size // 2)) < 60  # dark screen left of the stem


def test_entry_runs_the_command_by_absolute_path_with_the_icon():
    """The entry quotes the command per the Desktop Entry spec, spaces and $ included."""
    text = desktop_entry_text(Path("/opt/my apps/$HOME/digits"))
    values = _entry_values(text)
    assert text.startswith("[Desktop Entry]\n")
    assert values["Exec"] == '"/opt/my apps/\\\\$HOME/digits"'
    assert values["Icon"] == "digits"
    assert values["Type"] == "Application"
    assert values["StartupWMClass"] == "Digits"  # matches Tk(className="Digits")
    assert values["Terminal"] == "false"


def test_install_then_remove_in_xdg_data_home(tmp_path):
    """Install writes the entry and hicolor icons under XDG_DATA_HOME; remove deletes them."""
    environ = {"XDG_DATA_HOME": str(tmp_path)}
    command = tmp_path / "bin" / "digits"
    written = install_desktop_entry(command, environ)
    entry = tmp_path / "applications" / "digits.desktop"
    assert entry in written
    assert _entry_values(entry.read_text())["Exec"] == f'"{command}"'
    for size, source in icon_files().items():
        target = tmp_path / f"icons/hicolor/{size}x{size}/apps/digits.png"
        assert target.read_bytes() == source.read_bytes()
    assert set(remove_desktop_entry(environ)) == set(written)
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []
    assert remove_desktop_entry(environ) == []


def test_remove_leaves_a_foreign_entry_alone(tmp_path):
    """A digits.desktop that Digits did not write is neither removed nor are its icons."""
    environ = {"XDG_DATA_HOME": str(tmp_path)}
    install_desktop_entry(tmp_path / "digits", environ)
    entry = tmp_path / "applications" / "digits.desktop"
    entry.write_text("[Desktop Entry]\nName=Someone else's digits\n")
    with pytest.raises(DesktopEntryError, match="not written by Digits"):
        remove_desktop_entry(environ)
    assert entry.is_file()
    assert (tmp_path / "icons/hicolor/48x48/apps/digits.png").is_file()


def test_installed_command_prefers_the_script_beside_the_interpreter(tmp_path):
    """A venv's own `digits` wins over PATH; with neither, the error says to install first."""
    (tmp_path / "digits").write_text("#!/bin/sh\n")
    python = str(tmp_path / "python")
    assert installed_command(python, which=lambda _name: "/usr/bin/digits") == tmp_path / "digits"
    elsewhere = str(tmp_path / "other" / "python")
    assert installed_command(elsewhere, which=lambda _name: "/usr/bin/digits") == Path(
        "/usr/bin/digits"
    )
    with pytest.raises(DesktopEntryError, match="install Digits first"):
        installed_command(elsewhere, which=lambda _name: None)


def test_digits_option_installs_and_removes_without_a_display(tmp_path, monkeypatch, capsys):
    """`digits --install-desktop-entry` / `--remove-desktop-entry` print what they changed."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setattr("app.desktop.installed_command", lambda: tmp_path / "bin" / "digits")
    assert main(["--install-desktop-entry"]) == 0
    assert str(tmp_path / "applications" / "digits.desktop") in capsys.readouterr().out
    assert main(["--remove-desktop-entry"]) == 0
    assert "removed" in capsys.readouterr().out
    assert not (tmp_path / "applications" / "digits.desktop").exists()


def test_digits_version_exits_before_opening_a_window(capsys, monkeypatch):
    """`digits --version` prints the program, version and Python, with no display needed."""
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("digits 0.")


@pytest.mark.gui
@pytest.mark.smoke
def test_app_starts_with_the_shipped_icons_and_default_model():
    """The real window gets every icon size, the desktop's class name and the shipped model."""
    app = create_app([])
    try:
        app.root.update()
        assert [icon.width() for icon in app.icons] == sorted(WINDOW_ICON_SIZES, reverse=True)
        assert app.root.winfo_class() == "Digits"  # the entry's StartupWMClass
        shipped = load_model(DEFAULT_MODEL_PATH)
        assert app.draw_tab.current_model().layer_sizes == shipped.layer_sizes
    finally:
        app.close()
