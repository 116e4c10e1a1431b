"""Shared fixtures: an X display for the GUI tests, small model files to load, app windows.

GUI tests (marked `gui`) get a display automatically: the one in DISPLAY, else a private Xvfb
server started for the test session, else they are skipped with the reason. Model fixtures
write real model files with the engine's `save_model`, so no test depends on shipped models.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import shutil
import subprocess
import tkinter as tk
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine.drawn import drawn_digits
from engine.mnist import Dataset
from engine.modelfile import DEFAULT_MODEL_PATH, ModelFileError, load_model, save_model
from engine.network import Network
from engine.preprocess import preprocess_image
from engine.train import TrainConfig, train

if TYPE_CHECKING:
    from app.main import DigitsApp

XVFB_SCREEN = "1280x1024x24"
XVFB_START_SECONDS = 10
SYNTHETIC_DIGITS = 400
SYNTHETIC_SEED = 1


@dataclass(frozen=True)
class XDisplay:
    """An X display the GUI tests use; private if this test session started it (Xvfb)."""

    name: str
    private: bool


@pytest.fixture(scope="session")
def x_display() -> Iterator[XDisplay]:
    """Yield the X display to use, starting a private Xvfb when DISPLAY is unset."""
    if os.environ.get("DISPLAY"):
        yield XDisplay(os.environ["DISPLAY"], private=False)
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("GUI tests need an X display: DISPLAY is unset and Xvfb is not installed")
    # -displayfd makes Xvfb pick a free display number itself and report it once it is ready,
    # so parallel test runs never race for the same number.
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", XVFB_SCREEN, "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        number = _read_display_number(read_end, process)
        os.environ["DISPLAY"] = f":{number}"
        yield XDisplay(os.environ["DISPLAY"], private=True)
    finally:
        os.environ.pop("DISPLAY", None)
        process.terminate()
        process.wait(timeout=XVFB_START_SECONDS)


def _read_display_number(read_end: int, process: subprocess.Popen) -> str:
    """Return the display number Xvfb writes to read_end; skip the test if it never does."""
    with os.fdopen(read_end) as pipe:
        ready, _, _ = select.select([pipe], [], [], XVFB_START_SECONDS)
        number = pipe.readline().strip() if ready else ""
    if not number.isdigit():
        process.kill()
        pytest.skip(f"Xvfb did not start within {XVFB_START_SECONDS} s")
    return number


@pytest.fixture(autouse=True)
def _display_for_gui_tests(request: pytest.FixtureRequest) -> None:
    """Give every test marked `gui` an X display (or skip it with the reason)."""
    if request.node.get_closest_marker("gui") is not None:
        request.getfixturevalue("x_display")


@pytest.fixture(autouse=True)
def _private_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the per-user config and data folders into the test's own folder: no test reads or
    writes the settings, My digits or saved models of the person running the tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("DIGITS_MY_DIGITS", raising=False)


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    """Return the path of a freshly saved, untrained 784-16-10 ReLU model file."""
    path = tmp_path / "tiny.json"
    save_model(Network.create([784, 16, 10], "relu", seed=0), path)
    return path


@pytest.fixture(scope="session")
def reading_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a model file that reads drawn digits: the shipped default if there is one.

    Otherwise a 784-32-10 network is trained for about five seconds on the engine's synthetic
    pen-drawn digits (`engine.drawn`), preprocessed like a drawing in the app.
    """
    try:
        load_model(DEFAULT_MODEL_PATH)
    except ModelFileError:
        pass  # not shipped yet (or unreadable): make one
    else:
        return DEFAULT_MODEL_PATH
    drawn = drawn_digits("pen", SYNTHETIC_DIGITS, SYNTHETIC_SEED)
    training = Dataset(
        [preprocess_image(digit.image).pixels for digit in drawn], [digit.label for digit in drawn]
    )
    config = TrainConfig(epochs=10, batch_size=16, learning_rate=0.05, seed=SYNTHETIC_SEED)
    result = train(Network.create([784, 32, 10], "relu", seed=0), training, None, config)
    network = result.network
    network.metadata["note"] = "trained on synthetic drawn digits for the GUI tests"
    path = tmp_path_factory.mktemp("models") / "synthetic.json"
    save_model(network, path)
    return path


@pytest.fixture
def tk_root(x_display: XDisplay) -> Iterator[tk.Tk]:
    """Yield a fresh Tk root window (for testing one panel alone); destroy it afterwards.

    The widgets' Python objects are collected here, on the Tk thread: collected later from a
    training thread, Tcl would abort the process ("deleted by the wrong thread").
    """
    root = tk.Tk()
    yield root
    root.destroy()
    del root
    gc.collect()


@pytest.fixture
def make_app() -> Iterator[Callable[..., DigitsApp]]:
    """Yield a builder of app windows from command-line arguments; close them all afterwards."""
    from app.main import create_app

    apps: list[DigitsApp] = []

    def build(*argv: str | Path) -> DigitsApp:
        app = create_app([str(arg) for arg in argv])
        app.root.update()
        apps.append(app)
        return app

    yield build
    for app in apps:
        with contextlib.suppress(tk.TclError):  # the test may have closed it already
            app.close()
