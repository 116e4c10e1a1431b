"""Turn any picture of a digit into a 28×28 MNIST-style input, the way MNIST was made.

MNIST digits were cropped to their ink, scaled so the longer side is 20 px (aspect kept,
anti-aliased), and placed in a 28×28 frame so that their intensity-weighted centre of mass sits
at the frame's centre. Inside the engine an image is 784 ``bytes``: 28×28 row-major, 0..255,
ink high (white ink on black, as in the MNIST files).

Pillow only reads, converts, crops, resizes and pastes images here; it never does network math.
Coordinates are in pixels with pixel (x, y) covering [x, x+1) × [y, y+1), so the centre of the
28×28 frame is (14.0, 14.0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from os import PathLike

from PIL import Image, ImageOps

FRAME_SIZE = 28
FITTED_SIZE = 20
PIXEL_COUNT = FRAME_SIZE * FRAME_SIZE
MAX_LEVEL = 255
# Grey levels at most this far above the background count as paper noise, not ink
# (scanner/JPEG noise, paper texture). 32 of 255 is ~12 %: far below any real stroke.
NOISE_THRESHOLD = 32
# A background at or above this grey level means dark ink on light paper.
LIGHT_BACKGROUND_LEVEL = 128
HIGH_DEPTH_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class NothingDrawn(ValueError):
    """Raised when an image holds no ink: blank, uniform, or only faint noise."""

    def __init__(self) -> None:
        super().__init__("nothing drawn")


class ImageFileError(ValueError):
    """Raised when a file cannot be opened or decoded as an image."""


@dataclass(frozen=True)
class Preprocessed:
    """Every stage of the preprocessing, so the app can show them in its inspector.

    cropped: the ink's bounding box, mode "L", ink high, paper and its noise set to 0.
    fitted: cropped scaled so its longer side is 20 px, aspect kept, peak 255, mode "L".
    centred: the 28×28 "L" frame with fitted pasted so its centre of mass is at (14, 14).
    pixels: centred.tobytes(), 784 bytes, the engine's image representation.
    centre_shift: (dx, dy) in px that the centre-of-mass placement moved the digit away from
        simply centring its bounding box.
    """

    cropped: Image.Image
    fitted: Image.Image
    centred: Image.Image
    pixels: bytes
    centre_shift: tuple[float, float]


def load_image_file(path: str | PathLike[str]) -> Image.Image:
    """Open and fully decode the image file at path, upright per its EXIF orientation.

    Raises ImageFileError (a ValueError) if the file is missing or not a readable image.
    """
    try:
        with Image.open(path) as opened:
            opened.load()
            # Phone photos store rotation as an EXIF tag; without this a "7" can arrive sideways.
            return ImageOps.exif_transpose(opened)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageFileError(f"cannot read image {path!s}: {error}") from error


def pixels_to_inputs(pixels: bytes) -> list[float]:
    """Convert 784 pixel bytes (0..255) to 784 floats in [0, 1] as pixel / 255.

    This is THE input normalisation of every model in the engine: training, evaluation, the CLI
    and the app all feed networks through this function.
    """
    if len(pixels) != PIXEL_COUNT:
        raise ValueError(f"expected {PIXEL_COUNT} pixel bytes, got {len(pixels)}")
    return [level / MAX_LEVEL for level in pixels]


def preprocess_image(image: Image.Image) -> Preprocessed:
    """Convert an image of any size and mode to an MNIST-style 28×28 digit, keeping each stage.

    Works out whether the ink is dark-on-light or light-on-dark, makes it ink-high, crops to the
    ink, scales the longer side to 20 px and centres the centre of mass at (14, 14) with an
    integer shift. Raises NothingDrawn if there is no ink above the noise threshold.
    """
    ink = _ink_high(_to_grey(image))
    bounding_box = ink.getbbox()
    if bounding_box is None:
        raise NothingDrawn()
    cropped = ink.crop(bounding_box)
    fitted = _stretch_to_full_range(_fit(cropped))
    offset_x, offset_y = _centre_of_mass_offset(fitted)
    centred = Image.new("L", (FRAME_SIZE, FRAME_SIZE), 0)
    centred.paste(fitted, (offset_x, offset_y))
    centre_shift = (
        offset_x - (FRAME_SIZE - fitted.width) / 2,
        offset_y - (FRAME_SIZE - fitted.height) / 2,
    )
    return Preprocessed(cropped, fitted, centred, centred.tobytes(), centre_shift)


def _to_grey(image: Image.Image) -> Image.Image:
    """Return image as an 8-bit "L" image of the same size, transparency flattened."""
    if image.mode in HIGH_DEPTH_MODES:
        return _high_depth_to_grey(image)
    if image.mode in ALPHA_MODES or "transparency" in image.info:
        return _flatten_transparency(image)
    return image.convert("L")


def _high_depth_to_grey(image: Image.Image) -> Image.Image:
    """Return a 32-bit int / float / 16-bit image as "L", rescaled if it exceeds 0..255."""
    floats = image.convert("F")
    low, high = floats.getextrema()
    if image.mode == "F" and low >= 0 and high <= 1:
        # Float images in 0..1 are the usual normalised convention; 0..255 ones pass as they are.
        floats = floats.point(lambda value: value * MAX_LEVEL)
    elif (low < 0 or high > MAX_LEVEL) and high > low:
        # 16-bit scans and the like: the level scale is unknown, so use the range actually present.
        scale = MAX_LEVEL / (high - low)
        floats = floats.point(lambda value: (value - low) * scale)
    return floats.convert("L")


def _flatten_transparency(image: Image.Image) -> Image.Image:
    """Return an image with transparency as "L", see-through areas filled with its background.

    If the opaque part covers most of the picture it is paper (transparent margins take its
    median grey); otherwise the opaque part is the strokes themselves, drawn on a
    transparent sheet, so the background is the extreme grey that contrasts with them.
    """
    grey, alpha = image.convert("LA").split()
    if alpha.getextrema()[0] == MAX_LEVEL:
        return grey
    opaque_histogram = grey.histogram(mask=alpha)
    opaque_count = sum(opaque_histogram)
    if opaque_count == 0:
        raise NothingDrawn()
    typical_opaque_level = _median_level(opaque_histogram)
    if 2 * opaque_count >= image.width * image.height:
        background = typical_opaque_level
    else:
        background = 0 if typical_opaque_level >= LIGHT_BACKGROUND_LEVEL else MAX_LEVEL
    flattened = Image.new("L", image.size, background)
    flattened.paste(grey, mask=alpha)
    return flattened


def _ink_high(grey: Image.Image) -> Image.Image:
    """Return grey with ink high and background exactly 0, via one 256-entry lookup table.

    The background level is the median of a border ring about one MNIST pixel wide: the border
    is paper even when a stroke touches it, whereas the whole-image most common level can be
    the ink when the paper is noisy and the ink saturated. Levels within NOISE_THRESHOLD of the
    background become 0; the rest ramp linearly up to 255 so anti-aliased stroke edges keep
    their grey instead of being cut off hard.
    """
    background = _median_level(grey.histogram(mask=_border_ring(grey.size)))
    dark_ink = background >= LIGHT_BACKGROUND_LEVEL
    if dark_ink:
        background = MAX_LEVEL - background
    # background is now below LIGHT_BACKGROUND_LEVEL, so the ramp is always > 90 levels long.
    ramp_start = background + NOISE_THRESHOLD
    ramp_length = MAX_LEVEL - ramp_start
    lookup_table = []
    for level in range(MAX_LEVEL + 1):
        ink_level = MAX_LEVEL - level if dark_ink else level
        lookup_table.append(max(0, ink_level - ramp_start) * MAX_LEVEL // ramp_length)
    return grey.point(lookup_table)


def _border_ring(size: tuple[int, int]) -> Image.Image:
    """Return an "L" mask of the given size that is 255 on a border ring, 0 inside it.

    The ring is 1/28 of the shorter side thick (at least 1 px), i.e. one MNIST pixel.
    """
    width, height = size
    thickness = max(1, min(size) // FRAME_SIZE)
    ring = Image.new("L", size, MAX_LEVEL)
    if width > 2 * thickness and height > 2 * thickness:
        ring.paste(0, (thickness, thickness, width - thickness, height - thickness))
    return ring


def _median_level(histogram: list[int]) -> int:
    """Return the median grey level (0..255) of a 256-bin histogram; 0 if it is empty."""
    half = sum(histogram) / 2
    running_count = 0
    for level, count in enumerate(histogram):
        running_count += count
        if running_count >= half:
            return level
    return 0


def _fit(cropped: Image.Image) -> Image.Image:
    """Scale cropped so its longer side is 20 px, keeping the aspect ratio (shorter side ≥ 1 px).

    Shrinking uses the BOX (area-average) filter: each output pixel becomes the fraction of its
    area covered by ink, which is what anti-aliasing MNIST's bilevel NIST scans produced; LANCZOS
    would ring (dark/bright halos clipped at 0/255) and sharpen strokes unlike MNIST's soft edges.
    Enlarging a tiny drawing uses BILINEAR, because BOX would then just duplicate pixels into
    staircase blocks.
    """
    longer_side = max(cropped.size)
    size = tuple(max(1, round(side * FITTED_SIZE / longer_side)) for side in cropped.size)
    resample = Image.Resampling.BOX if longer_side >= FITTED_SIZE else Image.Resampling.BILINEAR
    return cropped.resize(size, resample)


def _stretch_to_full_range(fitted: Image.Image) -> Image.Image:
    """Return fitted with its levels scaled so the brightest pixel is 255.

    MNIST digits peak at 255; a thin pen stroke averaged down by a large factor would otherwise
    arrive as a faint grey line the networks never saw in training.
    """
    brightest = fitted.getextrema()[1]
    if brightest == 0:
        raise NothingDrawn()
    if brightest == MAX_LEVEL:
        return fitted
    return fitted.point([level * MAX_LEVEL // brightest for level in range(MAX_LEVEL + 1)])


def _centre_of_mass_offset(fitted: Image.Image) -> tuple[int, int]:
    """Return the integer (x, y) paste position putting fitted's centre of mass nearest (14, 14).

    The position is clamped so the whole fitted image stays inside the 28×28 frame.
    """
    width, height = fitted.size
    levels = fitted.tobytes()
    total = sum(levels)
    column_sums = [sum(levels[column::width]) for column in range(width)]
    row_sums = [sum(levels[row * width : (row + 1) * width]) for row in range(height)]
    centre_x = sum((column + 0.5) * mass for column, mass in enumerate(column_sums)) / total
    centre_y = sum((row + 0.5) * mass for row, mass in enumerate(row_sums)) / total
    frame_centre = FRAME_SIZE / 2
    offset_x = math.floor(frame_centre - centre_x + 0.5)
    offset_y = math.floor(frame_centre - centre_y + 0.5)
    return (
        min(max(offset_x, 0), FRAME_SIZE - width),
        min(max(offset_y, 0), FRAME_SIZE - height),
    )
