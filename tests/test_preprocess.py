"""Tests for engine.preprocess on synthetic digits drawn with Pillow (no MNIST files needed)."""

from __future__ import annotations

import random

import pytest
from PIL import Image, ImageChops, ImageDraw

from engine.preprocess import (
    ImageFileError,
    NothingDrawn,
    Preprocessed,
    TooSmallToRead,
    load_image_file,
    preprocess_image,
)

CANVAS = (280, 280)
LARGE_BOX = (40, 40, 200)
SMALL_CORNER_BOX = (6, 8, 48)
STROKE_FRACTION = 0.1
# Mean absolute pixel difference (0..255), after the best ±1 px alignment, below which two
# results count as "the same digit"; different digits measured here differ by more than 24.
SIMILAR_MEAN_DIFFERENCE = 10
DIGITS = ("1", "0", "7")


def draw_digit(
    digit: str,
    canvas_size: tuple[int, int] = CANVAS,
    box: tuple[int, int, int] = LARGE_BOX,
    ink: int = 0,
    paper: int = 255,
) -> Image.Image:
    """Draw a "1", "0" or "7" spanning the square box (left, top, side) on an "L" canvas."""
    image = Image.new("L", canvas_size, paper)
    draw = ImageDraw.Draw(image)
    left, top, side = box
    stroke_width = max(1, round(side * STROKE_FRACTION))

    def at(u: float, v: float) -> tuple[float, float]:
        return (left + u * side, top + v * side)

    if digit == "1":
        draw.line([at(0.35, 0.2), at(0.55, 0.0), at(0.55, 1.0)], ink, stroke_width, "curve")
    elif digit == "0":
        draw.ellipse([at(0.2, 0.0), at(0.8, 1.0)], outline=ink, width=stroke_width)
    else:
        draw.line([at(0.15, 0.0), at(0.85, 0.0), at(0.4, 1.0)], ink, stroke_width, "curve")
    return image


def centre_of_mass(pixels: bytes) -> tuple[float, float]:
    """Return the intensity-weighted centre (x, y) of 784 pixels, pixel centres at k + 0.5."""
    total = sum(pixels)
    centre_x = sum((index % 28 + 0.5) * level for index, level in enumerate(pixels)) / total
    centre_y = sum((index // 28 + 0.5) * level for index, level in enumerate(pixels)) / total
    return centre_x, centre_y


def ink_box(pixels: bytes) -> tuple[int, int, int, int]:
    """Return the (left, top, right, bottom) bounding box of non-zero pixels in a 28×28 image."""
    box = Image.frombytes("L", (28, 28), pixels).getbbox()
    assert box is not None
    return box


def mean_difference(first: bytes, second: bytes) -> float:
    """Return the mean absolute difference of two equal-length pixel strings, in levels."""
    return sum(abs(a - b) for a, b in zip(first, second, strict=True)) / len(first)


def shift_pixels(pixels: bytes, shift_x: int, shift_y: int) -> bytes:
    """Return a 28×28 image moved right/down by whole pixels, uncovered pixels 0."""
    moved = bytearray(784)
    for y in range(28):
        for x in range(28):
            source_x, source_y = x - shift_x, y - shift_y
            if 0 <= source_x < 28 and 0 <= source_y < 28:
                moved[y * 28 + x] = pixels[source_y * 28 + source_x]
    return bytes(moved)


def aligned_difference(first: bytes, second: bytes) -> float:
    """Return the smallest mean absolute difference over ±1 px shifts of second.

    Integer centring may legitimately round the same digit drawn at another size one pixel
    differently; a thin stroke one pixel off would otherwise dominate the difference.
    """
    return min(
        mean_difference(first, shift_pixels(second, shift_x, shift_y))
        for shift_x in (-1, 0, 1)
        for shift_y in (-1, 0, 1)
    )


@pytest.mark.parametrize("digit", DIGITS)
def test_output_is_784_bytes_of_the_centred_frame(digit: str) -> None:
    result = preprocess_image(draw_digit(digit))
    assert isinstance(result, Preprocessed)
    assert isinstance(result.pixels, bytes)
    assert len(result.pixels) == 784
    assert result.centred.mode == "L"
    assert result.centred.size == (28, 28)
    assert result.pixels == result.centred.tobytes()
    assert max(result.pixels) == 255


@pytest.mark.parametrize("digit", DIGITS)
def test_longer_side_of_ink_is_20_pixels(digit: str) -> None:
    result = preprocess_image(draw_digit(digit))
    left, top, right, bottom = ink_box(result.pixels)
    assert max(right - left, bottom - top) in (19, 20, 21)
    assert max(result.fitted.size) == 20


@pytest.mark.parametrize("digit", DIGITS)
def test_strokes_are_anti_aliased_like_mnist(digit: str) -> None:
    pixels = preprocess_image(draw_digit(digit)).pixels
    grey_edge_count = sum(1 for level in pixels if 0 < level < 255)
    assert grey_edge_count >= 10
    assert pixels.count(255) >= 10


@pytest.mark.parametrize("digit", DIGITS)
def test_aspect_ratio_is_kept(digit: str) -> None:
    result = preprocess_image(draw_digit(digit))
    cropped_ratio = result.cropped.width / result.cropped.height
    fitted_ratio = result.fitted.width / result.fitted.height
    assert fitted_ratio == pytest.approx(cropped_ratio, abs=1 / 20)


@pytest.mark.parametrize("digit", DIGITS)
def test_centre_of_mass_is_at_frame_centre(digit: str) -> None:
    centre_x, centre_y = centre_of_mass(preprocess_image(draw_digit(digit)).pixels)
    assert abs(centre_x - 14) <= 0.5
    assert abs(centre_y - 14) <= 0.5


def test_centre_shift_is_offset_from_centring_the_box() -> None:
    result = preprocess_image(draw_digit("7"))
    left, top, _, _ = result.centred.getbbox()
    expected = (
        left - (28 - result.fitted.width) / 2,
        top - (28 - result.fitted.height) / 2,
    )
    assert result.centre_shift == expected
    # A "7" carries its mass in the top bar, so centring the mass moves it down.
    assert result.centre_shift[1] > 0


def test_lopsided_digit_is_clamped_inside_the_frame() -> None:
    image = Image.new("L", (200, 200), 0)
    draw = ImageDraw.Draw(image)
    draw.ellipse([0, 70, 60, 130], fill=255)
    draw.line([(30, 100), (199, 100)], fill=255, width=2)
    result = preprocess_image(image)
    left, _, right, _ = result.centred.getbbox()
    assert (left, right) == (8, 28)
    assert sum(result.pixels) == sum(result.fitted.tobytes())


@pytest.mark.parametrize("digit", DIGITS)
def test_polarity_does_not_matter(digit: str) -> None:
    dark_on_light = preprocess_image(draw_digit(digit, ink=0, paper=255)).pixels
    light_on_dark = preprocess_image(draw_digit(digit, ink=255, paper=0)).pixels
    assert mean_difference(dark_on_light, light_on_dark) <= 1


def test_grey_paper_and_grey_ink_match_black_and_white() -> None:
    reference = preprocess_image(draw_digit("7")).pixels
    pencil = preprocess_image(draw_digit("7", ink=70, paper=200)).pixels
    assert mean_difference(reference, pencil) <= 2


@pytest.mark.parametrize("digit", DIGITS)
def test_small_corner_digit_matches_large_centred_digit(digit: str) -> None:
    large = preprocess_image(draw_digit(digit, box=LARGE_BOX)).pixels
    small = preprocess_image(draw_digit(digit, box=SMALL_CORNER_BOX)).pixels
    assert aligned_difference(large, small) < SIMILAR_MEAN_DIFFERENCE


def test_different_digits_are_not_similar() -> None:
    seven = preprocess_image(draw_digit("7")).pixels
    zero = preprocess_image(draw_digit("0")).pixels
    one = preprocess_image(draw_digit("1")).pixels
    assert aligned_difference(seven, zero) > 2 * SIMILAR_MEAN_DIFFERENCE
    assert aligned_difference(seven, one) > 2 * SIMILAR_MEAN_DIFFERENCE


@pytest.mark.parametrize("canvas_size", [(28, 28), (64, 100), (280, 280), (900, 600)])
def test_any_canvas_size_gives_the_same_digit(canvas_size: tuple[int, int]) -> None:
    side = min(canvas_size) * 3 // 4
    box = (canvas_size[0] // 8, canvas_size[1] // 8, side)
    reference = preprocess_image(draw_digit("7")).pixels
    result = preprocess_image(draw_digit("7", canvas_size=canvas_size, box=box)).pixels
    assert aligned_difference(reference, result) < SIMILAR_MEAN_DIFFERENCE


@pytest.mark.parametrize("mode", ["L", "RGB", "1", "P", "I", "F", "LA", "RGBA", "CMYK"])
def test_any_mode_gives_the_same_digit(mode: str) -> None:
    image = draw_digit("0")
    reference = preprocess_image(image).pixels
    assert mean_difference(reference, preprocess_image(image.convert(mode)).pixels) <= 1


def test_coloured_ink_on_white_works() -> None:
    image = Image.new("RGB", CANVAS, (255, 255, 255))
    image.paste((20, 30, 140), mask=draw_digit("7", ink=255, paper=0))
    reference = preprocess_image(draw_digit("7")).pixels
    assert mean_difference(reference, preprocess_image(image).pixels) < 3


def test_sixteen_bit_and_unit_float_images_are_rescaled() -> None:
    reference = preprocess_image(draw_digit("1")).pixels
    sixteen_bit = draw_digit("1").convert("I").point(lambda level: level * 257)
    unit_float = draw_digit("1").convert("F").point(lambda level: level / 255)
    assert mean_difference(reference, preprocess_image(sixteen_bit).pixels) <= 1
    assert mean_difference(reference, preprocess_image(unit_float).pixels) <= 1


@pytest.mark.parametrize(
    ("stroke", "sheet"),
    [((0, 0, 0, 255), (0, 0, 0, 0)), ((255, 255, 255, 255), (255, 255, 255, 0))],
)
def test_strokes_on_transparent_sheet_work(
    stroke: tuple[int, int, int, int], sheet: tuple[int, int, int, int]
) -> None:
    image = Image.new("RGBA", CANVAS, sheet)
    mask = draw_digit("7", ink=255, paper=0)
    image.paste(Image.new("RGBA", CANVAS, stroke), mask=mask)
    reference = preprocess_image(draw_digit("7")).pixels
    assert mean_difference(reference, preprocess_image(image).pixels) <= 1


def test_opaque_paper_with_transparent_margin_works() -> None:
    image = Image.new("RGBA", (320, 320), (0, 0, 0, 0))
    image.paste(draw_digit("7").convert("RGBA"), (20, 20))
    reference = preprocess_image(draw_digit("7")).pixels
    assert mean_difference(reference, preprocess_image(image).pixels) <= 1


def test_fully_transparent_image_is_nothing_drawn() -> None:
    with pytest.raises(NothingDrawn):
        preprocess_image(Image.new("RGBA", CANVAS, (0, 0, 0, 0)))


@pytest.mark.parametrize("paper", [0, 255, 128])
def test_blank_canvas_is_nothing_drawn(paper: int) -> None:
    with pytest.raises(NothingDrawn, match="nothing drawn"):
        preprocess_image(Image.new("L", CANVAS, paper))


@pytest.mark.parametrize("paper", [0, 255])
def test_faint_noise_is_nothing_drawn(paper: int) -> None:
    rng = random.Random(7)
    noise = bytes(abs(paper - rng.randrange(0, 24)) for _ in range(CANVAS[0] * CANVAS[1]))
    with pytest.raises(NothingDrawn):
        preprocess_image(Image.frombytes("L", CANVAS, noise))


def test_two_faint_specks_far_apart_are_nothing_drawn() -> None:
    image = Image.new("L", (1000, 1000), 0)
    image.putpixel((10, 10), 60)
    image.putpixel((990, 990), 60)
    with pytest.raises(NothingDrawn):
        preprocess_image(image)


def test_uniform_sixteen_bit_image_is_nothing_drawn() -> None:
    with pytest.raises(NothingDrawn):
        preprocess_image(Image.new("I", CANVAS, 40000))


def draw_dot(diameter: float, canvas_size: int = 280) -> Image.Image:
    """Draw a round black dot of the given diameter on a white square canvas."""
    image = Image.new("L", (canvas_size, canvas_size), 255)
    left = (canvas_size - diameter) / 2
    ImageDraw.Draw(image).ellipse([left, left, left + diameter, left + diameter], fill=0)
    return image


@pytest.mark.parametrize("diameter", [3, 6, 20, 40, 80])
def test_a_speck_or_a_dot_is_too_small_to_read(diameter: float) -> None:
    # A 3 px speck used to be read as 8 (69 %), a click of the brush as 0 (54 %). However big
    # the brush, a dot's stroke is as wide as the dot: no digit is drawn like that.
    with pytest.raises(TooSmallToRead, match="too small to read") as raised:
        preprocess_image(draw_dot(diameter))
    assert isinstance(raised.value, NothingDrawn)


def test_two_tiny_specks_far_apart_are_too_small_to_read() -> None:
    image = draw_dot(0)
    ImageDraw.Draw(image).rectangle([10, 10, 12, 12], fill=0)
    ImageDraw.Draw(image).rectangle([260, 200, 262, 202], fill=0)
    # They span the canvas, but the ink is 18 px²: less than a 5 px dot.
    with pytest.raises(TooSmallToRead):
        preprocess_image(image)


@pytest.mark.parametrize(("height", "pen_width"), [(30, 3), (40, 6), (120, 34)])
def test_small_or_fat_digits_are_still_read(height: int, pen_width: int) -> None:
    # A "7" a tenth of the canvas tall with a fine pen, or drawn with a brush 28 % of its height.
    image = Image.new("L", CANVAS, 255)
    top = 100
    left = 100
    ImageDraw.Draw(image).line(
        [(left, top), (left + 0.7 * height, top), (left + 0.3 * height, top + height)],
        fill=0,
        width=pen_width,
        joint="curve",
    )
    assert max(preprocess_image(image).pixels) == 255


def test_nothing_drawn_is_a_value_error() -> None:
    assert issubclass(NothingDrawn, ValueError)


def test_noise_around_a_digit_does_not_widen_its_box() -> None:
    rng = random.Random(3)
    image = draw_digit("1")
    clean = preprocess_image(image)
    noise = bytes(rng.randrange(0, 24) for _ in range(CANVAS[0] * CANVAS[1]))
    noisy = ImageChops.subtract(image, Image.frombytes("L", CANVAS, noise))
    assert preprocess_image(noisy).cropped.size == clean.cropped.size


def test_one_pixel_vertical_line_still_gives_ink() -> None:
    image = Image.new("L", CANVAS, 0)
    ImageDraw.Draw(image).line([(140, 30), (140, 250)], fill=255, width=1)
    result = preprocess_image(image)
    # Widened from a 0.1 px hairline to an MNIST-like 2 px stroke.
    assert result.fitted.size == (2, 20)
    left, top, right, bottom = ink_box(result.pixels)
    assert (right - left, bottom - top) == (2, 20)
    assert min(level for level in result.pixels if level) == 255
    assert abs(centre_of_mass(result.pixels)[0] - 14) <= 0.5


def test_thin_diagonal_stroke_on_a_big_image_stays_bright() -> None:
    image = Image.new("L", (1200, 1200), 255)
    ImageDraw.Draw(image).line([(100, 100), (1100, 1100)], fill=0, width=1)
    assert max(preprocess_image(image).pixels) == 255


def draw_ring(pen_width: int) -> Image.Image:
    """Draw a "0" 200 px tall and 120 px wide with the given pen on a white 280×280 canvas."""
    image = Image.new("L", CANVAS, 255)
    ImageDraw.Draw(image).ellipse([80, 40, 200, 240], outline=0, width=pen_width)
    return image


def ring_stroke_width(pixels: bytes) -> float:
    """Return the stroke width in px of a preprocessed "0", from the ink on its middle row.

    The ring's sides are upright there, so the row crosses each side straight across: half the
    row's ink, in full-intensity pixels, is the stroke width (grey edges counting partly). Measured
    this way the MNIST test set's zeros are 1.7-5.0 px wide (5th-95th percentile, median 3.0).
    """
    return sum(pixels[14 * 28 : 15 * 28]) / 255 / 2


@pytest.mark.parametrize("pen_width", [1, 2, 8, 12])
def test_thin_strokes_are_widened_to_an_mnist_like_width(pen_width: int) -> None:
    # Drawn 0.1-1.2 px wide at the 20 px scale; fitted as drawn they would come out about 1 px.
    width = ring_stroke_width(preprocess_image(draw_ring(pen_width)).pixels)
    assert 1.5 <= width <= 2.5


# The boldest stroke preprocessing leaves, as measured across a ring by ring_stroke_width.
BOLDEST_RING_STROKE = 3.4


@pytest.mark.parametrize("pen_width", [16, 20, 24])
def test_ordinary_strokes_get_about_half_a_pixel_bolder(pen_width: int) -> None:
    drawn_width = pen_width * 20 / 200
    width = ring_stroke_width(preprocess_image(draw_ring(pen_width)).pixels)
    assert 0.25 <= width - drawn_width <= 0.75


@pytest.mark.parametrize("pen_width", [30, 40, 50])
def test_bold_strokes_end_up_as_bold_as_mnist_s_boldest(pen_width: int) -> None:
    # 3-5 px at the 20 px scale: the bolder ones are thinned, or the loop would close.
    drawn_width = pen_width * 20 / 200
    width = ring_stroke_width(preprocess_image(draw_ring(pen_width)).pixels)
    assert width == pytest.approx(BOLDEST_RING_STROKE, abs=0.35)
    assert width < drawn_width or drawn_width < BOLDEST_RING_STROKE


def draw_eight(pen_width: int, ink: int, paper: int) -> Image.Image:
    """Draw a tall, narrow "8" (240 × 90 px) with a round pen on a 280×280 canvas, anti-aliased."""
    big = Image.new("L", (1120, 1120), paper)
    pen = ImageDraw.Draw(big)
    width = pen_width * 4
    # Two loops stacked, the upper one a little narrower, as a hand draws them.
    pen.ellipse([398, 80, 722, 560], outline=ink, width=width)
    pen.ellipse([380, 560 - width // 2, 740, 1040], outline=ink, width=width)
    return big.reduce(4)


def enclosed_holes(pixels: bytes) -> int:
    """Return how many separate areas of paper (< mid-grey) ink encloses in a 28×28 image.

    Paper areas are 4-connected; the ones that reach the frame's edge are not holes.
    """
    paper = {(x, y) for y in range(28) for x in range(28) if pixels[y * 28 + x] < 128}
    holes = 0
    while paper:
        start = paper.pop()
        area, frontier, touches_edge = [start], [start], False
        while frontier:
            x, y = frontier.pop()
            touches_edge = touches_edge or x in (0, 27) or y in (0, 27)
            for neighbour in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                if neighbour in paper:
                    paper.remove(neighbour)
                    area.append(neighbour)
                    frontier.append(neighbour)
        holes += not touches_edge
    return holes


@pytest.mark.parametrize(("ink", "paper"), [(0, 255), (255, 0)])
def test_fat_narrow_eight_keeps_both_loops_open(ink: int, paper: int) -> None:
    # A 36 px pen on a 90 px wide 8: 3 px at the 20 px scale. Fitted as drawn, both loops
    # close into a blob, as a 1's; thinned, both stay open.
    result = preprocess_image(draw_eight(36, ink, paper))
    assert enclosed_holes(result.pixels) == 2
    assert result.fitted.size[0] < result.fitted.size[1] == 20


def test_thinning_keeps_the_hairlines_of_bold_lettering() -> None:
    # A bold upright with a hairline crossbar, like the 4 of a bold serif face.
    # A bold upright (6 px at the 20 px scale) with a hairline arm (0.4 px), like the 4 of a
    # heavy serif face.
    image = Image.new("L", CANVAS, 0)
    pen = ImageDraw.Draw(image)
    pen.rectangle([140, 30, 205, 250], fill=255)
    pen.rectangle([90, 180, 140, 184], fill=255)
    pixels = preprocess_image(image).pixels
    left, top, _, bottom = ink_box(pixels)
    # The hairline still runs from the left end of the digit to the upright, as much ink in
    # each column as drawn (0.4 px × 255).
    arm_columns = [
        sum(pixels[row * 28 + column] for row in range(top, bottom))
        for column in range(left, left + 3)
    ]
    assert min(arm_columns) >= 80
    # And the upright lost weight (5.9 px wide at 20 px as drawn).
    upright = pixels[8 * 28 : 9 * 28]
    assert sum(upright) / 255 < 5.6


@pytest.mark.parametrize(("ink", "paper"), [(0, 255), (255, 0)])
def test_thin_one_is_not_thickened_into_a_blob(ink: int, paper: int) -> None:
    image = Image.new("L", CANVAS, paper)
    ImageDraw.Draw(image).line([(110, 70), (140, 40), (140, 240)], fill=ink, width=3)
    pixels = preprocess_image(image).pixels
    # The upright, across a middle row: about MIN_STROKE_WIDTH (2 px) of ink, nothing more.
    middle_row = pixels[16 * 28 : 17 * 28]
    assert 1.25 <= sum(middle_row) / 255 <= 2.5
    assert sum(1 for level in middle_row if level) <= 4


def test_load_image_file_reads_a_png(tmp_path) -> None:
    path = tmp_path / "seven.png"
    draw_digit("7").save(path)
    loaded = load_image_file(path)
    assert loaded.size == CANVAS
    assert preprocess_image(loaded).pixels == preprocess_image(draw_digit("7")).pixels


def test_load_image_file_rejects_garbage_and_missing_files(tmp_path) -> None:
    garbage = tmp_path / "not_an_image.png"
    garbage.write_bytes(b"this is not a picture")
    with pytest.raises(ImageFileError, match=r"not_an_image\.png"):
        load_image_file(garbage)
    with pytest.raises(ImageFileError):
        load_image_file(tmp_path / "missing.png")
    assert issubclass(ImageFileError, ValueError)
