"""Draw the app icons, assets/icon-<size>.png: a hand-drawn "7" as the network sees it, in pixels.

Run `python assets/make_icon.py` to regenerate them at every size desktops use (16 to 256
pixels); the app and the Linux desktop entry only read the PNGs.
"""

from pathlib import Path

from PIL import Image, ImageDraw

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICON_NAME = "icon-{size}.png"
SUPERSAMPLING = 4
GRID_CELLS = 7
# Below this size a grid line would be thinner than a pixel and only muddy the digit.
SMALLEST_GRID_SIZE = 48
BACKGROUND = (47, 111, 221, 255)
SCREEN = (21, 24, 29, 255)
GRID_LINE = (58, 64, 74, 255)
# The "7" in a unit box, like a quick pen stroke.
SEVEN = [(0.22, 0.25), (0.78, 0.25), (0.45, 0.82)]
STROKE_WIDTH = 0.13


def make_icon(size: int) -> Image.Image:
    """Return the size×size RGBA icon: a blue tile, a dark screen, a pixelated "7" on a grid."""
    big = size * SUPERSAMPLING
    tile = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(tile)
    pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=BACKGROUND)
    inset = big * 3 // 20
    side = big - 2 * inset
    cell = side // GRID_CELLS
    side = cell * GRID_CELLS
    stroke = Image.new("L", (side, side), 0)
    stroke_pen = ImageDraw.Draw(stroke)
    points = [(x * side, y * side) for x, y in SEVEN]
    width = round(STROKE_WIDTH * side)
    stroke_pen.line(points, fill=255, width=width, joint="curve")
    for x, y in (points[0], points[-1]):
        stroke_pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    cells = stroke.resize((GRID_CELLS, GRID_CELLS), Image.Resampling.BOX)
    cells = cells.point(lambda level: min(255, level * 3 // 2))
    screen = Image.new("RGBA", (side, side), SCREEN)
    screen.paste((255, 255, 255, 255), (0, 0), cells.resize((side, side), Image.Resampling.NEAREST))
    if size >= SMALLEST_GRID_SIZE:
        screen_pen = ImageDraw.Draw(screen)
        for offset in range(0, side + 1, cell):
            screen_pen.line((offset, 0, offset, side), fill=GRID_LINE, width=SUPERSAMPLING * 2)
            screen_pen.line((0, offset, side, offset), fill=GRID_LINE, width=SUPERSAMPLING * 2)
    tile.paste(screen, (inset, inset))
    return tile.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    """Write icon-<size>.png for every size in ICON_SIZES next to this script."""
    folder = Path(__file__).resolve().parent
    for size in ICON_SIZES:
        make_icon(size).save(folder / ICON_NAME.format(size=size), optimize=True)


if __name__ == "__main__":
    main()
