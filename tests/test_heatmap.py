"""Tests of the weight heatmaps: quantisation, the diverging colour map and the mosaic layout."""

from __future__ import annotations

import math

import pytest
from PIL import Image, ImageFont

from app.heatmap import (
    DIVERGING_STOPS,
    SCALE_RMS_MULTIPLE,
    TILE_SIDE,
    ZERO_LEVEL,
    HeatmapGeometry,
    SheetStyle,
    colourise,
    diverging_colour,
    diverging_palette,
    heatmap_sheet,
    legend_image,
    matrix_image,
    mosaic_layout,
    neuron_mosaic,
    neuron_tile,
    render_heatmaps,
    scale_label,
    weight_picture,
    weight_scale,
)

WHITE = DIVERGING_STOPS[len(DIVERGING_STOPS) // 2]


def test_scale_is_a_multiple_of_the_rms_weight():
    assert weight_scale([3.0, -4.0]) == pytest.approx(SCALE_RMS_MULTIPLE * math.sqrt(12.5))
    assert weight_scale([0.0, 0.0]) > 0  # never divide by zero


def test_picture_puts_zero_at_128_and_clips_at_the_scale():
    weights = [[0.0, 1.0, -1.0, 100.0, -100.0] + [0.0] * 200]
    picture = weight_picture(weights)
    scale = picture.scale
    assert scale < 100.0
    assert (picture.units, picture.inputs) == (1, 205)
    pixels = list(picture.image.tobytes())
    assert pixels[0] == ZERO_LEVEL
    # Pillow truncates, and the level of a weight w is round(127.5 + 127.5 w / scale).
    assert pixels[1] == math.floor(ZERO_LEVEL + 127.5 / scale)
    assert pixels[2] == math.floor(ZERO_LEVEL - 127.5 / scale)
    assert pixels[3:5] == [255, 0]


def test_diverging_map_runs_from_blue_through_white_to_red():
    assert diverging_colour(-1.0) == DIVERGING_STOPS[0]
    assert diverging_colour(0.0) == WHITE
    assert diverging_colour(1.0) == DIVERGING_STOPS[-1]
    assert diverging_colour(7.0) == DIVERGING_STOPS[-1]
    red, _, blue = diverging_colour(0.5)
    assert red > blue


def test_colourise_uses_the_palette():
    palette = diverging_palette()
    assert len(palette) == 768
    levels = Image.frombytes("L", (3, 1), bytes([0, ZERO_LEVEL, 255]))
    colours = [colourise(levels).getpixel((x, 0)) for x in range(3)]
    assert colours[0] == DIVERGING_STOPS[0]
    assert max(abs(a - b) for a, b in zip(colours[1], WHITE)) <= 2
    assert colours[2] == DIVERGING_STOPS[-1]


def test_a_neuron_tile_is_its_row_as_28_by_28():
    row = [(index % 251) / 251 - 0.5 for index in range(784)]
    picture = weight_picture([[0.0] * 784, row])
    tile = neuron_tile(picture.image, 1)
    assert tile.size == (TILE_SIDE, TILE_SIDE)
    assert tile.getpixel((5, 2)) == picture.image.getpixel((2 * 28 + 5, 1))


@pytest.mark.parametrize("units", [10, 16, 128, 512])
def test_mosaic_layout_fits_and_finds_every_unit(units):
    layout = mosaic_layout(units, 500, 220, gap=2)
    width, height = layout.size
    assert layout.columns * layout.rows >= units
    if layout.side >= TILE_SIDE:
        assert layout.side % TILE_SIDE == 0
        assert width <= 500 and height <= 220
    step = layout.side + layout.gap
    for unit in range(units):
        row, column = divmod(unit, layout.columns)
        centre = (column * step + layout.side / 2, row * step + layout.side / 2)
        assert layout.unit_at(*centre) == unit
    assert layout.unit_at(layout.side + 0.5, 1) is None  # in the gap
    assert layout.unit_at(-1, 5) is None


def test_sixteen_units_get_large_tiles_and_no_empty_cells():
    layout = mosaic_layout(16, 500, 220, gap=2)
    assert layout.side == 2 * TILE_SIDE
    assert layout.columns * layout.rows == 16


def test_mosaic_image_has_the_layout_size():
    picture = weight_picture([[0.1 * unit] * 784 for unit in range(10)])
    layout = mosaic_layout(10, 300, 100, gap=2)
    mosaic = neuron_mosaic(colourise(picture.image), layout, (1, 2, 3))
    assert mosaic.size == layout.size
    assert mosaic.getpixel((layout.side, 0)) == (1, 2, 3)  # gap


def test_matrix_image_keeps_whole_pixel_cells_or_shrinks_to_fit():
    matrix = Image.new("RGB", (16, 10))
    assert matrix_image(matrix, 300, 64).size == (96, 60)
    wide = Image.new("RGB", (512, 10))
    assert matrix_image(wide, 300, 64).width == 300


def test_legend_runs_from_negative_to_positive():
    legend = legend_image(100, 8)
    assert legend.size == (100, 8)
    assert legend.getpixel((0, 0)) == DIVERGING_STOPS[0]
    assert legend.getpixel((99, 7)) == DIVERGING_STOPS[-1]


def test_render_heatmaps_prepares_every_image_of_a_snapshot():
    weights = [
        [[0.01 * unit] * 784 for unit in range(16)],
        [[0.1] * 16 for _ in range(16)],
        [[-0.1] * 16 for _ in range(10)],
    ]
    geometry = HeatmapGeometry((500, 220), 2, (1, 2, 3), (300, 64))
    heatmaps = render_heatmaps(weights, geometry)
    assert [layer.units for layer in heatmaps.layers] == [16, 16, 10]
    assert heatmaps.first_coloured.size == (784, 16)
    assert heatmaps.mosaic.size == heatmaps.layout.size
    assert [matrix.size for matrix in heatmaps.matrices] == [(64, 64), (96, 60)]


def test_scale_labels_use_a_true_minus_sign():
    assert [scale_label(v) for v in (-0.183, 0.0, 0.183)] == ["−0.18", "0", "+0.18"]


def test_the_exported_sheet_stacks_every_heatmap_with_captions():
    weights = [[[0.01 * unit] * 784 for unit in range(16)], [[-0.1] * 16 for _ in range(10)]]
    heatmaps = render_heatmaps(weights, HeatmapGeometry((500, 220), 2, (9, 9, 9), (300, 64)))
    style = SheetStyle(ImageFont.load_default(), 16, (255, 255, 255), (0, 0, 0), 10)
    sheet = heatmap_sheet(heatmaps, style)
    mosaic, matrix = heatmaps.mosaic, heatmaps.matrices[0]
    assert sheet.width == mosaic.width + 20
    # margins, 3 text rows, the legend bar, the two images, and the spacing between 6 rows
    assert sheet.height == 20 + 3 * 16 + 8 + mosaic.height + matrix.height + 5 * 5
    assert sheet.getpixel((10, 10 + 16 + 5)) == mosaic.getpixel((0, 0))
