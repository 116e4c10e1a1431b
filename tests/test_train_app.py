"""GUI tests of the Train tab inside the whole app: the friction a person meets around a run.

"Use in drawing tab" shows the Draw tab; Save model… suggests a telling name in the per-user
models folder; Save and Export dialogs open where the user last saved (first: the pictures
folder); Ctrl+Q or the close button during training ask before the run is lost.
"""

from __future__ import annotations

import re
import tkinter as tk
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_train_tab import digit_folder, finished, pump  # noqa: F401 (fixture)

from app import main as app_main
from app.main import DigitsApp, create_app
from engine.modelfile import load_model

pytestmark = pytest.mark.gui


@pytest.fixture
def app(
    digit_folder: Path,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[DigitsApp]:
    """Yield the app reading the synthetic digits, with per-user folders under tmp_path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    application = create_app(["--data", str(digit_folder)])
    application.notebook.select(application.train_tab)
    application.train_tab.form.hidden.set("32")
    yield application
    if not closed(application):
        application.close()


def closed(application: DigitsApp) -> bool:
    """Return True once the app's window has been destroyed."""
    try:
        application.root.winfo_exists()
    except tk.TclError:
        return True
    return False


class FakeSaveDialog:
    """Stand in for the file dialog: record what it was opened with, answer with a path."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.answers: list[str] = []

    def __call__(self, **options: object) -> str:
        self.calls.append(options)
        return self.answers.pop(0)


def run_once(app: DigitsApp) -> None:
    """Train one epoch and wait for the results."""
    tab = app.train_tab
    tab.form.epochs.set("1")
    tab.train()
    pump(app.root, finished(tab))


def test_use_in_drawing_tab_shows_the_draw_tab_reading_with_the_new_network(app):
    run_once(app)
    app.train_tab.results.use_button.invoke()
    assert app.notebook.select() == str(app.draw_tab)
    assert app.draw_tab.current_model() is app.train_tab.finished.result.network


def test_save_model_suggests_a_telling_name_in_the_models_folder(app, tmp_path, monkeypatch):
    dialog = FakeSaveDialog()
    monkeypatch.setattr("tkinter.filedialog.asksaveasfilename", dialog)
    run_once(app)
    models = tmp_path / "data-home" / "digits" / "models"
    dialog.answers.append(str(models / "mine.json"))
    app.train_tab.results.save_button.invoke()
    first = dialog.calls[0]
    assert first["initialdir"] == str(models)
    accuracy = app.train_tab.finished.evaluation.accuracy * 100
    assert first["initialfile"] == f"digits-784-32-10-relu-{accuracy:.1f}pct.json"
    assert load_model(models / "mine.json").layer_sizes == [784, 32, 10]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dialog.answers.append(str(elsewhere / "again.json"))
    app.train_tab.results.save_button.invoke()
    assert dialog.calls[1]["initialdir"] == str(models), "the folder last saved in"
    assert re.fullmatch(r"digits-784-32-10-relu-[\d.]+pct\.json", dialog.calls[1]["initialfile"])
    dialog.answers.append("")
    app.train_tab.results.save_button.invoke()
    assert dialog.calls[2]["initialdir"] == str(elsewhere)


def test_export_dialogs_start_in_pictures_then_where_the_last_export_went(
    app, tmp_path, monkeypatch
):
    dialog = FakeSaveDialog()
    monkeypatch.setattr("tkinter.filedialog.asksaveasfilename", dialog)
    pictures = tmp_path / "home" / "Pictures"
    pictures.mkdir()
    run_once(app)
    exports = tmp_path / "exports"
    exports.mkdir()
    dialog.answers.append(str(exports / "plots.png"))
    app.train_tab.plots.export_button.invoke()
    assert dialog.calls[0]["initialdir"] == str(pictures)
    assert (exports / "plots.png").is_file()
    dialog.answers.append(str(exports / "weights.png"))
    app.train_tab.weights.export_button.invoke()
    assert dialog.calls[1]["initialdir"] == str(exports)
    assert (exports / "weights.png").is_file()
    dialog.answers.append("")
    app.draw_tab.save_drawing_dialog()
    assert dialog.calls[2]["initialdir"] == str(pictures), "drawings remember their own folder"


def test_ctrl_q_during_training_asks_first(app, monkeypatch):
    questions: list[str] = []
    answers = [False, True]

    def ask(title: str, message: str, **_options: object) -> bool:
        questions.append(title)
        return answers.pop(0)

    monkeypatch.setattr(app_main.messagebox, "askokcancel", ask)
    tab = app.train_tab
    tab.form.epochs.set("100")
    tab.train()
    pump(app.root, lambda: tab.latest_batch is not None)
    app.root.focus_force()
    app.root.update()
    app.draw_tab.event_generate("<Control-q>")
    app.root.update()
    assert questions == ["Quit while training?"]
    assert not closed(app) and tab.running, "cancel keeps the app and the run"
    app.root.event_generate("<Control-q>")
    assert questions == ["Quit while training?"] * 2
    assert not tab.worker.alive
    assert closed(app)


def test_quitting_when_idle_does_not_ask(app, monkeypatch):
    monkeypatch.setattr(
        app_main.messagebox, "askokcancel", lambda *a, **k: pytest.fail("asked while idle")
    )
    app.quit()
    assert closed(app)
