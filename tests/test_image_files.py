"""Tests for opening image files: only the raster formats Digits reads, only regular files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from engine import preprocess
from engine.preprocess import (
    IMAGE_FORMATS,
    MAX_IMAGE_PIXELS,
    ImageFileError,
    load_image_file,
    preprocess_image,
)

SAVE_FORMATS = {
    "PNG": ".png",
    "JPEG": ".jpg",
    "BMP": ".bmp",
    "GIF": ".gif",
    "TIFF": ".tiff",
    "WEBP": ".webp",
    "PPM": ".pgm",
}
EPS_FILE = b"""%!PS-Adobe-3.0 EPSF-3.0
%%BoundingBox: 0 0 28 28
newpath 4 4 moveto 24 24 lineto stroke
showpage
%%EOF
"""
PDF_FILE = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def seven() -> Image.Image:
    """Return a 56×56 greyscale picture of a 7, dark ink on white."""
    image = Image.new("L", (56, 56), 255)
    pen = ImageDraw.Draw(image)
    pen.line([(10, 10), (46, 10), (22, 48)], fill=0, width=6)
    return image


@pytest.mark.parametrize("format_name", IMAGE_FORMATS)
def test_every_raster_format_the_product_reads_opens(tmp_path, format_name):
    path = tmp_path / f"seven{SAVE_FORMATS[format_name]}"
    seven().save(path, format_name)
    preprocessed = preprocess_image(load_image_file(path))
    assert len(preprocessed.pixels) == 784 and max(preprocessed.pixels) > 200


@pytest.mark.parametrize(
    ("name", "content"), [("x.eps", EPS_FILE), ("x.ps", EPS_FILE), ("x.pdf", PDF_FILE)]
)
def test_postscript_and_pdf_are_refused_without_running_an_interpreter(
    tmp_path, monkeypatch, name, content
):
    path = tmp_path / name
    path.write_bytes(content)

    def no_subprocess(*_arguments: object, **_options: object) -> None:
        raise AssertionError("an external program was started")

    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    monkeypatch.setattr(subprocess, "check_call", no_subprocess)
    with pytest.raises(ImageFileError) as caught:
        load_image_file(path)
    assert str(caught.value) == (
        f"cannot read image {path}: it is not a PNG, JPEG, BMP, GIF, TIFF, WebP or PNM image"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX only")
def test_special_files_are_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    started = time.perf_counter()
    with pytest.raises(ImageFileError, match=r"it is a named pipe \(FIFO\), not a file"):
        load_image_file(fifo)
    with pytest.raises(ImageFileError, match="it is a folder, not a file"):
        load_image_file(tmp_path)
    assert time.perf_counter() - started < 1.0


def test_missing_and_oversized_images_are_plain_errors(tmp_path, monkeypatch):
    with pytest.raises(ImageFileError, match="the file does not exist"):
        load_image_file(tmp_path / "absent.png")
    monkeypatch.setattr(preprocess, "MAX_IMAGE_PIXELS", 56 * 55)
    path = tmp_path / "big.png"
    seven().save(path)
    with pytest.raises(ImageFileError, match="it is 56×56 pixels, more than"):
        load_image_file(path)
    assert MAX_IMAGE_PIXELS < Image.MAX_IMAGE_PIXELS


def test_a_truncated_png_is_an_image_file_error(tmp_path):
    path = tmp_path / "cut.png"
    seven().save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ImageFileError, match="cannot read image"):
        load_image_file(path)


def test_cli_predict_refuses_eps(tmp_path: Path):
    path = tmp_path / "digit.eps"
    path.write_bytes(EPS_FILE)
    completed = subprocess.run(
        [sys.executable, "-m", "engine", "predict", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    assert "not a PNG, JPEG, BMP, GIF, TIFF, WebP or PNM image" in completed.stderr
