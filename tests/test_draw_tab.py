"""GUI tests: run the real app on an X display (Xvfb) and draw on its canvas with mouse events.

Strokes are sent as real Tk events (press, motion with the button held, release) to the
canvas, so the whole path is exercised: event coordinates, HiDPI scaling, the off-screen image,
the engine's preprocessing, the network and every view.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import subprocess
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk

import pytest
from PIL import Image, ImageChops, ImageTk
from test_preprocess import enclosed_holes

from app import draw_tab
from app.drawing import PAPER_LEVEL, Drawing
from app.main import DigitsApp
from app.models import NO_MODEL_LABEL, activation_full_scale
from app.widgets import activation_colour, magnified
from engine.modelfile import DEFAULT_MODEL_PATH, save_model
from engine.network import Network
from engine.preprocess import preprocess_image

pytestmark = pytest.mark.gui

FROZEN_MS = 1000.0
LATENCY_STROKES = 15
BUTTON_STATE = {1: 0x100, 3: 0x400}

POINTER_STEP = 4.0
# The client area the window may ask for at 96 dpi, menu bar included: a 1366×768 laptop
# screen less a title bar and a taskbar.
MAX_WINDOW_SIZE = (1340, 690)

Stroke = list[tuple[float, float]]


def densify(stroke: Stroke, step: float = POINTER_STEP) -> Stroke:
    """Return the stroke with a point every `step` px, as a moving pointer reports them."""
    points = [stroke[0]]
    for start, end in zip(stroke, stroke[1:]):
        count = max(1, math.ceil(math.dist(start, end) / step))
        for k in range(1, count + 1):
            t = k / count
            points.append((start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t))
    return points


def ellipse(centre: tuple[float, float], radii: tuple[float, float]) -> Stroke:
    """Return a closed ellipse drawn clockwise from its top, in 10° steps."""
    return [
        (
            centre[0] + radii[0] * math.cos(math.radians(angle)),
            centre[1] + radii[1] * math.sin(math.radians(angle)),
        )
        for angle in range(-90, 271, 10)
    ]


# Strokes in logical canvas pixels (280×280): a plain "1", an "0", and a bar across the middle.
ONE = [densify([(150.0, 45.0), (150.0, 235.0)])]
ZERO = [densify(ellipse((150.0, 140.0), (60.0, 92.0)))]
BAR = [densify([(40.0, 140.0), (240.0, 140.0)])]


@pytest.fixture
def error_dialogs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record error dialogs instead of showing them (a modal dialog would block the test)."""
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(
        draw_tab.messagebox,
        "showerror",
        lambda title, message, detail="", **_options: shown.append((title, f"{message}\n{detail}")),
    )
    return shown


def pump_until(app: DigitsApp, condition: Callable[[], object], seconds: float = 30.0) -> None:
    """Run the event loop until condition() is true (a model loading, thumbnails, a teach)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        app.root.update()
        time.sleep(0.01)


def draw(app: DigitsApp, strokes: list[list[tuple[float, float]]], button: int = 1) -> None:
    """Draw strokes (logical canvas coordinates) on the app's canvas with mouse events."""
    for stroke in strokes:
        press(app, stroke, button)
        release(app, stroke[-1], button)


def press(app: DigitsApp, stroke: list[tuple[float, float]], button: int = 1) -> None:
    """Press the button at the stroke's start and drag through its points, without releasing."""
    canvas, scale = app.draw_tab.canvas, app.draw_tab.scale
    x, y = stroke[0]
    canvas.event_generate(f"<ButtonPress-{button}>", x=round(x * scale), y=round(y * scale))
    for x, y in stroke[1:]:
        canvas.event_generate(
            f"<B{button}-Motion>",
            x=round(x * scale),
            y=round(y * scale),
            state=BUTTON_STATE[button],
        )
    app.root.update()


def release(app: DigitsApp, point: tuple[float, float], button: int = 1) -> None:
    """Release the button at point and let Tk redraw."""
    scale = app.draw_tab.scale
    app.draw_tab.canvas.event_generate(
        f"<ButtonRelease-{button}>", x=round(point[0] * scale), y=round(point[1] * scale)
    )
    app.root.update_idletasks()


def key(app: DigitsApp, sequence: str) -> None:
    """Send a key press to the canvas; the window-level shortcuts see it."""
    app.draw_tab.canvas.event_generate(sequence)
    app.root.update()


def reference_image(strokes: list[list[tuple[float, float]]], scale: float) -> Image.Image:
    """Return the off-screen image the strokes should give, drawn without Tk.

    The points are rounded to whole screen pixels as the mouse events were.
    """
    drawing = Drawing()
    for stroke in strokes:
        points = [(round(x * scale) / scale, round(y * scale) / scale) for x, y in stroke]
        drawing.begin_stroke(points[0], drawing_width())
        for point in points[1:]:
            drawing.extend_stroke(point)
    return drawing.image()


def drawing_width() -> float:
    """Return the brush width the app starts with."""
    return draw_tab.DEFAULT_BRUSH_WIDTH


def prediction(app: DigitsApp) -> tuple[str, str]:
    """Return the big digit and the confidence line as shown."""
    tab = app.draw_tab
    return tab.digit_label.cget("text"), tab.confidence_label.cget("text")


def window_size(app: DigitsApp) -> tuple[int, int]:
    """Return the size the window asks for, the menu bar included (Tk's clone of the menu)."""
    root = app.root
    app.root.update()
    menu_bar = "." + str(root.nametowidget(root.cget("menu"))).replace(".", "#")
    menu_height = int(root.tk.call("winfo", "reqheight", menu_bar))
    return root.winfo_reqwidth(), root.winfo_reqheight() + menu_height


def assert_window_fits_a_laptop(app: DigitsApp) -> None:
    """Check, with each tab shown in turn, that the window fits in MAX_WINDOW_SIZE."""
    for tab in (app.draw_tab, app.train_tab):
        app.notebook.select(tab)
        width, height = window_size(app)
        assert width <= MAX_WINDOW_SIZE[0] and height <= MAX_WINDOW_SIZE[1], (
            f"the window asks for {width}×{height} with the {tab.winfo_name()} tab shown"
        )


def is_blank(image: Image.Image) -> bool:
    """Return True if the image is plain paper."""
    return image.getextrema() == (PAPER_LEVEL, PAPER_LEVEL)


def test_drawn_one_and_zero_are_read_correctly(make_app, reading_model):
    app = make_app("--model", reading_model)
    assert prediction(app) == (draw_tab.EMPTY_DIGIT, draw_tab.EMPTY_HINT)

    draw(app, ONE)
    image = app.draw_tab.drawing.image()
    expected = reference_image(ONE, app.draw_tab.scale)
    assert ImageChops.difference(image, expected).getextrema()[1] == 0
    assert image.getpixel((150, 140)) < 64, "the 1's vertical stroke is in the off-screen image"
    assert image.getpixel((60, 140)) == PAPER_LEVEL
    assert prediction(app)[0] == "1"
    assert prediction(app)[1].endswith("% sure")

    key(app, "<Escape>")
    assert is_blank(app.draw_tab.drawing.image())
    assert prediction(app) == (draw_tab.EMPTY_DIGIT, draw_tab.EMPTY_HINT)

    draw(app, ZERO)
    image = app.draw_tab.drawing.image()
    assert ImageChops.difference(image, reference_image(ZERO, app.draw_tab.scale)).getbbox() is None
    assert image.getpixel((150, 140)) == PAPER_LEVEL, "the 0 is hollow"
    assert prediction(app)[0] == "0"
    assert app.draw_tab.reading is not None
    assert len(app.draw_tab.reading.preprocessed.pixels) == 784


# A tall, narrow 8 drawn with a 36 px brush: at 20 px its loops would close without thinning.
FAT_NARROW_EIGHT = [
    densify(ellipse((140.0, 80.0), (22.0, 42.0))),
    densify(ellipse((140.0, 185.0), (27.0, 55.0))),
]
FAT_BRUSH = 36.0


def test_what_the_network_sees_shows_the_thinned_stages(make_app, tiny_model):
    app = make_app("--model", tiny_model)
    tab = app.draw_tab
    tab.brush_width.set(FAT_BRUSH)
    draw(app, FAT_NARROW_EIGHT)
    stages = preprocess_image(tab.drawing.image())
    assert tab.reading is not None and tab.reading.preprocessed.pixels == stages.pixels
    shown = [ImageTk.getimage(view._photo).convert("RGB") for view in tab.stage_views]
    expected = [
        magnified(stage, view.box, view.pixel_grid, view.centre_mark)
        for view, stage in zip(tab.stage_views, (stages.cropped, stages.fitted, stages.centred))
    ]
    for picture, wanted in zip(shown, expected):
        assert ImageChops.difference(picture, wanted).getbbox() is None
    assert (
        ImageChops.difference(
            ImageTk.getimage(tab.input_view._photo).convert("RGB"),
            magnified(stages.centred, tab.input_view.box, tab.input_view.pixel_grid),
        ).getbbox()
        is None
    )
    # The fit stage shows the strokes thinned: less ink than the crop merely scaled down.
    scaled_crop = stages.cropped.resize(stages.fitted.size, Image.Resampling.BOX)
    assert sum(stages.fitted.tobytes()) < 0.92 * sum(scaled_crop.tobytes())
    assert enclosed_holes(stages.pixels) == 2


def test_the_canvas_shows_exactly_the_drawing_after_every_change(make_app, tiny_model):
    app = make_app("--model", tiny_model)
    tab = app.draw_tab

    def assert_canvas_shows_the_drawing() -> None:
        # The canvas photo takes only the pixels that changed (PatchedPhoto): none may be missed.
        shown = ImageTk.getimage(tab._canvas_photo.photo).convert("L")
        expected = tab.drawing.display_image(tab.canvas_side)
        assert ImageChops.difference(shown, expected).getbbox() is None

    press(app, ZERO[0])  # redrawn while the pen moves, before any release
    assert_canvas_shows_the_drawing()
    release(app, ZERO[0][-1])
    for change in (
        lambda: draw(app, ONE),
        lambda: draw(app, BAR, tab.right_button),
        lambda: key(app, "<Control-z>"),
        lambda: key(app, "<Escape>"),
    ):
        change()
        assert_canvas_shows_the_drawing()


def test_each_hidden_unit_shows_the_colour_of_its_activation(make_app, reading_model):
    app = make_app("--model", reading_model)
    tab = app.draw_tab
    draw(app, ZERO)
    assert tab.reading is not None
    network = tab.current_model()
    for grid, activations in zip(tab.activation_grids, tab.reading.hidden_activations):
        full_scale = activation_full_scale(network) or max(map(abs, activations))
        picture = ImageTk.getimage(grid._photo).convert("RGB")
        for unit, value in enumerate(activations):
            row, column = divmod(unit, grid.columns)
            middle = (column * grid.cell + grid.cell // 2, row * grid.cell + grid.cell // 2)
            assert picture.getpixel(middle) == activation_colour(value / full_scale), unit


def test_probability_bars_follow_each_reading_and_the_panel_width(make_app, reading_model):
    app = make_app("--model", reading_model)
    tab, bars = app.draw_tab, app.draw_tab.bars

    def assert_bars_show_the_reading() -> None:
        assert tab.reading is not None
        track_left, track_right = bars.label_width, bars.winfo_width() - bars.value_width
        for digit, probability in enumerate(tab.reading.probabilities):
            assert bars.coords(bars._tracks[digit])[::2] == [track_left, track_right]
            bar_left, _, bar_right, _ = bars.coords(bars._bars[digit])
            assert bar_left == track_left
            assert bar_right == pytest.approx(
                track_left + (track_right - track_left) * probability, abs=0.01
            )
            assert bars.itemcget(bars._values[digit], "text") == f"{probability:.1%}"

    draw(app, ONE)
    assert_bars_show_the_reading()
    bars.configure(width=bars.winfo_width() + 60)  # the panel widens: the tracks stretch
    app.root.update()
    assert_bars_show_the_reading()
    key(app, "<Escape>")
    draw(app, ZERO)
    assert_bars_show_the_reading()


def test_a_click_is_too_small_to_read_until_a_digit_is_drawn(make_app, reading_model):
    app = make_app("--model", reading_model)
    draw(app, [[(140.0, 140.0)]])  # one click: a round dot of the brush
    assert not is_blank(app.draw_tab.drawing.image())
    assert app.draw_tab.reading is None
    assert prediction(app) == (draw_tab.EMPTY_DIGIT, draw_tab.TOO_SMALL_HINT)
    draw(app, ONE)
    assert prediction(app)[0] == "1"
    key(app, "<Escape>")
    assert prediction(app) == (draw_tab.EMPTY_DIGIT, draw_tab.EMPTY_HINT)


def test_real_pointer_events_from_xdotool_draw_and_predict(make_app, reading_model, x_display):
    xdotool = shutil.which("xdotool")
    if xdotool is None or not x_display.private:
        pytest.skip("needs xdotool and a private Xvfb (it moves the display's real pointer)")
    app = make_app("--model", reading_model)
    canvas, scale = app.draw_tab.canvas, app.draw_tab.scale

    def xdo(*arguments: object) -> None:
        subprocess.run([xdotool, *map(str, arguments)], check=True)
        app.root.update()

    stroke = [(round(x * scale), round(y * scale)) for x, y in ONE[0]]
    origin_x, origin_y = canvas.winfo_rootx(), canvas.winfo_rooty()
    xdo("mousemove", origin_x + stroke[0][0], origin_y + stroke[0][1])
    xdo("mousedown", 1)
    for x, y in stroke[1:]:
        xdo("mousemove", origin_x + x, origin_y + y)
    xdo("mouseup", 1)
    assert len(app.draw_tab.drawing.strokes) == 1
    assert app.draw_tab.drawing.image().getpixel((150, 140)) < 64
    assert prediction(app)[0] == "1"


def test_prediction_updates_while_drawing_before_release(make_app, reading_model):
    app = make_app("--model", reading_model)
    press(app, ONE[0])
    time.sleep(draw_tab.PREDICT_INTERVAL_MS / 1000 + 0.02)
    app.root.update()
    assert prediction(app)[0] == "1"
    release(app, ONE[0][-1])


def test_clear_button_escape_and_delete_all_clear(make_app, tiny_model):
    app = make_app("--model", tiny_model)
    tab = app.draw_tab
    for clear in (tab.clear, lambda: key(app, "<Escape>"), lambda: key(app, "<Delete>")):
        draw(app, BAR)
        assert not is_blank(tab.drawing.image())
        assert prediction(app)[0] != draw_tab.EMPTY_DIGIT
        clear()
        app.root.update()
        assert is_blank(tab.drawing.image())
        assert tab.drawing.strokes == []
        assert prediction(app) == (draw_tab.EMPTY_DIGIT, draw_tab.EMPTY_HINT)


def test_clearing_in_the_middle_of_a_stroke_ends_that_stroke(make_app, tiny_model):
    app = make_app("--model", tiny_model)
    press(app, ONE[0])
    key(app, "<Escape>")
    press_rest = BAR[0][1:]
    for x, y in press_rest:
        app.draw_tab.canvas.event_generate("<B1-Motion>", x=round(x), y=round(y), state=0x100)
    release(app, BAR[0][-1])
    assert app.draw_tab.drawing.strokes == []
    assert is_blank(app.draw_tab.drawing.image())


def test_ctrl_z_undoes_the_last_stroke_only(make_app, tiny_model):
    app = make_app("--model", tiny_model)
    tab = app.draw_tab
    draw(app, ONE)
    after_one = tab.drawing.image().tobytes()
    draw(app, BAR)
    assert tab.drawing.image().tobytes() != after_one
    key(app, "<Control-z>")
    assert tab.drawing.image().tobytes() == after_one
    assert len(tab.drawing.strokes) == len(ONE)
    key(app, "<Control-z>")
    assert is_blank(tab.drawing.image())
    assert prediction(app)[1] == draw_tab.EMPTY_HINT


def test_keys_typed_into_a_text_field_do_not_clear_the_drawing(make_app, tiny_model):
    app = make_app("--model", tiny_model)
    draw(app, ONE)
    field = ttk.Entry(app.root)
    field.pack()
    field.insert(0, "42")
    field.focus_force()
    app.root.update()
    field.event_generate("<Delete>")
    field.event_generate("<Escape>")
    app.root.update()
    assert len(app.draw_tab.drawing.strokes) == len(ONE)
    draw(app, BAR)  # drawing takes the focus back, so the shortcuts work again
    key(app, "<Escape>")
    assert app.draw_tab.drawing.strokes == []


def test_shortcuts_do_nothing_while_the_train_tab_is_shown(make_app, tiny_model):
    app = make_app("--model", tiny_model)
    draw(app, ONE)
    app.notebook.select(app.train_tab)
    app.root.update()
    app.train_tab.event_generate("<Escape>")
    app.train_tab.event_generate("<Control-z>")
    app.root.update()
    assert len(app.draw_tab.drawing.strokes) == len(ONE)
    app.notebook.select(app.draw_tab)
    app.root.update()
    key(app, "<Control-z>")
    assert app.draw_tab.drawing.strokes == []


def test_right_button_erases_and_erasing_is_undoable(make_app, tiny_model):
    app = make_app("--model", tiny_model)
    tab = app.draw_tab
    draw(app, ONE)
    inked = tab.drawing.image().tobytes()
    draw(app, BAR, button=3)
    image = tab.drawing.image()
    assert image.getpixel((150, 140)) == PAPER_LEVEL, "the eraser crossed the 1 here"
    assert image.getpixel((150, 60)) < 64, "the rest of the 1 is still there"
    assert tab.drawing.strokes[-1].erase
    key(app, "<Control-z>")
    assert tab.drawing.image().tobytes() == inked


def test_corrupt_model_file_shows_an_error_and_keeps_the_current_model(
    make_app, reading_model, tmp_path, error_dialogs, monkeypatch
):
    app = make_app("--model", reading_model)
    tab = app.draw_tab
    model_before = tab.current_model()
    label_before = tab.model_choice.get()
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"layer_sizes": [784, 10], "weights": [[1, 2', encoding="utf-8")

    # Through the picker's "Open…" entry, as a person would (the file dialog answers).
    monkeypatch.setattr(draw_tab.filedialog, "askopenfilename", lambda **_options: str(corrupt))
    tab.model_choice.set(draw_tab.OPEN_LABEL)
    tab.picker.event_generate("<<ComboboxSelected>>")
    pump_until(app, lambda: error_dialogs)

    assert len(error_dialogs) == 1
    assert "corrupt.json" in error_dialogs[0][1]
    assert tab.current_model() is model_before
    assert tab.model_choice.get() == label_before
    assert "corrupt.json" not in " ".join(tab.picker.cget("values"))
    assert "Could not open corrupt.json" in app.status.text
    draw(app, ZERO)
    assert prediction(app)[0] == "0", "the app still reads with the old model"


def test_no_model_found_keeps_the_app_usable(make_app, tmp_path, error_dialogs):
    app = make_app("--models-dir", tmp_path)
    tab = app.draw_tab
    assert tab.current_model() is None
    assert tab.model_choice.get() == NO_MODEL_LABEL
    assert "No model found" in app.status.text
    draw(app, ONE)
    assert not is_blank(tab.drawing.image())
    assert prediction(app) == (draw_tab.EMPTY_DIGIT, "no model loaded")
    assert error_dialogs == []


def test_shipped_models_are_offered_and_a_broken_default_falls_back(
    make_app, tmp_path, error_dialogs
):
    (tmp_path / "default.json").write_text("not json", encoding="utf-8")
    save_model(
        Network.create([784, 16, 16, 10], "sigmoid", "mse", seed=0), tmp_path / "classic.json"
    )
    app = make_app("--models-dir", tmp_path)
    tab = app.draw_tab
    assert tab.current_model().architecture == "784-16-16-10"
    assert len(tab.activation_grids) == 2
    app.root.update()
    assert error_dialogs and "default.json" in error_dialogs[0][1]
    draw(app, ZERO)
    assert abs(sum(tab.reading.probabilities) - 1.0) < 1e-9, "MSE outputs are normalised"


def test_context_use_model_adds_and_selects_a_trained_network(make_app, tiny_model):
    app = make_app("--model", tiny_model)
    trained = Network.create([784, 20, 10], "relu", seed=3)
    app.context.use_model(trained, "Trained just now")
    app.root.update()
    assert app.context.current_model() is trained
    assert app.draw_tab.model_choice.get() == "Trained just now"
    assert "784-20-10" in app.draw_tab.model_info.cget("text")
    assert app.draw_tab.activation_grids[0].units == 20
    newer = Network.create([784, 24, 10], "relu", seed=4)
    app.context.use_model(newer, "Trained just now")
    assert list(app.draw_tab.picker.cget("values")).count("Trained just now") == 1
    assert app.context.current_model() is newer


def test_save_drawing_writes_the_off_screen_image_as_png(make_app, tiny_model, tmp_path):
    app = make_app("--model", tiny_model)
    draw(app, ONE)
    path = tmp_path / "one.png"
    assert app.draw_tab.save_drawing(path)
    with Image.open(path) as saved:
        assert saved.format == "PNG"
        assert saved.size == (280, 280)
        assert saved.tobytes() == app.draw_tab.drawing.image().tobytes()


# Packing the shipped 784-512-10 for the fast path takes about 0.5 s on a slow shared core.
FAST_PATH_READY_SECONDS = 30


def test_prediction_follows_the_pen_lifting(make_app, tmp_path):
    """Time ButtonRelease → every view updated and redrawn, with the shipped default model.

    Prints the latency (run with -s to see it; the README gives the figures). Speed is
    measured, not asserted: the test requires the reading to be there when the release has
    been handled, and only a latency far beyond the 30 ms aim (a frozen or runaway canvas).
    """
    path = DEFAULT_MODEL_PATH
    if not path.is_file():
        path = tmp_path / "mlp128.json"
        save_model(Network.create([784, 128, 10], "relu", seed=0), path)
    app = make_app("--model", path)
    assert app.draw_tab.reader.wait_until_ready(FAST_PATH_READY_SECONDS), "the fast path is used"
    wall_ms, cpu_ms = [], []
    for index in range(LATENCY_STROKES):
        app.draw_tab.clear()
        stroke = ONE[0] if index % 2 else ZERO[0]
        press(app, stroke)
        version_before = app.draw_tab.drawing.version
        # Lifting the pen 3 px past the last motion: the worst case, a new segment to draw and
        # a full reading (no throttled reading of the same drawing to reuse).
        last_x, last_y = stroke[-1]
        wall_started, cpu_started = time.perf_counter(), time.process_time()
        release(app, (last_x + 3, last_y))  # handles the release and redraws every view
        wall_ms.append((time.perf_counter() - wall_started) * 1000)
        cpu_ms.append((time.process_time() - cpu_started) * 1000)
        assert app.draw_tab.drawing.version > version_before
        assert app.draw_tab.reading is not None
        assert app.draw_tab.digit_label.cget("text") == str(app.draw_tab.reading.digit)
    median_wall, median_cpu = statistics.median(wall_ms), statistics.median(cpu_ms)
    print(
        f"pen-lift to prediction, {app.draw_tab.current_model().architecture}:"
        f" median {median_wall:.1f} ms"
        f" (max {max(wall_ms):.1f} ms), CPU median {median_cpu:.1f} ms,"
        f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    assert median_wall < FROZEN_MS


def test_closing_cancels_pending_work(make_app, tiny_model):
    app = make_app("--model", tiny_model)
    press(app, BAR[0])  # leaves a throttled prediction pending
    assert app.root.tk.call("after", "info")
    app.draw_tab.close()
    app.status.close()  # the status line's own timer (a message fades after a while)
    assert not app.root.tk.call("after", "info")
    app.close()
    with pytest.raises(tk.TclError):
        app.root.winfo_exists()


def test_the_window_fits_a_1366x768_laptop_screen(make_app, tiny_model, tmp_path):
    app = make_app("--model", tiny_model)
    assert app.scale == 1.0, "the limit is for a 96-dpi screen"
    assert_window_fits_a_laptop(app)
    draw(app, ZERO)
    assert_window_fits_a_laptop(app)

    two_layers = tmp_path / "two_layers.json"  # like the classic model: a grid per layer
    save_model(Network.create([784, 16, 16, 10], "sigmoid", seed=0), two_layers)
    app.draw_tab.open_model_file(two_layers)
    pump_until(app, lambda: app.draw_tab.model.path == two_layers)
    assert len(app.draw_tab.activation_grids) == 2
    assert_window_fits_a_laptop(app)


# ----- correcting a reading: keeping drawings in My digits ------------------------------------


def kept_files(folder: Path) -> dict[int, list[Path]]:
    """Return the PNG files in each digit folder of a My digits folder."""
    return {digit: sorted((folder / str(digit)).glob("*.png")) for digit in range(10)}


def shown_counts(app: DigitsApp) -> list[int]:
    """Return the per-digit counter as shown under the probability bars."""
    return [int(label.cget("text")) for label in app.draw_tab.count_labels]


def test_a_digit_key_keeps_the_drawing_and_undo_removes_exactly_it(
    make_app, reading_model, tmp_path
):
    folder = tmp_path / "mine"
    app = make_app("--model", reading_model, "--my-digits", folder)
    tab = app.draw_tab
    assert shown_counts(app) == [0] * 10
    draw(app, ONE)
    assert prediction(app)[0] == "1"
    as_drawn = tab.drawing.image().copy()
    key(app, "<Key-7>")

    files = kept_files(folder)
    assert len(files[7]) == 1 and sum(map(len, files.values())) == 1
    with Image.open(files[7][0]) as stored:
        assert stored.size == (280, 280)
        assert ImageChops.difference(stored.convert("L"), as_drawn).getbbox() is None
    assert shown_counts(app) == [0] * 7 + [1, 0, 0]
    assert tab.kept_label.cget("text") == "Kept as 7 (read 1) —"
    assert str(tab.undo_keep_button.cget("state")) == "normal"
    assert is_blank(tab.drawing.image()), "the canvas is ready for the next drawing"

    draw(app, ZERO)
    key(app, "<Key-0>")
    assert len(kept_files(folder)[0]) == 1
    assert tab.kept_label.cget("text") == "Kept as 0 —"
    zero_file = kept_files(folder)[0][0]

    tab.undo_keep_button.invoke()
    app.root.update()
    assert kept_files(folder)[0] == [] and kept_files(folder)[7] == files[7]
    assert zero_file.exists() is False
    assert shown_counts(app) == [0] * 7 + [1, 0, 0]
    assert str(tab.undo_keep_button.cget("state")) == "disabled"
    assert (
        ImageChops.difference(tab.drawing.image(), reference_image(ZERO, tab.scale)).getbbox()
        is None
    ), "Undo puts the drawing back on the canvas"
    assert prediction(app)[0] == "0"


def test_clicking_a_bar_or_ctrl_enter_keeps_the_drawing(
    make_app, reading_model, tmp_path, monkeypatch
):
    folder = tmp_path / "from-env"
    monkeypatch.setenv("DIGITS_MY_DIGITS", str(folder))
    app = make_app("--model", reading_model)
    tab = app.draw_tab
    draw(app, ONE)
    bar_middle = round(tab.bars.row_height * 3.5)
    tab.bars.event_generate("<Button-1>", x=100, y=bar_middle)
    app.root.update()
    assert len(kept_files(folder)[3]) == 1
    draw(app, ONE)
    key(app, "<Control-Return>")
    assert len(kept_files(folder)[1]) == 1
    assert shown_counts(app) == [0, 1, 0, 1, 0, 0, 0, 0, 0, 0]


def test_nothing_is_kept_without_a_drawing_or_while_typing(make_app, tiny_model, tmp_path):
    folder = tmp_path / "mine"
    app = make_app("--model", tiny_model, "--my-digits", folder)
    key(app, "<Key-5>")
    key(app, "<Control-Return>")
    draw(app, [[(140.0, 140.0)]])  # a dot: too small to read
    key(app, "<Key-5>")
    assert "too small" in app.status.label.cget("text")
    assert not folder.exists() or not any(map(len, kept_files(folder).values()))

    draw(app, ONE)
    field = ttk.Entry(app.root)
    field.pack()
    field.focus_force()
    app.root.update()
    field.event_generate("<Key-5>")
    app.root.update()
    assert field.get() == "5", "the key went to the text field"
    assert not folder.exists() or not any(map(len, kept_files(folder).values()))
    app.notebook.select(app.train_tab)
    app.root.update()
    app.train_tab.event_generate("<Key-5>")
    app.root.update()
    assert not folder.exists() or not any(map(len, kept_files(folder).values()))


def test_a_store_that_cannot_be_written_is_an_error_in_the_status_bar(
    make_app, tiny_model, tmp_path
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app = make_app("--model", tiny_model, "--my-digits", blocker)
    draw(app, ONE)
    key(app, "<Key-1>")
    assert "Could not keep the drawing" in app.status.label.cget("text")
    assert len(app.draw_tab.drawing.strokes) == len(ONE), "the drawing is not lost"
    assert blocker.read_text() == "not a folder"
