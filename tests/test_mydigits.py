"""Tests for engine.mydigits: the My digits folder, its layout, safety and limits."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from engine import mydigits
from engine.datadir import MY_DIGITS_ENV_VAR, resolve_my_digits_dir
from engine.mydigits import (
    MAX_FILE_BYTES,
    DigitStore,
    StoreError,
    load_drawing,
    read_drawing_input,
)
from engine.preprocess import ImageFileError, preprocess_image

HOME = Path("/home/ada")


def drawing(label: int) -> Image.Image:
    """Return a 280×280 canvas, dark ink on white, with a simple shape per label."""
    image = Image.new("L", (280, 280), 255)
    pen = ImageDraw.Draw(image)
    if label == 1:
        pen.line((140, 40, 140, 240), fill=0, width=20)
    elif label == 7:
        pen.line((60, 50, 220, 50, 120, 240), fill=0, width=20)
    else:
        pen.ellipse((80, 40, 200, 240), outline=0, width=20)
    return image


def test_folder_comes_from_option_then_environment_then_user_data() -> None:
    environ = {MY_DIGITS_ENV_VAR: "/from/env", "XDG_DATA_HOME": "/xdg"}
    assert MY_DIGITS_ENV_VAR == "DIGITS_MY_DIGITS"
    assert resolve_my_digits_dir("/opt", environ, "linux", HOME) == Path("/opt")
    assert resolve_my_digits_dir(None, environ, "linux", HOME) == Path("/from/env")
    assert resolve_my_digits_dir("", {"XDG_DATA_HOME": "/xdg"}, "linux", HOME) == Path(
        "/xdg/digits/my-digits"
    )
    assert resolve_my_digits_dir(None, {}, "darwin", HOME) == (
        HOME / "Library/Application Support/Digits/my-digits"
    )
    assert resolve_my_digits_dir("~/mine", {}, "linux", HOME) == HOME / "mine"


def test_a_drawing_round_trips_as_a_png_in_its_digit_folder(tmp_path: Path) -> None:
    store = DigitStore(tmp_path / "store")
    stored = store.add(drawing(7), 7)
    assert stored.path.parent == tmp_path / "store" / "7"
    assert stored.path.suffix == ".png"
    with Image.open(stored.path) as saved:
        assert saved.format == "PNG"
        assert saved.size == (280, 280)
        assert saved.mode == "L"
        assert saved.tobytes() == drawing(7).tobytes()
    loaded = store.load()
    assert loaded.notes == []
    assert [(sample.label, sample.drawing) for sample in loaded.samples] == [(7, stored)]
    assert loaded.samples[0].pixels == preprocess_image(drawing(7)).pixels
    assert loaded.counts() == [0] * 7 + [1, 0, 0]


def test_names_sort_by_age_and_never_collide(tmp_path: Path) -> None:
    store = DigitStore(tmp_path)
    added = [store.add(drawing(1), 1) for _ in range(5)]
    listed, notes = store.drawings()
    assert notes == []
    assert listed == added
    assert len({item.name for item in added}) == 5


def test_writes_leave_no_temporary_files_even_when_they_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DigitStore(tmp_path)
    kept = store.add(drawing(0), 0)

    def refuse(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mydigits.os, "replace", refuse)
    with pytest.raises(StoreError, match="No space left"):
        store.add(drawing(0), 0)
    assert sorted(path.name for path in (tmp_path / "0").iterdir()) == [kept.name]
    assert store.load().samples[0].drawing == kept


def test_damaged_and_foreign_files_are_skipped_with_a_note(tmp_path: Path) -> None:
    store = DigitStore(tmp_path)
    good = store.add(drawing(1), 1)
    whole = good.path.read_bytes()
    (tmp_path / "1" / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "2").mkdir()
    (tmp_path / "2" / "text.png").write_text("not an image")
    (tmp_path / "2" / "notes.txt").write_text("hello")
    Image.new("L", (280, 280), 255).save(tmp_path / "2" / "blank.png")
    (tmp_path / "letters").mkdir()
    (tmp_path / "README").write_text("a stray file")
    (tmp_path / "3" / ".hidden.tmp").parent.mkdir()
    (tmp_path / "3" / ".hidden.tmp").write_bytes(b"half a write")
    loaded = store.load()
    assert [sample.drawing for sample in loaded.samples] == [good]
    notes = "\n".join(loaded.notes)
    for name in ("truncated.png", "text.png", "notes.txt", "blank.png", "letters", "README"):
        assert name in notes
    assert "nothing drawn" in notes
    assert ".hidden" not in notes
    assert len(loaded.notes) == 6


def test_sizes_are_checked_before_an_image_is_decoded(tmp_path: Path) -> None:
    huge_file = tmp_path / "huge.png"
    with huge_file.open("wb") as file:
        file.truncate(mydigits.MAX_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ImageFileError, match="bytes"):
        load_drawing(huge_file)
    wide = tmp_path / "wide.png"
    Image.new("1", (mydigits.MAX_IMAGE_SIDE + 1, 8), 1).save(wide)
    assert wide.stat().st_size < 10_000
    with pytest.raises(ImageFileError, match="px"):
        read_drawing_input(wide)
    with pytest.raises(StoreError, match="px"):
        DigitStore(tmp_path).add(Image.new("L", (mydigits.MAX_IMAGE_SIDE + 1, 4)), 3)


def test_relabel_and_remove(tmp_path: Path) -> None:
    store = DigitStore(tmp_path)
    first = store.add(drawing(1), 1)
    second = store.add(drawing(7), 1)
    moved = store.relabel(second, 7)
    assert moved.label == 7
    assert moved.path == tmp_path / "7" / second.name
    assert not second.path.exists()
    assert store.counts() == [0, 1, 0, 0, 0, 0, 0, 1, 0, 0]
    store.remove(first)
    store.remove(first)  # already gone: nothing happens
    assert store.counts() == [0] * 7 + [1, 0, 0]
    with pytest.raises(StoreError, match="0–9"):
        store.add(drawing(1), 10)
    with pytest.raises(StoreError, match="0–9"):
        store.relabel(moved, -1)


def test_a_removed_drawing_can_be_restored_as_it_was(tmp_path: Path) -> None:
    store = DigitStore(tmp_path)
    kept = store.add(drawing(3), 3)
    original = kept.path.read_bytes()

    content = store.remove(kept)

    assert content == original and not kept.path.exists()
    assert store.remove(kept) is None, "already gone: nothing to give back"
    restored = store.restore(kept, content)
    assert restored == kept and kept.path.read_bytes() == original
    # Its name taken again meanwhile (a file put there by hand): it comes back under a new one.
    store.remove(kept)
    kept.path.write_bytes(b"another drawing")
    again = store.restore(kept, content)
    assert again.label == 3 and again.path != kept.path and again.path.read_bytes() == original
    assert kept.path.read_bytes() == b"another drawing"
    assert not list(tmp_path.glob("*/*.tmp")), "written atomically, nothing left over"


def test_a_file_too_large_for_a_drawing_is_deleted_without_being_kept(tmp_path: Path) -> None:
    store = DigitStore(tmp_path)
    kept = store.add(drawing(5), 5)
    kept.path.write_bytes(bytes(MAX_FILE_BYTES + 1))
    assert store.remove(kept) is None and not kept.path.exists()


def test_import_copies_readable_drawings_and_export_round_trips(tmp_path: Path) -> None:
    source = DigitStore(tmp_path / "source")
    source.add(drawing(0), 0)
    source.add(drawing(1), 1)
    (tmp_path / "source" / "1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nrest")
    store = DigitStore(tmp_path / "mine")
    result = store.import_folder(tmp_path / "source")
    assert result.copied == 2
    assert any("broken.png" in note for note in result.notes)
    assert store.counts() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    with pytest.raises(StoreError, match="itself"):
        store.import_folder(tmp_path / "mine")
    with pytest.raises(StoreError, match="not a folder"):
        store.import_folder(tmp_path / "missing")

    exported = store.export(tmp_path / "out")
    assert exported.copied == 2
    again = store.export(tmp_path / "out")
    assert again.copied == 0
    assert len(again.notes) == 2  # the existing files were kept, not overwritten
    reread = DigitStore(tmp_path / "out").load()
    assert sorted(sample.label for sample in reread.samples) == [0, 1]
    assert [sample.pixels for sample in reread.samples] == [
        sample.pixels for sample in store.load().samples
    ]


def test_the_cap_refuses_more_drawings_and_reads_no_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mydigits, "MAX_DRAWINGS", 3)
    store = DigitStore(tmp_path)
    for _ in range(3):
        store.add(drawing(1), 1)
    with pytest.raises(StoreError, match="delete some"):
        store.add(drawing(1), 1)
    shutil.copyfile(store.drawings()[0][0].path, tmp_path / "1" / "zzz.png")
    listed, notes = store.drawings()
    assert len(listed) == 3
    assert "3 of 4" in notes[0]


def test_two_thousand_drawings_load(tmp_path: Path) -> None:
    """2,000 drawings (about 4 MB on disk) load in one call, each with its input."""
    store = DigitStore(tmp_path)
    templates = [store.add(drawing(label), label) for label in (0, 1, 7)]
    for index in range(2000 - len(templates)):
        template = templates[index % len(templates)]
        os.link(template.path, template.path.with_name(f"copy-{index:04d}.png"))
    loaded = store.load()
    assert len(loaded.samples) == 2000
    assert loaded.notes == []
    assert {sample.label for sample in loaded.samples} == {0, 1, 7}


def test_a_drawing_is_read_only_as_a_raster_image_from_a_regular_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import EpsImagePlugin

    parsed: list[str] = []
    original_open = EpsImagePlugin.EpsImageFile._open

    def spy(self: EpsImagePlugin.EpsImageFile) -> None:
        parsed.append("eps")
        original_open(self)

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", spy)
    disguised = tmp_path / "drawing.png"
    disguised.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nshowpage\n")
    with pytest.raises(ImageFileError, match=r"drawing\.png"):
        load_drawing(disguised)
    assert parsed == [], "the EPS parser (and so Ghostscript) must never see a drawing file"
    if not hasattr(os, "mkfifo"):
        return
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: _catch(outcome, load_drawing, fifo), daemon=True)
    reader.start()
    reader.join(timeout=5)
    if reader.is_alive():
        with open(fifo, "wb"):  # unblock the reader so the test run can end
            pass
        pytest.fail("load_drawing blocked on a FIFO instead of refusing it")
    assert len(outcome) == 1 and isinstance(outcome[0], ImageFileError)
    assert "pipe" in str(outcome[0])


def _catch(outcome: list[BaseException], function: object, *args: object) -> None:
    """Call function(*args) and append what it raised to outcome."""
    try:
        function(*args)  # type: ignore[operator]
    except BaseException as error:
        outcome.append(error)
