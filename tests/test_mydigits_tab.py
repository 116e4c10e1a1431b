"""GUI tests of the My digits tab: the real app under Xvfb, drawings made by the test.

The drawings are synthetic hands (`engine.hands`) stored in a temporary My digits folder given
with --my-digits (or DIGITS_MY_DIGITS), so nothing touches the person's own folder.
"""

from __future__ import annotations

import gzip
import os
import shutil
import statistics
import threading
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path

import pytest
from test_download import idx_bytes
from test_draw_tab import (
    MAX_WINDOW_SIZE,
    ONE,
    draw,
    key,
    pump_until,
    shown_counts,
    window_size,
)

from app import main, mydigits_tab
from app.main import DigitsApp
from app.mydigits_worker import model_reader
from engine.datadir import resolve_data_dir, user_models_dir
from engine.drawn import drawn_digits
from engine.finetune import RUN_SAMPLES
from engine.hands import HANDS, hand_drawings, hand_named
from engine.modelfile import DEFAULT_MODEL_PATH, load_model
from engine.mydigits import DigitStore, read_drawing_input
from engine.preprocess import preprocess_image

pytestmark = pytest.mark.gui

FROZEN_MS = 1000.0
MANY_DRAWINGS = 2000
# Images a teaching run sees in the tests: enough to run every stage, quick on one core.
TEACH_RUN_SAMPLES = 300
FULL_TEACH_ENV_VAR = "DIGITS_TEACH_FULL"


def fill_store(folder: Path, per_digit: int = 2) -> DigitStore:
    """Store per_digit drawings of every digit in one synthetic hand; return the store."""
    store = DigitStore(folder)
    for image, label in hand_drawings(HANDS[1], per_digit, seed="tab"):
        store.add(image, label)
    return store


def show_my_digits(app: DigitsApp, seconds: float = 60.0) -> mydigits_tab.MyDigitsTab:
    """Show the My digits tab and run the event loop until every thumbnail is read."""
    tab = app.my_digits_tab
    app.notebook.select(tab)
    deadline = time.monotonic() + seconds
    app.root.update()
    while tab.loading:
        assert time.monotonic() < deadline, "the thumbnails never finished loading"
        app.root.update()
        time.sleep(0.01)
    app.root.update()
    return tab


def click_cell(tab: mydigits_tab.MyDigitsTab, cell: mydigits_tab.Cell) -> None:
    """Click the middle of a cell's thumbnail on the canvas."""
    tab.canvas.yview_moveto(0)
    tab.update()
    left, top, right, bottom = tab.canvas.coords(cell.items[0])
    x = (left + right) / 2 - tab.canvas.canvasx(0)
    y = (top + bottom) / 2 - tab.canvas.canvasy(0)
    if y > tab.canvas.winfo_height():
        tab.canvas.yview_moveto(top / float(tab.canvas.cget("scrollregion").split()[3]))
        tab.update()
        y = (top + bottom) / 2 - tab.canvas.canvasy(0)
    tab.canvas.event_generate("<Button-1>", x=round(x), y=round(y))
    tab.update()


def test_every_drawing_is_shown_by_digit_with_wrong_readings_and_skipped_files_marked(
    make_app, reading_model, tmp_path
):
    folder = tmp_path / "mine"
    store = fill_store(folder)
    one_as_seven = store.add(hand_drawings(HANDS[1], 1, seed="wrong")[1][0], 7)
    (folder / "3" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "notes.txt").write_text("a foreign file")
    app = make_app("--model", reading_model, "--my-digits", folder)
    tab = show_my_digits(app)

    assert len(tab.cells) == 22
    assert [cell.drawing.label for cell in tab.cells] == sorted(
        cell.drawing.label for cell in tab.cells
    )
    read = model_reader(load_model(reading_model))
    wrong = 0
    for cell in tab.cells:
        frame, _picture, caption = cell.items
        if cell.drawing.name == "broken.png":
            assert tab.canvas.itemcget(caption, "text") == "unreadable"
            continue
        reading = read(read_drawing_input(cell.drawing.path))
        assert tab.canvas.itemcget(caption, "text") == f"reads {reading}"
        marked = tab.canvas.itemcget(frame, "outline") == mydigits_tab.WRONG_COLOUR
        assert marked == (reading != cell.drawing.label), cell.drawing.path
        wrong += marked
    one_cell = next(cell for cell in tab.cells if cell.drawing.path == one_as_seven.path)
    assert tab.canvas.itemcget(one_cell.items[0], "outline") == mydigits_tab.WRONG_COLOUR
    assert f"{wrong} read as another digit" in tab.summary_label.cget("text")
    assert "2 files skipped" in tab.summary_label.cget("text")
    assert tab.details_button.winfo_ismapped()
    assert any("broken.png" in note for note in tab.notes)
    assert any("notes.txt" in note for note in tab.notes)
    assert (folder / "3" / "broken.png").exists(), "a damaged file is shown, never deleted"


def test_kept_on_the_draw_tab_then_relabelled_and_deleted_here(make_app, reading_model, tmp_path):
    folder = tmp_path / "mine"
    app = make_app("--model", reading_model, "--my-digits", folder)
    draw(app, ONE)
    key(app, "<Key-7>")
    draw(app, ONE)
    key(app, "<Key-1>")
    tab = show_my_digits(app)
    assert [cell.drawing.label for cell in tab.cells] == [1, 7]
    seven = tab.cells[1]
    assert tab.canvas.itemcget(seven.items[2], "text") == "reads 1"
    assert tab.canvas.itemcget(seven.items[0], "outline") == mydigits_tab.WRONG_COLOUR

    click_cell(tab, seven)
    assert tab.selected is seven
    tab.canvas.event_generate("<Key-1>")
    app.root.update()
    assert sorted(path.parent.name for path in folder.glob("*/*.png")) == ["1", "1"]
    assert [cell.drawing.label for cell in tab.cells] == [1, 1]
    assert all(
        tab.canvas.itemcget(cell.items[0], "outline") != mydigits_tab.WRONG_COLOUR
        for cell in tab.cells
    )

    click_cell(tab, tab.cells[0])
    doomed = tab.cells[0].drawing.path
    tab.delete_button.invoke()
    app.root.update()
    assert not doomed.exists() and len(list(folder.glob("*/*.png"))) == 1
    assert len(tab.cells) == 1
    app.notebook.select(app.draw_tab)
    app.root.update()
    assert shown_counts(app) == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]


def test_undo_delete_puts_the_drawings_back_latest_first(make_app, reading_model, tmp_path):
    folder = tmp_path / "mine"
    fill_store(folder, per_digit=1)
    app = make_app("--model", reading_model, "--my-digits", folder)
    tab = show_my_digits(app)
    assert tab.undo_button.instate(["disabled"])
    listing = [cell.drawing for cell in tab.cells]
    captions = {cell.drawing: tab.canvas.itemcget(cell.items[2], "text") for cell in tab.cells}
    contents = {drawing: drawing.path.read_bytes() for drawing in listing}
    deleted = []
    for index in (3, 8):  # the 3, then the 8 (one drawing of each digit)
        cell = next(c for c in tab.cells if c.drawing == listing[index])
        click_cell(tab, cell)
        tab.canvas.event_generate("<Delete>")
        app.root.update()
        deleted.append(cell.drawing)
    assert not any(drawing.path.exists() for drawing in deleted)
    assert [cell.drawing.label for cell in tab.cells] == [0, 1, 2, 4, 5, 6, 7, 9]
    assert "Ctrl+Z puts it back" in app.status.text
    assert tab.undo_button.instate(["!disabled"])

    tab.canvas.event_generate("<Control-z>")
    app.root.update()
    assert deleted[1].path.read_bytes() == contents[deleted[1]] and not deleted[0].path.exists()
    assert tab.selected is not None and tab.selected.drawing == deleted[1]
    assert app.status.text == f"Put back the 8 {deleted[1].name}."
    tab.undo_button.invoke()
    app.root.update()
    assert [cell.drawing for cell in tab.cells] == listing, "back in place, in order"
    assert all(drawing.path.read_bytes() == contents[drawing] for drawing in listing)
    assert {c.drawing: tab.canvas.itemcget(c.items[2], "text") for c in tab.cells} == captions
    assert tab.undo_button.instate(["disabled"])
    tab.canvas.event_generate("<Control-z>")  # nothing left to undo: nothing happens
    app.root.update()
    assert len(list(folder.glob("*/*.png"))) == 10


def test_the_shortcut_list_names_every_tab_s_keys(make_app, tiny_model):
    app = make_app("--model", tiny_model)
    app.show_shortcuts()
    app.root.update()
    (window,) = [w for w in app.root.winfo_children() if isinstance(w, tk.Toplevel)]
    texts = []
    frames = list(window.winfo_children())
    while frames:
        widget = frames.pop()
        frames.extend(widget.winfo_children())
        if widget.winfo_class() == "TLabel":
            texts.append(widget.cget("text"))
    for heading, shortcuts in main.SHORTCUT_SECTIONS:
        assert heading in texts
        for keys, action in shortcuts:
            assert keys in texts and action in texts, (keys, action)
    assert ("Ctrl+Z", "Put back the drawing deleted last") in mydigits_tab.SHORTCUTS
    window.destroy()


def test_a_drawing_put_back_after_a_reload_is_read_again(make_app, reading_model, tmp_path):
    folder = tmp_path / "mine"
    fill_store(folder, per_digit=1)
    app = make_app("--model", reading_model, "--my-digits", folder)
    tab = show_my_digits(app)
    doomed = tab.cells[5]
    click_cell(tab, doomed)
    tab.delete_selected()
    tab.refresh(force=True)  # as when the Draw tab's model changes: every drawing read again
    tab = show_my_digits(app)
    tab.undo_delete()
    tab = show_my_digits(app)
    restored = next(cell for cell in tab.cells if cell.drawing == doomed.drawing)
    assert restored is not doomed, "listed and read again with the others"
    reading = model_reader(load_model(reading_model))(read_drawing_input(restored.drawing.path))
    assert tab.canvas.itemcget(restored.items[2], "text") == f"reads {reading}"
    assert len(tab.cells) == 10


def test_import_and_export_keep_the_layout_and_refuse_bad_folders(
    make_app, tiny_model, tmp_path, monkeypatch
):
    source = tmp_path / "source"
    fill_store(source, per_digit=1)
    (source / "4" / "damaged.png").write_bytes(b"junk")
    folder = tmp_path / "mine"
    monkeypatch.setenv("DIGITS_MY_DIGITS", str(folder))
    app = make_app("--model", tiny_model)
    tab = show_my_digits(app)
    assert tab.cells == []

    tab.import_folder(source)
    pump_until(app, lambda: len(tab.cells) == 10)
    tab = show_my_digits(app)
    assert sorted(int(p.parent.name) for p in folder.glob("*/*.png")) == list(range(10))
    assert "Imported 10 drawings; 1 skipped" in app.status.text
    assert any("damaged.png" in note for note in tab.notes)

    empty = tmp_path / "empty"
    empty.mkdir()
    tab.import_folder(empty)
    pump_until(app, lambda: "Imported 0 drawings" in app.status.text)
    tab.import_folder(folder)
    pump_until(app, lambda: "Could not import" in app.status.text)
    assert "My digits folder itself" in app.status.text
    assert len(list(folder.glob("*/*.png"))) == 10, "nothing stored is lost or doubled"

    exported = tmp_path / "exported"
    tab.export_to(exported)
    pump_until(app, lambda: "Exported 10 drawings" in app.status.text)
    assert sorted(p.relative_to(exported) for p in exported.glob("*/*.png")) == sorted(
        p.relative_to(folder) for p in folder.glob("*/*.png")
    )


def event_loop_gaps(app: DigitsApp, busy: Callable[[], bool]) -> list[float]:
    """Run the event loop while busy() (at least once); return the ms between its turns."""
    gaps: list[float] = []
    last = time.perf_counter()
    while busy() or not gaps:
        app.root.update()
        now = time.perf_counter()
        gaps.append((now - last) * 1000)
        last = now
        time.sleep(0.005)
    return gaps


def test_two_thousand_drawings_load_without_freezing_the_window(make_app, reading_model, tmp_path):
    folder = tmp_path / "many"
    store = fill_store(folder, per_digit=1)
    originals = sorted(folder.glob("*/*.png"))
    for index in range(MANY_DRAWINGS - len(originals)):
        original = originals[index % len(originals)]
        shutil.copyfile(original, original.parent / f"copy-{index:05d}.png")
    assert len(store.drawings()[0]) == MANY_DRAWINGS
    app = make_app("--model", reading_model, "--my-digits", folder)
    tab = app.my_digits_tab
    started = time.perf_counter()
    app.notebook.select(tab)
    gaps = event_loop_gaps(app, lambda: tab.loading)
    seconds = time.perf_counter() - started
    assert len(tab.cells) == MANY_DRAWINGS
    assert all(cell.thumbnail is not None for cell in tab.cells)
    print(
        f"\n{MANY_DRAWINGS} drawings read in {seconds:.1f} s; event loop gaps: median"
        f" {statistics.median(gaps):.1f} ms, p99 {sorted(gaps)[int(len(gaps) * 0.99)]:.1f} ms,"
        f" max {max(gaps):.1f} ms"
    )
    assert max(gaps) < FROZEN_MS


# ----- teaching the model my digits -----------------------------------------------------------


def write_tiny_mnist(folder: Path, train_count: int = 200, test_count: int = 100) -> Path:
    """Write a tiny MNIST-like set (pen-drawn digits, preprocessed to 28×28) as IDX files."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count, seed in (("train", train_count, 5), ("t10k", test_count, 6)):
        drawn = drawn_digits("pen", count, seed)
        images = b"".join(preprocess_image(digit.image).pixels for digit in drawn)
        labels = bytes(digit.label for digit in drawn)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(idx_bytes((count, 28, 28), images))
        )
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(idx_bytes((count,), labels))
        )
    return folder


def teach(app: DigitsApp, seconds: float = 120.0) -> mydigits_tab.MyDigitsTab:
    """Press Teach on the My digits tab and run the event loop until teaching has ended."""
    tab = show_my_digits(app)
    tab.run_samples = TEACH_RUN_SAMPLES
    tab.teach_button.invoke()
    pump_until(app, lambda: tab.teach_control is None, seconds)
    app.root.update()
    return tab


def test_teaching_makes_a_taught_model_the_draw_tab_uses_and_reset_goes_back(make_app, tmp_path):
    shipped = DEFAULT_MODEL_PATH.read_bytes()
    folder = tmp_path / "mine"
    fill_store(folder, per_digit=3)
    mnist = write_tiny_mnist(tmp_path / "mnist")
    app = make_app("--my-digits", folder, "--data", mnist)
    tab = teach(app)

    taught_path = user_models_dir() / "default-my-digits.json"
    assert taught_path.is_file()
    assert tab.last_result is not None
    text = tab.result_label.cget("text")
    assert "Taught 30 drawings" in text and "held-back drawings" in text
    assert "MNIST test:" in text and "before" in text and "after" in text
    assert not tab.warning_label.winfo_ismapped()
    draw_tab = app.draw_tab
    assert draw_tab.model.label == "Default + my digits"
    assert draw_tab.model.path == taught_path
    assert draw_tab.model_choice.get() == "Default + my digits"
    assert "Default + my digits" in draw_tab.picker.cget("values")
    taught = load_model(taught_path)
    assert taught.metadata["finetuned_on_my_digits"] == 30
    assert taught.metadata["finetuned_from"] == "default.json"

    app.notebook.select(draw_tab)
    app.root.update()
    draw(app, ONE)
    assert draw_tab.digit_label.cget("text") == "1", "the taught model reads a drawing"
    key(app, "<Escape>")

    tab.reset_button.invoke()
    app.root.update()
    assert draw_tab.model.label == "Shipped default"
    assert draw_tab.model.path == DEFAULT_MODEL_PATH
    assert DEFAULT_MODEL_PATH.read_bytes() == shipped, "the shipped model is never written"

    app.close()
    again = make_app("--my-digits", folder, "--data", mnist)
    assert "Default + my digits" in again.draw_tab.picker.cget("values")


def test_teaching_without_mnist_warns_and_bad_stores_get_a_clear_message(make_app, tmp_path):
    folder = tmp_path / "mine"
    no_mnist = tmp_path / "no-mnist"
    app = make_app("--my-digits", folder, "--data", no_mnist)
    tab = teach(app)
    assert "My digits is empty" in tab.result_label.cget("text")
    assert not (user_models_dir() / "default-my-digits.json").exists()

    store = DigitStore(folder)
    for image, label in hand_drawings(HANDS[1], 2, seed="one")[6:8]:
        store.add(image, label)  # two 3s and nothing else
    tab = teach(app)
    assert "All your drawings are 3s" in tab.result_label.cget("text")
    assert len(list(folder.glob("*/*.png"))) == 2, "nothing stored is lost"

    fill_store(folder, per_digit=2)
    tab = teach(app)
    assert tab.warning_label.winfo_ismapped()
    assert "MNIST is not on this machine" in tab.warning_label.cget("text")
    assert "MNIST test" not in tab.result_label.cget("text")
    assert app.draw_tab.model.label == "Default + my digits"


def test_closing_the_window_mid_teaching_ends_the_thread_within_a_second(make_app, tmp_path):
    folder = tmp_path / "mine"
    fill_store(folder, per_digit=2)
    app = make_app("--my-digits", folder, "--data", tmp_path / "no-mnist")
    tab = show_my_digits(app)
    tab.run_samples = 50_000  # far longer than the test waits
    tab.teach_button.invoke()
    pump_until(app, lambda: tab.progress.cget("value") > 0.02)
    thread = tab.teach_thread
    started = time.perf_counter()
    app.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.perf_counter() - started < 1.0
    assert not [t for t in threading.enumerate() if t.name.startswith("digits-")]


def test_quitting_while_teaching_asks_first(make_app, tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    fill_store(folder, per_digit=2)
    app = make_app("--my-digits", folder, "--data", tmp_path / "no-mnist")
    tab = show_my_digits(app)
    tab.run_samples = 50_000
    questions: list[str] = []
    answer = False

    def ask(title: str, _message: str, **_options: object) -> bool:
        questions.append(title)
        return answer

    monkeypatch.setattr(main.messagebox, "askokcancel", ask)
    tab.teach_button.invoke()
    pump_until(app, lambda: tab.teaching)
    app.quit()
    assert questions == ["Quit while teaching?"] and app.root.winfo_exists()
    assert tab.teaching, "cancelling the question keeps teaching"
    answer = True
    thread = tab.teach_thread
    app.quit()
    thread.join(timeout=5)
    assert not thread.is_alive()
    with pytest.raises(tk.TclError):
        app.root.winfo_exists()
    assert not (user_models_dir() / "default-my-digits.json").exists()


def test_event_loop_stays_responsive_while_teaching(make_app, tmp_path):
    """With DIGITS_TEACH_FULL=1 (and DIGITS_DATA), the full recipe on real MNIST: a measurement."""
    full = os.environ.get(FULL_TEACH_ENV_VAR) == "1"
    folder = tmp_path / "mine"
    store = DigitStore(folder)
    for image, label in hand_drawings(hand_named("narrow-bold"), 5, seed="app"):
        store.add(image, label)
    mnist = resolve_data_dir() if full else write_tiny_mnist(tmp_path / "mnist")
    app = make_app("--my-digits", folder, "--data", mnist)
    tab = show_my_digits(app)
    tab.run_samples = RUN_SAMPLES if full else TEACH_RUN_SAMPLES * 4
    started = time.perf_counter()
    tab.teach_button.invoke()
    gaps = event_loop_gaps(app, lambda: tab.teach_control is not None)
    seconds = time.perf_counter() - started
    print(
        f"\nteaching {tab.last_result.samples} drawings, {tab.run_samples} images a run, took"
        f" {seconds:.1f} s in the app; event loop gaps: median {statistics.median(gaps):.1f} ms,"
        f" p99 {sorted(gaps)[int(len(gaps) * 0.99)]:.1f} ms, max {max(gaps):.1f} ms;"
        f" {tab.result_label.cget('text')}"
    )
    assert tab.last_result is not None and tab.last_result.mnist_accuracy_after is not None
    assert max(gaps) < FROZEN_MS


def test_fits_a_laptop(make_app, tmp_path):
    app = make_app("--my-digits", tmp_path / "mine")
    show_my_digits(app)
    width, height = window_size(app)
    assert width <= MAX_WINDOW_SIZE[0] and height <= MAX_WINDOW_SIZE[1], (width, height)


def test_another_folder_is_used_by_both_tabs_and_remembered(make_app, tiny_model, tmp_path):
    settings = tmp_path / "settings.json"
    first, second = tmp_path / "first", tmp_path / "second"
    fill_store(second, per_digit=1)
    app = make_app("--model", tiny_model, "--my-digits", first, "--settings", settings)
    tab = show_my_digits(app)
    assert tab.cells == []
    tab.use_folder(second)
    tab = show_my_digits(app)
    assert len(tab.cells) == 10
    app.notebook.select(app.draw_tab)
    app.root.update()
    assert shown_counts(app) == [1] * 10
    draw(app, ONE)
    key(app, "<Key-1>")
    assert len(list((second / "1").glob("*.png"))) == 2 and not first.exists()
    app.close()

    again = make_app("--model", tiny_model, "--settings", settings)
    assert again.my_digits.folder == second.resolve()
    again.close()
    overridden = make_app("--model", tiny_model, "--settings", settings, "--my-digits", first)
    assert overridden.my_digits.folder == first
