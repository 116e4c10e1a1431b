"""Tk-free tests of the drawing model (strokes, undo, the off-screen image) and model picking."""

from __future__ import annotations

import math
import random
from operator import sub
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from app.drawing import (
    CANVAS_SIZE,
    INK_LEVEL,
    MAX_BRUSH_WIDTH,
    MIN_BRUSH_WIDTH,
    PAPER_LEVEL,
    Drawing,
)
from app.models import (
    CLASSIC_LABEL,
    DEFAULT_LABEL,
    SHORT_PATH_CHARACTERS,
    DigitReader,
    ModelCatalogue,
    describe_model,
    dialog_text,
    read_digit,
)
from engine.fast import quantised_inputs
from engine.inference import FloatPredictor, predictor
from engine.modelfile import ModelFileError, load_model, save_model
from engine.network import Network
from engine.preprocess import preprocess_image


def draw_line(drawing: Drawing, start, end, width: float = 20.0, erase: bool = False) -> None:
    """Draw a straight stroke from start to end in 20 steps, like a pointer would."""
    drawing.begin_stroke(start, width, erase)
    for step in range(1, 21):
        t = step / 20
        drawing.extend_stroke(
            (start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)
        )


def test_new_drawing_is_blank_paper_of_canvas_size():
    image = Drawing().image()
    assert image.mode == "L"
    assert image.size == (CANVAS_SIZE, CANVAS_SIZE)
    assert image.getextrema() == (PAPER_LEVEL, PAPER_LEVEL)


def test_a_click_leaves_a_round_dot_of_the_brush_width():
    drawing = Drawing()
    drawing.begin_stroke((100.0, 100.0), 20.0)
    image = drawing.image()
    assert image.getpixel((100, 100)) == INK_LEVEL
    left, top, right, bottom = ImageChops.invert(image).getbbox()
    assert 19 <= right - left <= 22
    assert 19 <= bottom - top <= 22
    # A round dot: the corners of its bounding box stay paper.
    assert image.getpixel((left, top)) == PAPER_LEVEL


def test_a_stroke_is_solid_in_the_middle_and_anti_aliased_at_its_edges():
    drawing = Drawing()
    draw_line(drawing, (140.0, 40.0), (140.0, 240.0), width=20.0)
    image = drawing.image()
    assert image.getpixel((140, 140)) == INK_LEVEL
    assert image.getpixel((160, 140)) == PAPER_LEVEL
    left, top, right, bottom = ImageChops.invert(image).getbbox()
    assert (left, right) == (130, 150)
    assert (top, bottom) == (30, 250)  # round caps reach half a width past the ends
    drawing.clear()
    draw_line(drawing, (40.0, 60.0), (240.0, 200.0), width=20.0)
    levels = drawing.image().getcolors()
    greys = sum(count for count, level in levels if INK_LEVEL < level < PAPER_LEVEL)
    assert greys > 200, "a slanted edge should be shaded grey, not stepped"


def test_strokes_are_recorded_in_logical_coordinates_whatever_the_supersampling():
    fine, coarse = Drawing(supersampling=4), Drawing(supersampling=2)
    for drawing in (fine, coarse):
        draw_line(drawing, (60.0, 70.0), (220.0, 200.0), width=16.0)
    difference = ImageChops.difference(fine.image(), coarse.image())
    histogram = difference.histogram()
    mean_difference = sum(level * count for level, count in enumerate(histogram)) / (280 * 280)
    assert mean_difference < 1.0


def test_tiny_pointer_moves_add_no_points():
    drawing = Drawing()
    drawing.begin_stroke((50.0, 50.0), 10.0)
    assert not drawing.extend_stroke((50.2, 50.3))
    assert drawing.extend_stroke((60.0, 50.0))
    assert drawing.strokes[0].points == [(50.0, 50.0), (60.0, 50.0)]


def test_extending_without_a_stroke_is_an_error():
    drawing = Drawing()
    try:
        drawing.extend_stroke((1.0, 1.0))
    except RuntimeError:
        return
    raise AssertionError("expected RuntimeError")


def test_undo_removes_exactly_the_last_stroke():
    drawing = Drawing()
    draw_line(drawing, (40.0, 40.0), (240.0, 40.0))
    after_first = drawing.image().tobytes()
    draw_line(drawing, (40.0, 200.0), (240.0, 200.0))
    assert drawing.image().tobytes() != after_first
    assert drawing.undo()
    assert drawing.image().tobytes() == after_first
    assert drawing.undo()
    assert drawing.image().getextrema() == (PAPER_LEVEL, PAPER_LEVEL)
    assert not drawing.undo()


def test_clear_removes_everything_and_reports_whether_there_was_anything():
    drawing = Drawing()
    assert not drawing.clear()
    draw_line(drawing, (40.0, 40.0), (240.0, 240.0))
    assert drawing.clear()
    assert drawing.strokes == []
    assert drawing.image().getextrema() == (PAPER_LEVEL, PAPER_LEVEL)


def test_erasing_paints_paper_and_can_be_undone():
    drawing = Drawing()
    draw_line(drawing, (140.0, 40.0), (140.0, 240.0), width=20.0)
    inked = drawing.image().tobytes()
    draw_line(drawing, (100.0, 140.0), (180.0, 140.0), width=30.0, erase=True)
    image = drawing.image()
    assert image.getpixel((140, 140)) == PAPER_LEVEL
    assert image.getpixel((140, 60)) == INK_LEVEL
    assert drawing.strokes[-1].erase
    drawing.undo()
    assert drawing.image().tobytes() == inked


def test_brush_width_is_kept_within_its_range():
    drawing = Drawing()
    assert drawing.begin_stroke((10.0, 10.0), 1.0).width == MIN_BRUSH_WIDTH
    assert drawing.begin_stroke((10.0, 10.0), 500.0).width == MAX_BRUSH_WIDTH


def test_display_image_scales_the_same_drawing_for_hidpi_canvases():
    drawing = Drawing()
    draw_line(drawing, (140.0, 40.0), (140.0, 240.0), width=20.0)
    assert drawing.display_image(CANVAS_SIZE) is drawing.image()
    doubled = drawing.display_image(2 * CANVAS_SIZE)
    assert doubled.size == (560, 560)
    assert doubled.getpixel((280, 280)) == INK_LEVEL
    back = doubled.resize((CANVAS_SIZE, CANVAS_SIZE), Image.Resampling.BOX)
    assert ImageChops.difference(back, drawing.image()).getextrema()[1] <= 2


def test_the_image_after_each_pen_move_is_the_whole_drawing_reduced():
    # The image is brought up to date by reducing only the box the pen drew on: it must be
    # exactly the whole supersampled drawing reduced, at the edges, while erasing, at any width.
    rng = random.Random(7)
    drawing = Drawing()
    for stroke in range(12):
        width = rng.uniform(MIN_BRUSH_WIDTH, MAX_BRUSH_WIDTH)
        drawing.begin_stroke((rng.uniform(-30, 310), rng.uniform(-30, 310)), width, stroke > 8)
        earlier = drawing.image()
        earlier_bytes = earlier.tobytes()
        for _ in range(15):
            drawing.extend_stroke((rng.uniform(-30, 310), rng.uniform(-30, 310)))
            whole = drawing._hires.reduce(drawing.supersampling)
            assert drawing.image().tobytes() == whole.tobytes()
        assert earlier.tobytes() == earlier_bytes, "an image handed out earlier never changes"
    drawing.undo()
    assert drawing.image().tobytes() == drawing._hires.reduce(drawing.supersampling).tobytes()


def test_every_change_bumps_the_version():
    drawing = Drawing()
    versions = [drawing.version]
    drawing.begin_stroke((10.0, 10.0), 10.0)
    versions.append(drawing.version)
    drawing.extend_stroke((30.0, 30.0))
    versions.append(drawing.version)
    drawing.undo()
    versions.append(drawing.version)
    assert versions == sorted(set(versions))


def models_dir_with(tmp_path: Path, default: Network | None, classic: Network | None) -> Path:
    """Return a models folder holding the given networks as default.json / classic.json."""
    for name, network in (("default.json", default), ("classic.json", classic)):
        if network is not None:
            save_model(network, tmp_path / name)
    return tmp_path


def drawn_bar() -> Image.Image:
    """Return the off-screen image of one thick horizontal bar."""
    drawing = Drawing()
    draw_line(drawing, (60.0, 140.0), (220.0, 140.0), width=24.0)
    return drawing.image()


def test_read_digit_runs_the_engine_preprocessing_and_the_network():
    network = Network.create([784, 16, 12, 10], "relu", seed=0)
    reading = read_digit(network, drawn_bar(), FloatPredictor(network).forward)
    assert reading is not None
    assert reading.preprocessed.pixels == preprocess_image(drawn_bar()).pixels
    expected = network.forward(quantised_inputs(reading.preprocessed.pixels))
    assert reading.probabilities == expected[-1]
    assert [len(layer) for layer in reading.hidden_activations] == [16, 12]
    assert reading.digit == max(range(10), key=expected[-1].__getitem__)
    assert reading.confidence == max(expected[-1])


# Packing a tiny network takes milliseconds; this much only on a very busy machine.
READY_SECONDS = 30


def test_a_reader_reads_through_the_fast_path_once_it_is_packed():
    network = Network.create([784, 16, 12, 10], "relu", seed=0)
    reader = DigitReader(network)
    # Until the fast path is packed: floats, on the same 4-level inputs.
    floats = reader.read(drawn_bar())
    pixels = preprocess_image(drawn_bar()).pixels
    assert floats.probabilities == network.forward(quantised_inputs(pixels))[-1]
    assert reader.wait_until_ready(READY_SECONDS)
    reading = reader.read(drawn_bar())
    fast = predictor(network).forward(pixels)
    assert reading.probabilities == fast[-1]
    assert reading.hidden_activations == fast[1:-1]
    assert reading.digit == floats.digit
    assert max(map(abs, map(sub, reading.probabilities, floats.probabilities))) < 0.01
    assert reader.read(Drawing().image()) is None


def test_read_digit_on_a_blank_drawing_is_none():
    network = Network.create([784, 16, 10])
    assert read_digit(network, Drawing().image(), FloatPredictor(network).forward) is None


def test_read_digit_normalises_sigmoid_outputs_of_mse_models():
    network = Network.create([784, 16, 16, 10], "sigmoid", "mse", seed=0)
    reading = read_digit(network, drawn_bar(), FloatPredictor(network).forward)
    assert abs(sum(reading.probabilities) - 1.0) < 1e-9
    assert abs(sum(network.predict(quantised_inputs(reading.preprocessed.pixels))) - 1.0) > 1e-3


def test_catalogue_offers_the_shipped_models_that_exist(tmp_path):
    folder = models_dir_with(tmp_path, Network.create([784, 20, 10]), None)
    catalogue = ModelCatalogue(folder)
    assert catalogue.labels == [DEFAULT_LABEL]
    entry, problems = catalogue.first_loadable()
    assert entry.label == DEFAULT_LABEL
    assert entry.load().architecture == "784-20-10"
    assert problems == []


def test_catalogue_skips_a_broken_default_and_reports_it(tmp_path):
    folder = models_dir_with(tmp_path, None, Network.create([784, 16, 16, 10], "sigmoid", "mse"))
    (folder / "default.json").write_text("{not json", encoding="utf-8")
    catalogue = ModelCatalogue(folder)
    assert catalogue.labels == [DEFAULT_LABEL, CLASSIC_LABEL]
    entry, problems = catalogue.first_loadable()
    assert entry.label == CLASSIC_LABEL
    assert len(problems) == 1 and problems[0].startswith(DEFAULT_LABEL)


def test_catalogue_with_no_model_files_is_empty(tmp_path):
    catalogue = ModelCatalogue(tmp_path)
    assert catalogue.labels == []
    assert catalogue.first_loadable() == (None, [])


def test_opening_a_corrupt_file_raises_and_adds_nothing(tmp_path):
    catalogue = ModelCatalogue(tmp_path)
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_bytes(b"\x89PNG not a model")
    with pytest.raises(ModelFileError):
        catalogue.add_file(corrupt)
    assert catalogue.labels == []


def test_opened_and_trained_models_replace_entries_of_the_same_label(tmp_path):
    catalogue = ModelCatalogue(tmp_path)
    path = tmp_path / "mine.json"
    save_model(Network.create([784, 16, 10]), path)
    first = catalogue.add_file(path)
    save_model(Network.create([784, 32, 10]), path)
    second = catalogue.add_file(path)
    assert catalogue.labels == [first.label]
    assert second.load().architecture == "784-32-10"
    trained = Network.create([784, 8, 10])
    catalogue.add_network(Network.create([784, 8, 10]), "Trained just now")
    catalogue.add_network(trained, "Trained just now")
    assert catalogue.labels == [first.label, "Trained just now"]
    assert catalogue.entry("Trained just now").load() is trained


def test_describe_model_names_architecture_and_accuracy():
    network = Network.create([784, 128, 10])
    network.metadata["test_accuracy"] = 0.9812
    assert describe_model(network) == "784-128-10 · relu hidden units · test accuracy 98.1%"
    classic = Network.create([784, 16, 16, 10], "sigmoid", "mse")
    assert "sigmoid outputs (MSE)" in describe_model(classic)
    assert "test accuracy unknown" in describe_model(classic)
    assert describe_model(None).startswith("No model loaded")


def test_dialog_text_says_it_plainly_and_never_splits_a_long_path(tmp_path):
    folder = tmp_path / ("a-very-long-folder-name-without-any-spaces-" * 3)
    folder.mkdir()
    path = folder / "hostile.json"
    path.write_text("[" * 100_000)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    message, detail = dialog_text(caught.value, "Still using the default.")
    assert message == "This model file is damaged or incomplete. Still using the default."
    assert "“hostile.json” is not a Digits model file" in detail
    assert str(folder) not in detail
    # Every unbroken run of characters fits one line of the dialog's detail text.
    assert max(len(word) for word in detail.split()) <= SHORT_PATH_CHARACTERS + len("Folder:")


@pytest.mark.parametrize("accuracy", [math.inf, 1e308 * 10, 10**400, -0.5, 3.0, "high"])
def test_nonsense_test_accuracy_in_metadata_is_not_shown(accuracy):
    network = Network.create([784, 8, 10])
    network.metadata["test_accuracy"] = accuracy
    assert "test accuracy unknown" in describe_model(network)
