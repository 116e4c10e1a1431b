"""Install Digits the way users do and check what they get.

The `packaging` tests build the wheel from a clean copy of this checkout, install it with
`--no-deps` into a fresh virtual environment that sees nothing of this one but Pillow (linked
in, so no download is needed), and run the installed commands from an unrelated folder that
holds decoy `app` and `engine` packages. Building needs setuptools with bdist_wheel here, or
PyPI (or pip's cache) for an isolated build; without either the tests skip with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from engine import distribution
from engine.cli import predict_file
from engine.distribution import ASSETS_PACKAGE, MODELS_PACKAGE, shipped_folder
from engine.inference import predictor
from engine.modelfile import DEFAULT_MODEL_PATH, load_model

REPOSITORY = Path(__file__).resolve().parent.parent
COPY_IGNORED = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests", "screenshots"
)
OFFLINE_SIGNS = ("Could not find a version", "No matching distribution", "NewConnectionError")
COMMAND_SECONDS = 120
WHEEL_LIMIT_BYTES = 4 * 1024 * 1024
PILLOW_FOLDERS = ("PIL", "pillow.libs")
DECOY = '"""A decoy package with a generic name, as other software might install."""\n'


@dataclass(frozen=True)
class InstalledDigits:
    """A fresh virtual environment holding the wheel, and a working folder outside any checkout."""

    wheel: Path
    venv: Path
    bin: Path
    workdir: Path

    def run(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess:
        """Run an installed command (`digits`, `python`, …) in the working folder; check it."""
        result = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=cwd or self.workdir,
            env={**_environment_without_checkout(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
        )
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result


def test_data_packages_resolve_to_this_checkout():
    """In a checkout, models and assets come from the checkout this code runs from."""
    assert shipped_folder(MODELS_PACKAGE) == REPOSITORY / "models"
    assert shipped_folder(ASSETS_PACKAGE) == REPOSITORY / "assets"
    assert DEFAULT_MODEL_PATH == REPOSITORY / "models" / "default.json"


def test_version_falls_back_to_the_checkouts_pyproject(monkeypatch):
    """Without installed metadata, --version reads the checkout's pyproject.toml."""

    def not_installed(name: str) -> str:
        raise distribution.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(distribution.metadata, "version", not_installed)
    declared = re.search(r'^version = "(.+)"$', (REPOSITORY / "pyproject.toml").read_text(), re.M)
    assert distribution.version() == f"{declared.group(1)} (source checkout)"


def _environment_without_checkout() -> dict[str, str]:
    """Return this process's environment minus PYTHONPATH, which may point at a checkout."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def _can_build_without_isolation() -> bool:
    """Return True when this interpreter's setuptools can build a wheel by itself."""
    try:
        # Read the version without importing setuptools, which would patch distutils here.
        setuptools_version = metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        return False
    major, minor = (int(part) for part in setuptools_version.split(".")[:2])
    # setuptools has its own bdist_wheel from 70.1; older ones need the `wheel` package.
    has_bdist_wheel = (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None
    return major >= 64 and has_bdist_wheel


def _build_wheel(folder: Path) -> Path:
    """Build the wheel from a clean copy of the checkout (stale build/ files never leak in)."""
    source = folder / "source"
    shutil.copytree(REPOSITORY, source, ignore=COPY_IGNORED)
    isolated = not _can_build_without_isolation()
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder)]
    if not isolated:
        command.append("--no-build-isolation")
    result = subprocess.run(
        [*command, str(source)], capture_output=True, text=True, timeout=COMMAND_SECONDS
    )
    if result.returncode != 0 and isolated and any(s in result.stderr for s in OFFLINE_SIGNS):
        pytest.skip(f"building the wheel needs setuptools from PyPI:\n{result.stderr}")
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    (wheel,) = folder.glob("digits-*.whl")
    return wheel


def _link_pillow(site_packages: Path, folder: Path) -> None:
    """Make this interpreter's Pillow (only) importable in the venv, as if installed there."""
    spec = importlib.util.find_spec("PIL")
    pillow_home = Path(spec.submodule_search_locations[0]).parent
    folder.mkdir()
    for name in PILLOW_FOLDERS:
        if (pillow_home / name).exists():
            (folder / name).symlink_to(pillow_home / name)
    (site_packages / "pillow-link.pth").write_text(f"{folder}\n")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Iterator[InstalledDigits]:
    """Yield Digits installed from its wheel into a fresh venv, and a decoy-filled workdir."""
    if importlib.util.find_spec("venv") is None or importlib.util.find_spec("pip") is None:
        pytest.skip("this Python has no venv or pip module to build and install a wheel")
    root = tmp_path_factory.mktemp("packaging")
    wheel = _build_wheel(root)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    bin_folder = venv / ("Scripts" if os.name == "nt" else "bin")
    site_packages = Path(sysconfig.get_path("purelib", vars={"base": venv, "platbase": venv}))
    _link_pillow(site_packages, root / "pillow")
    pip = [sys.executable, "-m", "pip", "--python", str(bin_folder / "python")]
    subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=COMMAND_SECONDS,
        # A checkout on PYTHONPATH may hold digits.egg-info, which pip would take as installed.
        env=_environment_without_checkout(),
        cwd=root,
    )
    # Folders named like our packages in the working directory must not shadow the install.
    workdir = root / "elsewhere"
    for name in ("app", "engine", "models", "assets"):
        (workdir / name).mkdir(parents=True)
        (workdir / name / "__init__.py").write_text(DECOY)
    yield InstalledDigits(wheel, venv, bin_folder, workdir)


@pytest.mark.packaging
def test_wheel_carries_models_and_assets_and_stays_small(installed):
    """The wheel's file list holds both models, the model card and every icon size."""
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for expected in ("default.json", "classic.json", "README.md", "__init__.py"):
        assert f"digits_models/{expected}" in names
    icons = {name for name in names if re.fullmatch(r"digits_assets/icon-\d+\.png", name)}
    assert {f"digits_assets/icon-{size}.png" for size in (16, 32, 48, 256)} <= icons
    assert "engine/cli.py" in names
    assert "app/main.py" in names
    assert not any(name.startswith(("tests/", "models/", "assets/")) for name in names)
    assert installed.wheel.stat().st_size < WHEEL_LIMIT_BYTES


@pytest.mark.packaging
def test_installed_engine_predicts_with_the_shipped_model(installed):
    """`digits-engine predict --json` in the venv reads a drawn digit with the packaged model."""
    image = installed.workdir / "one.png"
    canvas = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(canvas).line([(150, 40), (130, 240)], fill=255, width=22)
    canvas.save(image)
    result = installed.run("digits-engine", "predict", "--json", image.name)
    (prediction,) = json.loads(result.stdout)["predictions"]
    assert prediction["digit"] == 1
    # Same answer, to the digit, as this checkout's default model: the shipped one was used.
    network = load_model(DEFAULT_MODEL_PATH)
    expected = predict_file(network, predictor(network), image)
    assert prediction["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-9)


@pytest.mark.packaging
def test_installed_commands_report_their_version(installed):
    """`digits --version`, `digits-engine --version` and `python -m engine --version` work."""
    version = re.search(r"-(\d[^-]*)-py3", installed.wheel.name).group(1)
    python = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    for command in (["digits"], ["digits-engine"]):
        output = installed.run(*command, "--version").stdout
        assert f" {version} ({python}" in output, output
    # `python -m` puts the working folder first on sys.path, so it runs outside the decoys.
    output = installed.run("python", "-m", "engine", "--version", cwd=installed.venv).stdout
    assert output.startswith(f"python -m engine {version} ({python}"), output


@pytest.mark.packaging
def test_the_digits_script_run_again_by_spawn_imports_no_tk(installed):
    """A spawned training process runs the `digits` script as __mp_main__: no Tk comes in."""
    script = (
        "import runpy, sys\n"
        f"runpy.run_path({str(installed.bin / 'digits')!r}, run_name='__mp_main__')\n"
        "print(sorted(name for name in sys.modules if name.startswith(('tkinter', 'app.'))))"
    )
    output = installed.run("python", "-c", script, cwd=installed.venv).stdout
    assert output.strip() == "['app.launch']", output


@pytest.mark.packaging
def test_installed_data_packages_live_in_the_venv(installed):
    """importlib.resources finds the models and icons inside the venv, not in a checkout."""
    script = (
        "from engine.modelfile import DEFAULT_MODEL_PATH, CLASSIC_MODEL_PATH\n"
        "from app.desktop import icon_files\n"
        "import app, engine\n"
        "print(DEFAULT_MODEL_PATH, CLASSIC_MODEL_PATH, icon_files()[256], app.__file__,"
        " engine.__file__, sep='\\n')"
    )
    lines = installed.run("python", "-c", script, cwd=installed.venv).stdout.split()
    venv = installed.venv.resolve()
    for line in lines:
        assert Path(line).is_file()
        assert Path(line).resolve().is_relative_to(venv), line


@pytest.mark.packaging
def test_installed_desktop_entry_starts_the_installed_command(installed, tmp_path):
    """--install-desktop-entry points the menu at this venv's `digits`; remove undoes it."""
    data_home = tmp_path / "share"
    env = {"XDG_DATA_HOME": str(data_home)}
    installed.run("digits", "--install-desktop-entry", env=env)
    entry = (data_home / "applications" / "digits.desktop").read_text()
    assert f'Exec="{installed.bin / "digits"}"' in entry
    assert (data_home / "icons/hicolor/256x256/apps/digits.png").is_file()
    installed.run("digits", "--remove-desktop-entry", env=env)
    assert [path for path in data_home.rglob("*") if path.is_file()] == []


@pytest.mark.packaging
def test_isolated_install_leaves_another_packages_app_alone(installed, tmp_path):
    """Another venv's own `app` package is untouched by Digits installed with its own venv.

    This is the isolation pipx gives each app, and why the README recommends it: the
    distribution's import names are the generic `app` and `engine`.
    """
    other = tmp_path / "other-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True)
    other_site = Path(sysconfig.get_path("purelib", vars={"base": other, "platbase": other}))
    (other_site / "app").mkdir()
    (other_site / "app" / "__init__.py").write_text(DECOY + "NAME = 'other'\n")
    other_python = other / installed.bin.name / "python"
    check = "import app; print(app.NAME)"
    probe = subprocess.run(
        [str(other_python), "-c", check],
        capture_output=True,
        text=True,
        cwd=other,
        env=_environment_without_checkout(),
    )
    assert probe.stdout.strip() == "other"
    ours = installed.run("python", "-c", "import app; print(app.__doc__)", cwd=installed.venv)
    assert "Digits" in ours.stdout
