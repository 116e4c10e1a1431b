"""Tests for engine.datadir: option, then DIGITS_DATA, then the per-platform user folder."""

from pathlib import Path

import pytest

from engine.datadir import (
    DATA_ENV_VAR,
    resolve_data_dir,
    user_config_dir,
    user_data_root,
    user_models_dir,
    user_pictures_dir,
)

HOME = Path("/home/ada")


def test_env_var_name_is_digits_data() -> None:
    assert DATA_ENV_VAR == "DIGITS_DATA"


def test_explicit_option_wins_over_everything() -> None:
    environ = {"DIGITS_DATA": "/from/env", "XDG_DATA_HOME": "/xdg"}
    assert resolve_data_dir("/from/option", environ, "linux", HOME) == Path("/from/option")
    assert resolve_data_dir(Path("/as/path"), environ, "linux", HOME) == Path("/as/path")


def test_env_var_wins_over_platform_folder() -> None:
    environ = {"DIGITS_DATA": "/from/env", "XDG_DATA_HOME": "/xdg"}
    assert resolve_data_dir(None, environ, "linux", HOME) == Path("/from/env")


def test_empty_option_and_env_var_count_as_unset() -> None:
    assert resolve_data_dir("", {"DIGITS_DATA": ""}, "linux", HOME) == (
        HOME / ".local/share/digits/mnist"
    )


def test_tilde_means_given_home() -> None:
    assert resolve_data_dir("~/mnist", {}, "linux", HOME) == HOME / "mnist"
    assert resolve_data_dir(None, {"DIGITS_DATA": "~"}, "linux", HOME) == HOME


def test_linux_uses_xdg_data_home() -> None:
    environ = {"XDG_DATA_HOME": "/data/ada"}
    assert resolve_data_dir(None, environ, "linux", HOME) == Path("/data/ada/digits/mnist")


@pytest.mark.parametrize("xdg_data_home", [None, "", "relative/path"])
def test_linux_defaults_to_local_share(xdg_data_home: str | None) -> None:
    environ = {} if xdg_data_home is None else {"XDG_DATA_HOME": xdg_data_home}
    assert resolve_data_dir(None, environ, "linux", HOME) == HOME / ".local/share/digits/mnist"


def test_macos_uses_application_support() -> None:
    assert resolve_data_dir(None, {"XDG_DATA_HOME": "/ignored"}, "darwin", HOME) == (
        HOME / "Library" / "Application Support" / "Digits" / "mnist"
    )


def test_windows_uses_local_app_data() -> None:
    local_app_data = "C:/Users/ada/AppData/Local"
    result = resolve_data_dir(None, {"LOCALAPPDATA": local_app_data}, "win32", HOME)
    assert result == Path(local_app_data) / "Digits" / "mnist"


def test_windows_without_local_app_data_falls_back_to_home() -> None:
    assert resolve_data_dir(None, {}, "win32", HOME) == HOME / "AppData/Local/Digits/mnist"


def test_home_defaults_to_current_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    assert resolve_data_dir(None, {}, "linux") == tmp_path / ".local/share/digits/mnist"


def test_user_folders_per_platform() -> None:
    assert user_data_root({}, "linux", HOME) == HOME / ".local/share/digits"
    assert user_models_dir({"XDG_DATA_HOME": "/d"}, "linux", HOME) == Path("/d/digits/models")
    assert user_config_dir({}, "linux", HOME) == HOME / ".config/digits"
    assert user_config_dir({"XDG_CONFIG_HOME": "/c"}, "linux", HOME) == Path("/c/digits")
    assert user_config_dir({"XDG_CONFIG_HOME": "rel"}, "linux", HOME) == HOME / ".config/digits"
    mac = HOME / "Library/Application Support/Digits"
    assert user_data_root({}, "darwin", HOME) == mac
    assert user_config_dir({}, "darwin", HOME) == mac
    assert user_models_dir({"LOCALAPPDATA": "L"}, "win32", HOME) == Path("L") / "Digits/models"
    assert user_config_dir({"APPDATA": "R"}, "win32", HOME) == Path("R") / "Digits"
    assert user_config_dir({}, "win32", HOME) == HOME / "AppData/Roaming/Digits"


def test_pictures_folder_follows_the_desktops_user_dirs(tmp_path: Path) -> None:
    environ = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert user_pictures_dir(environ, "linux", HOME) == HOME / "Pictures"
    (tmp_path / "user-dirs.dirs").write_text(
        '# written by xdg-user-dirs-update\nXDG_PICTURES_DIR="$HOME/Bilder"\n', encoding="utf-8"
    )
    assert user_pictures_dir(environ, "linux", HOME) == HOME / "Bilder"
    (tmp_path / "user-dirs.dirs").write_text('XDG_PICTURES_DIR="/srv/pics"\n', encoding="utf-8")
    assert user_pictures_dir(environ, "linux", HOME) == Path("/srv/pics")
    assert user_pictures_dir(environ, "darwin", HOME) == HOME / "Pictures"
    assert user_pictures_dir({}, "win32", HOME) == HOME / "Pictures"
