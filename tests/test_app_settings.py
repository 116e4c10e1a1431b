"""GUI test: what a person sets in the app is there again after a restart.

The app runs twice as a real process under Xvfb with a temporary XDG_CONFIG_HOME: the first
run chooses a data folder, a preset and settings, a brush, a model, a window size and the Train
tab, then closes through the window's close button; the second run reports what it shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_training_worker import write_digit_folder

pytestmark = pytest.mark.gui

RUN_TIMEOUT_SECONDS = 60
FIRST_RUN = """
    import time
    from pathlib import Path
    from app.main import create_app

    app = create_app([])
    tab = app.train_tab
    app.notebook.select(tab)
    tab.use_data_folder(Path({folder!r}))
    classic = next(name for name in tab.form.presets if "16-16" in name)
    tab.form.apply_preset(classic)
    tab.form.epochs.set("7")
    tab.form.batch_size.set("64")
    tab.form.training_size.set("30,000")
    tab.form.augment.set(True)
    tab.form.show_learning_rate(0.3)
    app.draw_tab.open_model_file(Path({model!r}))
    # Open loads off the Tk thread: wait for it, or the window closes with the old model.
    deadline = time.monotonic() + 30
    while app.draw_tab.model.path != Path({model!r}) and time.monotonic() < deadline:
        app.root.update()
        time.sleep(0.01)
    app.draw_tab.brush_width.set(31.0)
    app.draw_tab.change_brush(0.0)
    app.root.geometry(f"{{app.root.winfo_reqwidth() + 20}}x700")
    app.root.update()
    print(app.root.winfo_width(), app.root.winfo_height())
    app.root.tk.call(app.root.protocol("WM_DELETE_WINDOW"))
"""
SECOND_RUN = """
    import json
    from app.main import create_app

    app = create_app([])
    app.root.update()
    tab = app.train_tab
    print(json.dumps({
        "data_folder": str(tab.data_folder),
        "data_line": tab.data.data_label.cget("text"),
        "form": tab.form.values(),
        "preset": tab.form.preset.get(),
        "brush": app.draw_tab.brush_width.get(),
        "model": str(app.draw_tab.model.path),
        "size": [app.root.winfo_width(), app.root.winfo_height()],
        "tab": app.notebook.index(app.notebook.select()),
    }))
    app.close()
"""


def run_app(script: str, config: Path) -> str:
    """Run a script driving the app in a fresh process with config as XDG_CONFIG_HOME."""
    environment = {**os.environ, "XDG_CONFIG_HOME": str(config)}
    environment.pop("DIGITS_DATA", None)
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        env=environment,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_settings_survive_a_restart(tmp_path, tiny_model):
    folder = write_digit_folder(tmp_path / "my digits", 20, 10)
    config = tmp_path / "config"
    first = run_app(FIRST_RUN.format(folder=str(folder), model=str(tiny_model)), config)
    assert (config / "digits" / "settings.json").is_file()

    shown = json.loads(run_app(SECOND_RUN, config))
    assert shown["data_folder"] == str(folder)
    assert shown["data_line"] == f"Using {folder}"
    assert "16-16" in shown["preset"]
    form = shown["form"]
    assert form["hidden"] == "16-16" and form["activation"] == "sigmoid"
    assert (form["epochs"], form["batch_size"], form["train_images"]) == (7, 64, 30_000)
    assert form["augment"] is True and form["learning_rate"] == 0.3
    assert shown["brush"] == 31.0
    assert shown["model"] == str(tiny_model.resolve())
    # The test screen (1280 px) is narrower than the window, so only its height is kept as is.
    assert shown["size"][1] == int(first.split()[1]) == 700
    assert shown["tab"] == 1


def test_a_damaged_settings_file_starts_with_defaults_and_says_so(tmp_path):
    config = tmp_path / "config"
    (config / "digits").mkdir(parents=True)
    (config / "digits" / "settings.json").write_bytes(b"\x00\xff{ not json")
    script = """
        from app.main import create_app

        app = create_app([])
        print(app.status.text)
        print(app.train_tab.form.epochs.get())
        app.close()
    """
    note, epochs = run_app(script, config).splitlines()
    assert note.startswith("Ignored the saved settings in") and note.endswith("Using defaults.")
    assert epochs == "3"
