"""Tests for engine.augment on synthetic 28×28 digits drawn with Pillow."""

from __future__ import annotations

import math
import random

import pytest
from PIL import Image, ImageDraw
from test_preprocess import centre_of_mass, ink_box

from engine.augment import (
    WARP_CORNERS,
    AugmentSettings,
    add_style_mark,
    augment,
    transform,
)

NO_DISTORTION = AugmentSettings(max_shift=0.0, max_rotation=0.0, scale_range=(1.0, 1.0))


def draw_seven() -> bytes:
    """Return an asymmetric, anti-aliased 28×28 "7", ink high, as 784 bytes.

    It is drawn 4× larger and area-averaged down, so stroke edges are grey as in MNIST.
    """
    image = Image.new("L", (112, 112), 0)
    ImageDraw.Draw(image).line([(32, 28), (80, 28), (48, 88)], fill=255, width=9, joint="curve")
    return image.resize((28, 28), Image.Resampling.BOX).tobytes()


def draw_bar_right_of_centre() -> bytes:
    """Return a horizontal bar from the frame centre to the right, rows 13..14, as 784 bytes."""
    image = Image.new("L", (28, 28), 0)
    ImageDraw.Draw(image).rectangle([16, 13, 23, 14], fill=255)
    return image.tobytes()


def test_default_transform_returns_the_image_unchanged() -> None:
    seven = draw_seven()
    assert transform(seven) == seven


@pytest.mark.parametrize("seed", range(5))
def test_all_zero_settings_return_the_image_unchanged(seed: int) -> None:
    seven = draw_seven()
    assert augment(seven, random.Random(seed), NO_DISTORTION) == seven


def test_output_is_784_bytes() -> None:
    result = augment(draw_seven(), random.Random(0))
    assert isinstance(result, bytes)
    assert len(result) == 784


def test_same_seed_gives_same_output() -> None:
    seven = draw_seven()
    settings = AugmentSettings(stroke_change_probability=0.5)
    first = [augment(seven, random.Random(42), settings) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    rng_a, rng_b = random.Random(9), random.Random(9)
    assert [augment(seven, rng_a, settings) for _ in range(10)] == [
        augment(seven, rng_b, settings) for _ in range(10)
    ]


def test_different_seeds_give_different_outputs() -> None:
    seven = draw_seven()
    outputs = {augment(seven, random.Random(seed)) for seed in range(20)}
    assert len(outputs) == 20
    assert seven not in outputs


def test_integer_shift_moves_pixels_exactly() -> None:
    seven = draw_seven()
    moved = transform(seven, shift_x=3, shift_y=-2)
    for y in range(28):
        for x in range(28):
            source_x, source_y = x - 3, y + 2
            inside = 0 <= source_x < 28 and 0 <= source_y < 28
            expected = seven[source_y * 28 + source_x] if inside else 0
            assert moved[y * 28 + x] == expected


@pytest.mark.parametrize(("shift_x", "shift_y"), [(2.0, 0.0), (0.0, -1.5), (1.25, 0.75)])
def test_shift_moves_centre_of_mass_by_the_shift(shift_x: float, shift_y: float) -> None:
    seven = draw_seven()
    before_x, before_y = centre_of_mass(seven)
    after_x, after_y = centre_of_mass(transform(seven, shift_x=shift_x, shift_y=shift_y))
    assert after_x - before_x == pytest.approx(shift_x, abs=0.05)
    assert after_y - before_y == pytest.approx(shift_y, abs=0.05)


def test_random_shift_stays_within_max_shift() -> None:
    seven = draw_seven()
    settings = AugmentSettings(max_shift=2.0, max_rotation=0.0, scale_range=(1.0, 1.0))
    before_x, before_y = centre_of_mass(seven)
    rng = random.Random(5)
    for _ in range(50):
        after_x, after_y = centre_of_mass(augment(seven, rng, settings))
        assert abs(after_x - before_x) <= 2.05
        assert abs(after_y - before_y) <= 2.05


def test_rotation_by_90_degrees_turns_counter_clockwise() -> None:
    bar = draw_bar_right_of_centre()
    rotated = transform(bar, rotation_degrees=90)
    # The bar at x 16..23, y 13..14 (right of centre) must now point up: x 13..14, y 4..11.
    assert ink_box(rotated) == (13, 4, 15, 12)
    assert sum(rotated) == sum(bar)


def test_rotation_matches_pillow_rotate_about_the_centre() -> None:
    seven = draw_seven()
    image = Image.frombytes("L", (28, 28), seven)
    for degrees in (90, 180, -90):
        expected = image.rotate(degrees, resample=Image.Resampling.BILINEAR).tobytes()
        rotated = transform(seven, rotation_degrees=degrees)
        assert max(abs(a - b) for a, b in zip(rotated, expected, strict=True)) <= 1


def test_full_turn_returns_the_image() -> None:
    seven = draw_seven()
    turned = transform(seven, rotation_degrees=360)
    # sin(2π) is -2e-16, not 0, so a level may round one step down.
    assert max(abs(a - b) for a, b in zip(turned, seven, strict=True)) <= 1


def test_scale_enlarges_and_shrinks_about_the_centre() -> None:
    seven = draw_seven()
    left, top, right, bottom = ink_box(seven)
    width, height = right - left, bottom - top
    big_left, big_top, big_right, big_bottom = ink_box(transform(seven, scale=1.5))
    small_left, small_top, small_right, small_bottom = ink_box(transform(seven, scale=0.5))
    assert big_right - big_left == pytest.approx(1.5 * width, abs=2)
    assert big_bottom - big_top == pytest.approx(1.5 * height, abs=2)
    assert small_right - small_left == pytest.approx(0.5 * width, abs=2)
    assert small_bottom - small_top == pytest.approx(0.5 * height, abs=2)


def test_small_transforms_roughly_preserve_ink_mass() -> None:
    seven = draw_seven()
    mass = sum(seven)
    moved = transform(seven, rotation_degrees=10, shift_x=1.3, shift_y=-0.7)
    assert sum(moved) == pytest.approx(mass, rel=0.05)
    settings = AugmentSettings(scale_range=(1.0, 1.0))
    rng = random.Random(11)
    for _ in range(30):
        assert sum(augment(seven, rng, settings)) == pytest.approx(mass, rel=0.1)


def test_scaling_changes_mass_by_the_area_factor() -> None:
    seven = draw_seven()
    assert sum(transform(seven, scale=1.1)) == pytest.approx(1.21 * sum(seven), rel=0.08)


def test_stroke_change_thickens_and_thins_gently() -> None:
    seven = draw_seven()
    mass = sum(seven)
    bolder = transform(seven, stroke_change=0.5)
    thinner = transform(seven, stroke_change=-0.5)
    assert mass < sum(bolder) < 2 * mass
    assert 0.5 * mass < sum(thinner) < mass
    assert max(bolder) == max(thinner) == 255


def test_stroke_change_probability_changes_strokes_not_geometry() -> None:
    seven = draw_seven()
    plain = augment(seven, random.Random(3), AugmentSettings())
    restroked = augment(seven, random.Random(3), AugmentSettings(stroke_change_probability=1.0))
    assert plain != restroked
    plain_x, plain_y = centre_of_mass(plain)
    restroked_x, restroked_y = centre_of_mass(restroked)
    assert math.dist((plain_x, plain_y), (restroked_x, restroked_y)) < 0.5


def test_warp_without_corner_moves_is_the_affine_map() -> None:
    seven = draw_seven()
    still = [(0.0, 0.0)] * WARP_CORNERS
    meshed = transform(seven, 10.0, 1.1, 1.5, -0.5, corner_moves=still)
    affine = transform(seven, 10.0, 1.1, 1.5, -0.5)
    # The mesh interpolates each cell's map from its corners: equal up to a level of rounding.
    assert max(abs(a - b) for a, b in zip(meshed, affine, strict=True)) <= 1


def test_moving_every_warp_corner_alike_is_a_shift() -> None:
    seven = draw_seven()
    # Each output pixel reads from 2 px to its right, so the digit moves 2 px left.
    assert transform(seven, corner_moves=[(2.0, 0.0)] * WARP_CORNERS) == transform(
        seven, shift_x=-2.0
    )


def test_moving_one_warp_corner_bends_only_the_cells_around_it() -> None:
    seven = draw_seven()
    moves = [(0.0, 0.0)] * WARP_CORNERS
    moves[6] = (2.0, 2.0)  # the corner at (7, 7): cells covering x, y in [0, 14)
    warped = transform(seven, corner_moves=moves)
    changed = {index for index in range(784) if warped[index] != seven[index]}
    assert changed
    assert all(index % 28 < 14 and index // 28 < 14 for index in changed)


def test_warp_setting_bends_strokes_and_keeps_the_ink() -> None:
    seven = draw_seven()
    plain = augment(seven, random.Random(4), NO_DISTORTION)
    warped = augment(seven, random.Random(4), AugmentSettings(0.0, 0.0, (1.0, 1.0), 0.0, 1.0))
    assert plain == seven != warped
    assert sum(warped) == pytest.approx(sum(seven), rel=0.15)
    assert math.dist(centre_of_mass(warped), centre_of_mass(seven)) < 2.0


def test_ink_leaving_the_frame_is_dropped() -> None:
    assert transform(draw_seven(), shift_x=40) == bytes(784)


@pytest.mark.parametrize(
    "settings_arguments",
    [
        {"max_shift": -1.0},
        {"max_shift": math.inf},
        {"max_rotation": -5.0},
        {"max_rotation": 181.0},
        {"max_rotation": math.nan},
        {"scale_range": (0.0, 1.0)},
        {"scale_range": (1.2, 1.1)},
        {"scale_range": (1.0,)},
        {"stroke_change_probability": 1.5},
        {"stroke_change_probability": -0.1},
        {"warp": -0.5},
        {"warp": math.inf},
        {"max_slant": -0.1},
        {"max_slant": 1.0},
        {"aspect_range": (0.0, 1.0)},
        {"aspect_range": (1.5, 1.2)},
        {"aspect_range": (1.0,)},
        {"aspect_range": (0.5, math.nan)},
        {"reshape_probability": 1.1},
        {"mark_probability": -0.2},
        {"mark_probability": math.nan},
    ],
)
def test_invalid_settings_are_rejected(settings_arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AugmentSettings(**settings_arguments)


def test_transform_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="784"):
        transform(bytes(100))
    with pytest.raises(ValueError, match="scale"):
        transform(draw_seven(), scale=0)
    with pytest.raises(ValueError, match="corner moves"):
        transform(draw_seven(), corner_moves=[(0.0, 0.0)] * 3)
    with pytest.raises(ValueError, match="stroke_change"):
        transform(draw_seven(), stroke_change=2)


def draw_box(left: int, top: int, right: int, bottom: int, width: int = 2) -> bytes:
    """Return a 28×28 image of a hollow rectangle outline (ink 255), as 784 bytes."""
    image = Image.new("L", (28, 28), 0)
    ImageDraw.Draw(image).rectangle([left, top, right, bottom], outline=255, width=width)
    return image.tobytes()


def box_of(pixels: bytes) -> tuple[int, int, int, int]:
    """Return the bounding box of the ink brighter than mid-grey."""
    image = Image.frombytes("L", (28, 28), pixels).point(lambda level: 255 * (level >= 128))
    box = image.getbbox()
    assert box is not None
    return box


def test_slant_leans_the_top_to_the_right() -> None:
    bar = draw_box(13, 4, 14, 23)
    slanted = transform(bar, slant=0.3)

    def ink_centre_x(rows: range) -> float:
        weights = [(x, slanted[y * 28 + x]) for y in rows for x in range(28)]
        return sum(x * level for x, level in weights) / sum(level for _, level in weights)

    # 0.3 px to the right per px up: the top rows and the bottom rows are ~5 px apart.
    assert ink_centre_x(range(4, 8)) - ink_centre_x(range(20, 24)) == pytest.approx(4.8, abs=0.8)
    assert transform(bar, slant=-0.3) != slanted


@pytest.mark.parametrize(
    ("aspect", "expected_size"),
    [(0.5, (7, 20)), (1.0, (14, 20)), (1.6, (20, 18))],
)
def test_aspect_narrows_or_widens_keeping_the_longer_side(
    aspect: float, expected_size: tuple[int, int]
) -> None:
    # A 14 × 20 px box: narrowed it keeps its height, widened past square its width is 20.
    left, top, right, bottom = box_of(transform(draw_box(7, 4, 20, 23), aspect=aspect))
    width, height = right - left, bottom - top
    assert abs(width - expected_size[0]) <= 1 and abs(height - expected_size[1]) <= 1


def test_augment_draws_slant_and_aspect_only_when_enabled() -> None:
    seven = draw_seven()
    plain = AugmentSettings()
    reshaped = AugmentSettings(max_slant=0.3, aspect_range=(0.5, 1.6))
    assert augment(seven, random.Random(2), plain) != augment(seven, random.Random(2), reshaped)
    assert augment(seven, random.Random(2), reshaped) == augment(seven, random.Random(2), reshaped)
    # A reshaped digit keeps its ink, give or take what narrowing or stretching it changes.
    for seed in range(20):
        reshaped_seven = augment(seven, random.Random(seed), reshaped)
        assert 0.3 * sum(seven) < sum(reshaped_seven) < 2 * sum(seven)
        assert max(reshaped_seven) >= 200


def draw_strokes(*lines: tuple[tuple[int, int], ...]) -> bytes:
    """Return a 28×28 image of 2-px white polylines (frame px), as 784 bytes."""
    image = Image.new("L", (28, 28), 0)
    for line in lines:
        ImageDraw.Draw(image).line(line, fill=255, width=2)
    return image.tobytes()


def ink_in(pixels: bytes, left: int, top: int, right: int, bottom: int) -> int:
    """Return the sum of the levels in the box [left, right) × [top, bottom)."""
    return sum(pixels[y * 28 + x] for y in range(top, bottom) for x in range(left, right))


ONE = draw_strokes(((14, 4), (14, 23)))
ZERO = draw_strokes(((14, 4), (20, 8), (20, 19), (14, 23), (8, 19), (8, 8), (14, 4)))
SEVEN = draw_strokes(((8, 4), (20, 4), (12, 23)))


@pytest.mark.parametrize("seed", range(10))
def test_a_flag_leaves_the_top_of_a_one_down_to_the_left(seed: int) -> None:
    marked = add_style_mark(ONE, 1, random.Random(seed))
    # New ink left of the stem in the top half, none to its right above the foot.
    assert ink_in(marked, 0, 4, 13, 14) > 2 * 255
    assert ink_in(marked, 17, 0, 28, 20) == 0
    # The original stroke is all still there (marks only add ink).
    assert all(after >= before for before, after in zip(ONE, marked, strict=True))


def test_some_ones_get_a_base_too() -> None:
    bases = sum(
        ink_in(add_style_mark(ONE, 1, random.Random(seed)), 17, 20, 28, 26) > 255
        for seed in range(40)
    )
    assert 5 <= bases <= 30


@pytest.mark.parametrize("seed", range(10))
def test_a_slash_crosses_a_zero_from_lower_left_to_upper_right(seed: int) -> None:
    marked = add_style_mark(ZERO, 0, random.Random(seed))
    assert ink_in(ZERO, 11, 11, 17, 17) == 0
    assert ink_in(marked, 11, 11, 17, 17) > 4 * 255
    # The slash leans like "/": more new ink upper right and lower left than the other corners.
    added = bytes(after - before for before, after in zip(ZERO, marked, strict=True))
    rising = ink_in(added, 14, 8, 19, 14) + ink_in(added, 9, 14, 14, 20)
    falling = ink_in(added, 9, 8, 14, 14) + ink_in(added, 14, 14, 19, 20)
    assert rising > 2 * falling


@pytest.mark.parametrize("seed", range(10))
def test_a_bar_crosses_a_seven_at_its_middle(seed: int) -> None:
    marked = add_style_mark(SEVEN, 7, random.Random(seed))
    added = bytes(after - before for before, after in zip(SEVEN, marked, strict=True))
    assert ink_in(added, 0, 0, 28, 10) == 0
    assert ink_in(added, 0, 12, 28, 17) > 4 * 255


def test_other_digits_and_empty_images_are_not_marked() -> None:
    assert add_style_mark(ONE, 4, random.Random(0)) == ONE
    blank = bytes(784)
    assert add_style_mark(blank, 0, random.Random(0)) == blank


def test_augment_marks_only_labelled_digits_and_only_when_asked() -> None:
    still = AugmentSettings(max_shift=0.0, max_rotation=0.0, scale_range=(1.0, 1.0))
    marking = AugmentSettings(
        max_shift=0.0, max_rotation=0.0, scale_range=(1.0, 1.0), mark_probability=1.0
    )
    assert augment(ONE, random.Random(0), marking) == ONE  # no label, no mark
    assert augment(ONE, random.Random(0), still, 1) == ONE
    assert augment(ONE, random.Random(0), marking, 1) != ONE
    assert augment(ONE, random.Random(0), marking, 3) == ONE
    # Without marks the label changes nothing, so older seeds keep their results.
    assert augment(SEVEN, random.Random(5), AugmentSettings(), 7) == augment(
        SEVEN, random.Random(5), AugmentSettings()
    )


def test_unnarrowed_digits_are_only_widened() -> None:
    narrowing = AugmentSettings(
        max_shift=0.0,
        max_rotation=0.0,
        scale_range=(1.0, 1.0),
        aspect_range=(0.5, 0.6),
        unnarrowed_digits=(1, 7),
    )
    box = draw_box(7, 4, 20, 23)
    narrowed = box_of(augment(box, random.Random(0), narrowing, 0))
    kept = box_of(augment(box, random.Random(0), narrowing, 7))
    assert narrowed[2] - narrowed[0] <= 10
    assert kept == box_of(box)


def test_reshape_probability_spares_that_share_of_digits() -> None:
    settings = AugmentSettings(
        max_shift=0.0,
        max_rotation=0.0,
        scale_range=(1.0, 1.0),
        aspect_range=(0.5, 0.6),
        reshape_probability=0.3,
    )
    box = draw_box(7, 4, 20, 23)
    rng = random.Random(1)
    reshaped = sum(augment(box, rng, settings) != box for _ in range(200))
    assert 40 <= reshaped <= 80
