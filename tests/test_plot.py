"""Tests of the plots' Tk-free maths and layout: ticks, scales, smoothing, shapes and PNG export."""

from __future__ import annotations

import pytest

from app.plot import (
    MAX_TICKS,
    PLOT_BACKGROUND,
    SMOOTH_LOSS_COLOUR,
    Dot,
    Line,
    LinearScale,
    PlotSpec,
    Series,
    Text,
    TrainingCurves,
    format_tick,
    nice_ceiling,
    nice_step,
    nice_ticks,
    plot_shapes,
    render_image,
    smooth,
    smoothing_weight,
)
from app.training_worker import LossPoint
from engine.train import EpochEnd

WIDTH, HEIGHT = 400, 200


def measure(text: str) -> float:
    """Return a text width as a fixed-pitch font would give it."""
    return 7.0 * len(text)


def epoch_end(epoch: int, train_loss: float, test_loss: float, train: float, test: float):
    """Return an EpochEnd with the figures the plots use."""
    return EpochEnd(epoch, 3, train_loss, train, test_loss, test, 100.0, float(epoch))


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 2.3, [0.0, 0.5, 1.0, 1.5, 2.0]),
        (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0.0, 3.0, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]),
        (0.8, 1.0, [0.8, 0.85, 0.9, 0.95, 1.0]),
        (0.0, 60.0, [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]),
    ],
)
def test_ticks_are_round_numbers_within_the_range(low, high, expected):
    ticks = nice_ticks(low, high)
    assert ticks == pytest.approx(expected)
    assert len(ticks) <= MAX_TICKS + 1


def test_nice_steps_are_1_2_2_5_or_5_times_a_power_of_ten():
    assert nice_step(10, 5) == 2.0
    assert nice_step(0.03, 6) == pytest.approx(0.005)
    assert nice_step(0, 5) == 1.0


def test_nice_ceiling_rounds_up_to_a_tick():
    assert nice_ceiling(2.31) == 2.5
    assert nice_ceiling(0.42) == pytest.approx(0.5)
    assert nice_ceiling(0.0) == 1.0
    assert nice_ceiling(float("nan")) == 1.0


def test_tick_labels_have_the_decimals_the_step_needs():
    assert format_tick(0.5, 0.25) == "0.50"
    assert format_tick(2.0, 0.5) == "2.0"
    assert format_tick(20.0, 10.0) == "20"
    assert format_tick(0.85, 0.05, percent=True) == "85%"
    assert format_tick(0.825, 0.025, percent=True) == "82.5%"


def test_linear_scale_maps_and_clamps():
    scale = LinearScale(0.0, 2.0, 100.0, 0.0)  # y grows downwards on screen
    assert scale(0.0) == 100.0
    assert scale(1.0) == 50.0
    assert scale(5.0) == 0.0
    assert LinearScale(1.0, 1.0, 0.0, 10.0)(1.0) == 0.0


def test_smoothing_keeps_constants_and_lags_behind_a_step():
    assert smooth([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])
    assert smooth([1.0, 5.0], 0.0) == [1.0, 5.0]
    stepped = smooth([0.0] * 10 + [1.0] * 10, 0.8)
    assert 0.0 < stepped[10] < stepped[15] < 1.0


def test_smoothing_weight_grows_with_the_number_of_points():
    assert smoothing_weight(30) == 0.0
    assert 0.0 < smoothing_weight(200) < smoothing_weight(600) < 1.0


def sample_spec(**changes: object) -> PlotSpec:
    """Return a small plot spec with one curve with dots."""
    series = (Series("loss", SMOOTH_LOSS_COLOUR, ((0.0, 2.0), (1.0, 1.0), (2.0, 0.5)), dots=True),)
    spec = {"title": "Loss", "x_label": "epoch", "x_range": (0.0, 2.0), "y_range": (0.0, 2.5)}
    return PlotSpec(**{**spec, "series": series, **changes})


def test_shapes_draw_the_curve_inside_the_plot_area_with_title_legend_and_ticks():
    shapes = plot_shapes(sample_spec(), WIDTH, HEIGHT, measure)
    texts = {shape.text for shape in shapes if isinstance(shape, Text)}
    assert {"Loss", "loss", "epoch", "0.0", "2.5", "1.0", "2.0"} <= texts
    curve = next(s for s in shapes if isinstance(s, Line) and s.colour == SMOOTH_LOSS_COLOUR)
    xs, ys = curve.coords[0::2], curve.coords[1::2]
    assert all(0 < x < WIDTH for x in xs) and all(0 < y < HEIGHT for y in ys)
    assert ys[0] < ys[1] < ys[2]  # screen y grows downwards: a falling loss goes down
    dots = [s for s in shapes if isinstance(s, Dot) and s.colour == SMOOTH_LOSS_COLOUR]
    assert len(dots) == 3 + 1  # one per point, one in the legend


def test_an_empty_plot_shows_its_note():
    spec = sample_spec(series=(), note="Press Train to start")
    shapes = plot_shapes(spec, WIDTH, HEIGHT, measure)
    texts = [shape.text for shape in shapes if isinstance(shape, Text)]
    assert "Press Train to start" in texts


def test_training_curves_make_both_plots():
    curves = TrainingCurves(epochs=3, batches_per_epoch=50)
    curves.points.extend(LossPoint(i / 50, 2.3 - i / 100) for i in range(1, 101))
    curves.ends.extend([epoch_end(1, 1.8, 1.7, 0.62, 0.65), epoch_end(2, 1.4, 1.3, 0.81, 0.84)])

    loss = curves.loss_spec()
    assert loss.x_range == (0.0, 3.0)
    assert loss.y_range[1] >= 2.3
    assert [len(series.points) for series in loss.series] == [100, 100, 2, 2]

    accuracy = curves.accuracy_spec()
    assert accuracy.percent
    assert accuracy.y_range == pytest.approx((0.6, 1.0))
    assert [len(series.points) for series in accuracy.series] == [2, 2]


def test_empty_curves_show_the_note_and_say_when_accuracy_comes():
    curves = TrainingCurves(epochs=2, note="Press Train to start")
    assert curves.loss_spec().note == "Press Train to start"
    curves.points.append(LossPoint(0.1, 2.0))
    assert curves.loss_spec().note == ""
    assert curves.accuracy_spec().note == "shown after each epoch"
    curves.ended = True
    assert curves.accuracy_spec().note == "no epoch was completed"


def test_rendered_png_has_the_size_asked_and_draws_the_curve():
    image = render_image(sample_spec(), WIDTH, HEIGHT)
    assert image.size == (WIDTH, HEIGHT)
    colours = {colour for _, colour in image.getcolors(WIDTH * HEIGHT)}
    assert len(colours) > 10  # text and anti-aliased lines, not a blank picture
    assert image.getpixel((1, 1)) == tuple(int(PLOT_BACKGROUND[i : i + 2], 16) for i in (1, 3, 5))
