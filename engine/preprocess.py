"""Turn any picture of a digit into a 28×28 MNIST-style input, the way MNIST was made.

MNIST digits were cropped to their ink, scaled so the longer side is 20 px (aspect kept,
anti-aliased), and placed in a 28×28 frame so that their intensity-weighted centre of mass sits
at the frame's centre. One step is added before the scaling: strokes are measured and brought to
an MNIST-like width (see MAX_STROKE_WIDTH): thin ones widened, because the networks read a stroke
half a pixel bolder than drawn more reliably, and bold ones thinned, because at 20 px they would
close the loops of a 6, 8, 9 or 0. Inside the engine an image is 784 ``bytes``: 28×28
row-major, 0..255, ink high (white ink on black, as in the MNIST files).

Pillow only reads, converts, crops, resizes, dilates, erodes and pastes images here; it never
does network math.
Coordinates are in pixels with pixel (x, y) covering [x, x+1) × [y, y+1), so the centre of the
28×28 frame is (14.0, 14.0).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike

from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError

from engine.regularfile import NotRegularFile, open_regular

FRAME_SIZE = 28
FITTED_SIZE = 20
MAX_LEVEL = 255
# Grey levels at most this far above the background count as paper noise, not ink
# (scanner/JPEG noise, paper texture). 32 of 255 is ~12 %: far below any real stroke.
NOISE_THRESHOLD = 32
# A background at or above this grey level means dark ink on light paper.
LIGHT_BACKGROUND_LEVEL = 128
# Stroke widths are in pixels of the 20 px digit, as _stroke_width measures them (MNIST's are
# 1.5-3.6 px, 5th to 95th percentile, median 2.3). On the drawn-digits benchmark (`python -m
# engine drawn`) the shipped networks read strokes half a pixel bolder than drawn more reliably:
# the hairlines of bold serif lettering stop fading (2 read as 3, 4 as 1) and thin pen strokes are
# read better. So strokes are widened by STROKE_WIDENING, to at least MIN_STROKE_WIDTH (MNIST's
# 25th percentile) and at most MAX_STROKE_WIDTH (its 85th). Bolder strokes (a fat brush, heavy
# lettering, whose 6, 8, 9 and 0 close up at 20 px and read as 5, 1 or 8) are thinned to
# MAX_STROKE_WIDTH, by at most MAX_THINNING, keeping the parts of the digit thinner than the
# thinning (the hairlines of serif lettering) as they are. A narrow digit's loops close sooner:
# its strokes are at most MAX_STROKE_TO_SIDE of its shorter side (but never thinned below
# MIN_STROKE_WIDTH).
STROKE_WIDENING = 0.5
MIN_STROKE_WIDTH = 2.0
MAX_STROKE_WIDTH = 3.0
MAX_THINNING = 3.0
MAX_STROKE_TO_SIDE = 0.35
# Strokes are measured, widened and thinned on a copy whose longer side is this many times 20 px:
# fine enough to change them in quarter-pixel steps (one work pixel each side), small enough to
# take a fraction of a millisecond.
WIDENING_SUPERSAMPLING = 8
# A stroke's core, whose area and boundary give its width, is where the ink reaches this fraction
# of its brightest level (so grey pencil is measured like black ink).
STROKE_CORE_FRACTION = 0.5
# Ink that spans less than MIN_INK_EXTENT of the picture's shorter side (22 px of the app's 280 px
# canvas: a single click of the default brush), or covers less than MIN_INK_AREA of the picture
# (24 px² of the canvas, a 5 px dot), is a speck, not a digit: the networks would read any
# blob as some digit (a 3 px dot was read as 8 at 69 %). So is ink whose strokes are wider than
# MAX_DOT_STROKE of its longer side: a dot, however big the brush that clicked it (a round dot's
# measured width is half its diameter; the fattest digits' strokes are under a third).
MIN_INK_EXTENT = 0.08
MIN_INK_AREA = 0.0003
MAX_DOT_STROKE = 0.4
HIGH_DEPTH_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class NothingDrawn(ValueError):
    """Raised when an image holds no ink: blank, uniform, or only faint noise."""

    def __init__(self) -> None:
        super().__init__("nothing drawn")


class TooSmallToRead(NothingDrawn):
    """Raised when an image's ink is a speck or a dot: too little of it to be a digit."""

    def __init__(self) -> None:
        ValueError.__init__(self, "too small to read")


# The image formats `load_image_file` opens (Pillow's names; "PPM" reads PBM, PGM and PPM).
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
IMAGE_FORMAT_NAMES = "PNG, JPEG, BMP, GIF, TIFF, WebP or PNM"
# A digit needs few pixels; a bigger picture only costs memory (Pillow's own limit is 89 M).
MAX_IMAGE_PIXELS = 40_000_000


class ImageFileError(ValueError):
    """Raised when a file cannot be opened or decoded as an image."""


@dataclass(frozen=True)
class Preprocessed:
    """Every stage of the preprocessing, so the app can show them in its inspector.

    cropped: the ink's bounding box, mode "L", ink high, paper and its noise set to 0.
    fitted: cropped with its strokes widened or thinned, scaled so its longer side is 20 px,
        aspect kept, peak 255, mode "L".
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
        # Only raster formats the product reads: never EPS or PDF, whose Pillow plugins run an
        # external interpreter (Ghostscript) on the file. Only regular files: a FIFO would block.
        with open_regular(path) as file, Image.open(file, formats=IMAGE_FORMATS) as opened:
            width, height = opened.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ImageFileError(
                    f"cannot read image {path!s}: it is {width}×{height} pixels, more than the"
                    f" {MAX_IMAGE_PIXELS // 10**6} million a digit picture may have"
                )
            opened.load()
            # Phone photos store rotation as an EXIF tag; without this a "7" can arrive sideways.
            return ImageOps.exif_transpose(opened)
    except UnidentifiedImageError:
        raise ImageFileError(
            f"cannot read image {path!s}: it is not a {IMAGE_FORMAT_NAMES} image"
        ) from None
    except NotRegularFile as error:
        raise ImageFileError(f"cannot read image {path!s}: {error.strerror}") from None
    except FileNotFoundError:
        raise ImageFileError(f"cannot read image {path!s}: the file does not exist") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        if isinstance(error, ImageFileError):
            raise
        reason = (error.strerror if isinstance(error, OSError) else None) or error
        raise ImageFileError(f"cannot read image {path!s}: {reason}") from error


def preprocess_image(image: Image.Image) -> Preprocessed:
    """Convert an image of any size and mode to an MNIST-style 28×28 digit, keeping each stage.

    Works out whether the ink is dark-on-light or light-on-dark, makes it ink-high, crops to the
    ink, widens thin strokes and thins bold ones (measured at the 20 px scale), scales the
    longer side to 20 px and centres the centre of mass at (14, 14) with an integer shift.
    Raises NothingDrawn if there is no ink above the noise threshold, TooSmallToRead (a
    NothingDrawn) if the ink is only a speck or a dot (see MIN_INK_EXTENT).
    """
    ink = _ink_high(_to_grey(image))
    bounding_box = ink.getbbox()
    if bounding_box is None:
        raise NothingDrawn()
    cropped = ink.crop(bounding_box)
    _check_enough_ink(cropped, image.size)
    fitted = _stretch_to_full_range(_fit(_normalise_stroke_width(cropped)))
    offset_x, offset_y = _centre_of_mass_offset(fitted)
    centred = Image.new("L", (FRAME_SIZE, FRAME_SIZE), 0)
    centred.paste(fitted, (offset_x, offset_y))
    centre_shift = (
        offset_x - (FRAME_SIZE - fitted.width) / 2,
        offset_y - (FRAME_SIZE - fitted.height) / 2,
    )
    return Preprocessed(cropped, fitted, centred, centred.tobytes(), centre_shift)


def _check_enough_ink(cropped: Image.Image, picture_size: tuple[int, int]) -> None:
    """Raise TooSmallToRead if the ink (cropped to its box) spans or covers too little.

    Extent is the box's longer side over the picture's shorter side; area is the ink's total
    level over 255 (a grey pixel counts partly) over the picture's area.
    """
    extent = max(cropped.size) / min(picture_size)
    histogram = cropped.histogram()
    area = sum(level * count for level, count in enumerate(histogram)) / MAX_LEVEL
    if extent < MIN_INK_EXTENT or area < MIN_INK_AREA * picture_size[0] * picture_size[1]:
        raise TooSmallToRead()


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


def _normalise_stroke_width(cropped: Image.Image) -> Image.Image:
    """Return cropped unchanged if its strokes are as bold as they should be, else re-stroked.

    The copy is supersampled (longer side WIDENING_SUPERSAMPLING × 20 px, so one work pixel is
    1/WIDENING_SUPERSAMPLING px of the 20 px digit). Strokes grow by STROKE_WIDENING, to at least
    MIN_STROKE_WIDTH and at most MAX_STROKE_WIDTH, by a grey-level dilation; strokes bolder than
    MAX_STROKE_WIDTH are thinned to it (see _thin). The copy is cropped to its ink. Ink too
    faint to leave any level after the 20 px fit is returned unchanged. Raises TooSmallToRead
    for a dot: strokes wider than MAX_DOT_STROKE of the longer side.
    """
    work_scale = WIDENING_SUPERSAMPLING * FITTED_SIZE / max(cropped.size)
    size = (max(1, round(cropped.width * work_scale)), max(1, round(cropped.height * work_scale)))
    # As in _fit: area averaging to shrink, BILINEAR to enlarge without staircase blocks.
    resample = Image.Resampling.BOX if work_scale <= 1 else Image.Resampling.BILINEAR
    # A 0 margin wider than the widest widening or thinning: _square_extreme's shifted copies
    # wrap into it.
    margin = round(max(MIN_STROKE_WIDTH, MAX_THINNING) * WIDENING_SUPERSAMPLING / 2) + 1
    work = Image.new("L", (size[0] + 2 * margin, size[1] + 2 * margin), 0)
    work.paste(cropped.resize(size, resample), (margin, margin))
    width = _stroke_width(work) / WIDENING_SUPERSAMPLING
    if width > MAX_DOT_STROKE * FITTED_SIZE:
        raise TooSmallToRead()
    shorter_side = min(cropped.size) * FITTED_SIZE / max(cropped.size)
    boldest = max(MIN_STROKE_WIDTH, min(MAX_STROKE_WIDTH, MAX_STROKE_TO_SIDE * shorter_side))
    target = min(boldest, max(width + STROKE_WIDENING, MIN_STROKE_WIDTH))
    # Growing or eroding by r work pixels moves both edges of a stroke by r.
    radius = round((target - width) * WIDENING_SUPERSAMPLING / 2)
    radius = max(radius, -round(MAX_THINNING * WIDENING_SUPERSAMPLING / 2))
    # Ink that averages away at 20 px stays as it is (and so counts as nothing drawn): widening
    # it first would turn faint specks of noise into a digit.
    if radius == 0 or _fit(cropped).getbbox() is None:
        return cropped
    if radius > 0:
        restroked = _square_extreme(work, radius, ImageChops.lighter)
    else:
        restroked = _thin(work, -radius)
    return restroked.crop(restroked.getbbox())


def _thin(work: Image.Image, radius: int) -> Image.Image:
    """Return ink-high work with strokes thinned by radius pixels on each side, hairlines kept.

    A grey-level erosion thins every stroke, and would erase those thinner than 2 × radius.
    What it erases outright is what an opening (the erosion dilated back) does not restore:
    that ink is added back as drawn, so the thin parts of a digit (serif lettering's hairlines,
    a fine tail) stay while its bold strokes lose their weight. work needs a border of at
    least radius pixels of 0.
    """
    eroded = _square_extreme(work, radius, ImageChops.darker)
    opened = _square_extreme(eroded, radius, ImageChops.lighter)
    return ImageChops.lighter(eroded, ImageChops.subtract(work, opened))


def _stroke_width(work: Image.Image) -> float:
    """Estimate the typical stroke width of ink-high work, in its pixels (0 if it has no core).

    A stroke of width w and length L has a core area of about w × L and two edges of length L,
    so the width is 2 × area / (edge length). The edge length is counted in boundary pixels:
    core pixels with a non-core 8-neighbour count an edge at angle a as L × (|cos a| + |sin a|)
    (up to 1.41 L on a diagonal), those with a non-core 4-neighbour as L × max(|cos a|, |sin a|)
    (down to 0.71 L); their mean is within 12 % of L at every angle, so curves and slants are
    measured like upright strokes. work must have a border of at least one 0 pixel.
    """
    core_level = max(1, round(work.getextrema()[1] * STROKE_CORE_FRACTION))
    core = work.point([MAX_LEVEL if level >= core_level else 0 for level in range(MAX_LEVEL + 1)])
    area = core.tobytes().count(MAX_LEVEL)
    square_interior = _square_extreme(core, 1, ImageChops.darker)
    cross_interior = ImageChops.darker(
        ImageChops.darker(ImageChops.offset(core, 1, 0), ImageChops.offset(core, -1, 0)),
        ImageChops.darker(ImageChops.offset(core, 0, 1), ImageChops.offset(core, 0, -1)),
    )
    cross_interior = ImageChops.darker(core, cross_interior)
    edge_length = (
        2 * area
        - square_interior.tobytes().count(MAX_LEVEL)
        - cross_interior.tobytes().count(MAX_LEVEL)
    ) / 2
    return 2 * area / edge_length if edge_length else 0.0


def _square_extreme(
    image: Image.Image,
    radius: int,
    combine: Callable[[Image.Image, Image.Image], Image.Image],
) -> Image.Image:
    """Return image with each pixel combined over the (2 × radius + 1)² square around it.

    combine is ImageChops.lighter (grey-level dilation) or ImageChops.darker (erosion). The
    square is a row pass then a column pass of shifted copies, each step doubling the reach
    covered so far (1, 2, 4, … px), which is far faster than Pillow's MaxFilter / MinFilter.
    Shifts wrap around, so image needs a border of at least radius pixels of 0 (paper).
    """
    for axis in (0, 1):
        reach = 0
        while reach < radius:
            # The step may not exceed reach + 1, or the covered span would have gaps.
            step = min(reach + 1, radius - reach)
            forward = (step, 0) if axis == 0 else (0, step)
            backward = (-step, 0) if axis == 0 else (0, -step)
            shifted = combine(
                ImageChops.offset(image, *forward), ImageChops.offset(image, *backward)
            )
            image = combine(image, shifted)
            reach += step
    return image


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
