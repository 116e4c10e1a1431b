"""GUI tests of the My digits tab: the real app under Xvfb, drawings made by the test.

The drawings are synthetic hands (`engine.hands`) stored in a temporary My digits folder given
with --my-digits (or DIGITS_MY_DIGITS), so nothing touches the person's own folder.
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import time
import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_draw_tab import ONE, draw, key, shown_counts

from app import mydigits_tab
from app.main import DigitsApp, create_app
from app.mydigits_worker import model_reader
from engine.hands import HANDS, hand_drawings
from engine.modelfile import load_model
from engine.mydigits import DigitStore, read_drawing_input

pytestmark = pytest.mark.gui

FROZEN_MS = 1000.0
MANY_DRAWINGS = 2000


@pytest.fixture
def make_app() -> Iterator[Callable[..., DigitsApp]]:
    """Yield a builder of app windows from command-line arguments; close them all afterwards."""
    apps: list[DigitsApp] = []

    def build(*argv: str | Path) -> DigitsApp:
        app = create_app([str(arg) for arg in argv])
        app.root.update()
        apps.append(app)
        return app

    yield build
    for app in apps:
        with contextlib.suppress(tk.TclError):
            app.close()


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


def pump_until(app: DigitsApp, condition: Callable[[], object], seconds: float = 30.0) -> None:
    """Run the event loop until condition() is true."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        app.root.update()
        time.sleep(0.01)


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
    gaps: list[float] = []
    started = time.perf_counter()
    app.notebook.select(tab)
    last = time.perf_counter()
    while tab.loading or not gaps:
        app.root.update()
        now = time.perf_counter()
        gaps.append((now - last) * 1000)
        last = now
        time.sleep(0.005)
    seconds = time.perf_counter() - started
    assert len(tab.cells) == MANY_DRAWINGS
    assert all(cell.thumbnail is not None for cell in tab.cells)
    print(
        f"\n{MANY_DRAWINGS} drawings read in {seconds:.1f} s; event loop gaps: median"
        f" {statistics.median(gaps):.1f} ms, p99 {sorted(gaps)[int(len(gaps) * 0.99)]:.1f} ms,"
        f" max {max(gaps):.1f} ms"
    )
    assert max(gaps) < FROZEN_MS
