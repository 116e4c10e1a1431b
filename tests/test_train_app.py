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
from test_draw_tab import assert_window_fits_a_laptop
from test_train_tab import finished, pump
from test_training_worker import write_digit_folder

from app import main as app_main
from app import training_worker
from app.main import DigitsApp, create_app
from engine.download import DownloadError
from engine.modelfile import load_model

pytestmark = pytest.mark.gui


TRAIN_IMAGES = 600
TEST_IMAGES = 100


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a synthetic MNIST folder of drawn digits."""
    return write_digit_folder(tmp_path_factory.mktemp("digits"), TRAIN_IMAGES, TEST_IMAGES)


@pytest.fixture
def app(
    digit_folder: Path,
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
    assert not tab.worker.process.is_alive(), "quitting ended the training process"
    assert closed(app)


def test_quitting_when_idle_does_not_ask(app, monkeypatch):
    monkeypatch.setattr(
        app_main.messagebox, "askokcancel", lambda *a, **k: pytest.fail("asked while idle")
    )
    app.quit()
    assert closed(app)


MIRROR_FAILURES = "could not download train-images-idx3-ubyte.gz from any mirror:\n" + "\n".join(
    f"  https://mirror-number-{i}.example.org/datasets/mnist/train-images-idx3-ubyte.gz:"
    f" HTTP Error 503: Service Unavailable (attempt {i})"
    for i in range(1, 9)
)


def test_a_failed_download_then_a_chosen_folder_clears_the_error(
    app,
    digit_folder,
    tmp_path,
    monkeypatch,
):
    def failing_download(folder: Path, progress: object, cancel: object) -> None:
        raise DownloadError(MIRROR_FAILURES)

    monkeypatch.setattr(training_worker, "download_mnist", failing_download)
    tab = app.train_tab
    tab.use_data_folder(tmp_path / "empty")
    tab.data.download_button.invoke()
    pump(app.root, lambda: tab.run.headline.cget("text").startswith("The download failed"))
    app.root.update()
    assert_window_fits_a_laptop(app)
    assert tab.data.data_label.cget("text") == (
        "could not download train-images-idx3-ubyte.gz from any mirror"
    )
    assert tab.data.details_button.winfo_ismapped(), "the mirror list is behind Details…"
    assert app.status.error and "MNIST download failed" in app.status.text

    tab.use_data_folder(digit_folder)
    app.root.update()
    assert tab.run.headline.cget("text") == "Ready to train"
    assert tab.data.data_label.cget("text") == f"Using {digit_folder}"
    assert not tab.data.details_button.winfo_ismapped()
    assert not app.status.error and str(digit_folder) in app.status.text


def test_no_message_makes_the_window_taller_than_a_laptop_screen(app, monkeypatch):
    tab = app.train_tab
    tab.form.hidden.set("12-" * 40 + "x")
    tab.train()
    assert tab.run.headline.cget("text").startswith("Cannot train")
    assert_window_fits_a_laptop(app)
    app.set_status(MIRROR_FAILURES, error=True)
    assert_window_fits_a_laptop(app)
    tab.run.show_details("Training diverged: " + "the loss grew and grew. " * 30)
    assert_window_fits_a_laptop(app)
    tab.show_data_state(MIRROR_FAILURES)
    assert_window_fits_a_laptop(app)
