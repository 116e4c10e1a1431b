"""Weight heatmaps: a layer's weights as Pillow images in a diverging colour map (no Tk here).

A layer's weight matrix becomes one greyscale "L" picture, row j holding the weights into unit j,
quantised so that 128 is zero, 0 is −scale and 255 is +scale (`weight_picture`; Pillow's
`putdata` does the scaling and clipping in C, so a 784×128 layer takes about a millisecond).
Colouring is a 256-entry palette lookup (`colourise`), so the Tk thread only ever pastes
finished images. The first layer's rows are 784 weights each, shown as 28×28 tiles
(`neuron_mosaic`); later layers are shown as whole matrices (`matrix_image`).

`render_heatmaps` does all of that for a snapshot in the training process
(`app.training_process`), so the window's Tk thread only pastes the results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import mul

from PIL import Image, ImageDraw, ImageFont

TILE_SIDE = 28
ZERO_LEVEL = 128
HALF_RANGE = 127.5
# A symmetric scale of 2.5 RMS covers about 99% of normally distributed weights, so a few
# large weights do not wash every other tile out to white.
SCALE_RMS_MULTIPLE = 2.5
MIN_SCALE = 1e-6
MAX_TILE_ZOOM = 4
MIN_TILE_SIDE = 7
# ColorBrewer RdBu, from −1 (dark blue) through white at 0 to +1 (dark red).
DIVERGING_STOPS = (
    (5, 48, 97),
    (33, 102, 172),
    (67, 147, 195),
    (146, 197, 222),
    (209, 229, 240),
    (247, 247, 247),
    (253, 219, 199),
    (244, 165, 130),
    (214, 96, 77),
    (178, 24, 43),
    (103, 0, 31),
)


@dataclass(frozen=True)
class WeightPicture:
    """One layer's weights as an "L" image (width = inputs, height = units) and its scale.

    Pixel value v stands for the weight (v − 128) / 127.5 × scale, clipped at ±scale.
    """

    image: Image.Image
    scale: float

    @property
    def units(self) -> int:
        """Return the number of units the layer feeds (rows of the picture)."""
        return self.image.height

    @property
    def inputs(self) -> int:
        """Return the number of inputs of each unit (columns of the picture)."""
        return self.image.width


@dataclass(frozen=True)
class MosaicLayout:
    """Where the tiles of a mosaic are: `columns` per row, `side` px each, `gap` px apart."""

    units: int
    columns: int
    side: int
    gap: int

    @property
    def rows(self) -> int:
        """Return the number of tile rows."""
        return math.ceil(self.units / self.columns)

    @property
    def size(self) -> tuple[int, int]:
        """Return the mosaic's (width, height) in pixels."""
        step = self.side + self.gap
        return self.columns * step - self.gap, self.rows * step - self.gap

    def unit_at(self, x: float, y: float) -> int | None:
        """Return the unit whose tile holds the point (x, y), or None for a gap or outside."""
        step = self.side + self.gap
        if x < 0 or y < 0:
            return None
        column, across = divmod(int(x), step)
        row, down = divmod(int(y), step)
        if column >= self.columns or across >= self.side or down >= self.side:
            return None
        unit = row * self.columns + column
        return unit if unit < self.units else None


def weight_scale(values: list[float]) -> float:
    """Return the symmetric colour-map scale of a layer: SCALE_RMS_MULTIPLE × the RMS weight."""
    if not values:
        return MIN_SCALE
    mean_square = math.fsum(map(mul, values, values)) / len(values)
    return max(MIN_SCALE, SCALE_RMS_MULTIPLE * math.sqrt(mean_square))


def weight_picture(weights: list[list[float]]) -> WeightPicture:
    """Return the quantised picture of one layer's weights, `weights[j][i]` into unit j."""
    flat = list(chain.from_iterable(weights))
    scale = weight_scale(flat)
    image = Image.new("L", (len(weights[0]), len(weights)))
    # putdata computes value × factor + offset in C and clips to 0..255; the extra 0.5 rounds.
    image.putdata(flat, HALF_RANGE / scale, ZERO_LEVEL)
    return WeightPicture(image, scale)


def diverging_colour(t: float) -> tuple[int, int, int]:
    """Return the colour of t in [−1, 1] on the diverging map (blue < 0, white 0, red > 0)."""
    position = (max(-1.0, min(1.0, t)) + 1.0) / 2.0 * (len(DIVERGING_STOPS) - 1)
    index = min(int(position), len(DIVERGING_STOPS) - 2)
    fraction = position - index
    low, high = DIVERGING_STOPS[index], DIVERGING_STOPS[index + 1]
    return tuple(round(a + (b - a) * fraction) for a, b in zip(low, high))


def diverging_palette() -> list[int]:
    """Return the 768-entry Pillow palette mapping each quantised level to its colour."""
    colours = (diverging_colour((level - ZERO_LEVEL + 0.5) / HALF_RANGE) for level in range(256))
    return list(chain.from_iterable(colours))


def colourise(image: Image.Image) -> Image.Image:
    """Return a quantised "L" weight image in the diverging colours, as RGB."""
    coloured = image.copy()
    coloured.putpalette(diverging_palette())
    return coloured.convert("RGB")


def mosaic_layout(units: int, width: int, height: int, gap: int) -> MosaicLayout:
    """Return the layout with the largest tiles that fits `units` 28×28 tiles in width × height.

    Tiles of 28 px or more are whole multiples of 28 (crisp pixels, at most MAX_TILE_ZOOM);
    smaller ones are at least MIN_TILE_SIDE px, even when that overflows the box. Among layouts
    with equal tiles the one with the fewest empty cells wins, then the one with fewest columns.
    """
    candidates = []
    for columns in range(1, units + 1):
        rows = math.ceil(units / columns)
        side = min((width + gap) // columns, (height + gap) // rows) - gap
        if side >= TILE_SIDE:
            side = min(side // TILE_SIDE, MAX_TILE_ZOOM) * TILE_SIDE
        empty_cells = columns * rows - units
        candidates.append((max(side, MIN_TILE_SIDE), -empty_cells, -columns))
    side, _, columns = max(candidates)
    return MosaicLayout(units, -columns, side, gap)


def neuron_tile(picture: Image.Image, unit: int) -> Image.Image:
    """Return the 784 weights into unit as a 28×28 image, from a (coloured) first-layer picture."""
    row = picture.crop((0, unit, picture.width, unit + 1))
    return Image.frombytes(picture.mode, (TILE_SIDE, TILE_SIDE), row.tobytes())


def neuron_mosaic(
    coloured: Image.Image, layout: MosaicLayout, background: tuple[int, int, int]
) -> Image.Image:
    """Return every unit's tile of a coloured first-layer picture, laid out on a background."""
    mosaic = Image.new("RGB", layout.size, background)
    step = layout.side + layout.gap
    resample = Image.Resampling.NEAREST if layout.side >= TILE_SIDE else Image.Resampling.BOX
    for unit in range(layout.units):
        row, column = divmod(unit, layout.columns)
        tile = neuron_tile(coloured, unit).resize((layout.side, layout.side), resample)
        mosaic.paste(tile, (column * step, row * step))
    return mosaic


def matrix_image(coloured: Image.Image, width: int, max_height: int) -> Image.Image:
    """Return a coloured weight matrix scaled to fit width × max_height with whole-pixel cells.

    Cells are at least one pixel; a matrix wider than `width` is shrunk smoothly instead.
    """
    zoom = max(1, min(width // coloured.width, max_height // coloured.height))
    if coloured.width * zoom <= width:
        return coloured.resize(
            (coloured.width * zoom, coloured.height * zoom), Image.Resampling.NEAREST
        )
    height = max(1, round(coloured.height * width / coloured.width))
    return coloured.resize((width, height), Image.Resampling.BOX)


def legend_image(width: int, height: int) -> Image.Image:
    """Return a horizontal bar of the colour map, −scale on the left, +scale on the right."""
    strip = Image.new("L", (width, 1))
    strip.putdata([round(255 * x / max(1, width - 1)) for x in range(width)])
    return colourise(strip).resize((width, height), Image.Resampling.NEAREST)


@dataclass(frozen=True)
class HeatmapGeometry:
    """Where heatmaps are shown, in screen pixels: the mosaic's box, its tile gap and background,
    and the box a later layer's matrix must fit in."""

    mosaic_box: tuple[int, int]
    gap: int
    background: tuple[int, int, int]
    matrix_box: tuple[int, int]


@dataclass(frozen=True)
class Heatmaps:
    """One snapshot's heatmaps as finished images, so showing them is only a paste.

    `layers` are the quantised pictures (with their scales), `first_coloured` the first
    layer's picture in colour (one row per unit, for enlarging a unit), `mosaic` its units as
    tiles placed by `layout`, `matrices` the later layers in colour, and `unit_ranges` the
    (smallest, largest) weight into each first-layer unit.
    """

    layers: tuple[WeightPicture, ...]
    first_coloured: Image.Image
    layout: MosaicLayout
    mosaic: Image.Image
    matrices: tuple[Image.Image, ...]
    unit_ranges: tuple[tuple[float, float], ...]


def render_heatmaps(weights: Sequence[list[list[float]]], geometry: HeatmapGeometry) -> Heatmaps:
    """Return the heatmaps of weights[layer][j][i], laid out as geometry says."""
    layers = tuple(weight_picture(layer) for layer in weights)
    first_coloured = colourise(layers[0].image)
    layout = mosaic_layout(layers[0].units, *geometry.mosaic_box, geometry.gap)
    mosaic = neuron_mosaic(first_coloured, layout, geometry.background)
    matrices = tuple(
        matrix_image(colourise(layer.image), *geometry.matrix_box) for layer in layers[1:]
    )
    unit_ranges = tuple((min(row), max(row)) for row in weights[0])
    return Heatmaps(layers, first_coloured, layout, mosaic, matrices, unit_ranges)


def scale_label(value: float) -> str:
    """Return a colour-scale value as a legend shows it: "−0.18", "0", "+0.18"."""
    return f"{value:+.2g}".replace("-", "−") if value else "0"


@dataclass(frozen=True)
class SheetStyle:
    """How an exported heatmap sheet looks: font, its line height, colours and margin (px)."""

    font: ImageFont.ImageFont | ImageFont.FreeTypeFont
    line_height: int
    background: tuple[int, int, int]
    text_colour: tuple[int, int, int]
    margin: int


def heatmap_sheet(heatmaps: Heatmaps, style: SheetStyle) -> Image.Image:
    """Return every heatmap stacked in one picture, captioned, with the first layer's scale."""
    first = heatmaps.layers[0]
    width = max(image.width for image in (heatmaps.mosaic, *heatmaps.matrices))
    scale_labels = (scale_label(-first.scale), scale_label(0.0), scale_label(first.scale))
    rows = [
        text_row(
            [f"Layer 1: the {first.inputs} weights into each of its {first.units} units"],
            width,
            style,
        ),
        heatmaps.mosaic,
        legend_image(heatmaps.mosaic.width, style.line_height // 2),
        text_row(scale_labels, heatmaps.mosaic.width, style),
    ]
    for index, (layer, matrix) in enumerate(zip(heatmaps.layers[1:], heatmaps.matrices)):
        caption = f"Layer {index + 2}: {layer.units} units × {layer.inputs} inputs"
        rows += [text_row([f"{caption} (±{layer.scale:.2g})"], width, style), matrix]
    spacing = style.margin // 2
    height = 2 * style.margin + sum(row.height for row in rows) + spacing * (len(rows) - 1)
    sheet = Image.new("RGB", (width + 2 * style.margin, height), style.background)
    y = style.margin
    for row in rows:
        sheet.paste(row, (style.margin, y))
        y += row.height + spacing
    return sheet


def text_row(texts: Sequence[str], width: int, style: SheetStyle) -> Image.Image:
    """Return a strip of one line: one text left-aligned, or several spread from left to right."""
    strip = Image.new("RGB", (width, style.line_height), style.background)
    pen = ImageDraw.Draw(strip)
    anchors = ["la"] if len(texts) == 1 else ["la", *["ma"] * (len(texts) - 2), "ra"]
    for index, (text, anchor) in enumerate(zip(texts, anchors)):
        x = 0 if len(texts) == 1 else width * index / (len(texts) - 1)
        pen.text((x, 0), text, fill=style.text_colour, font=style.font, anchor=anchor)
    return strip
