"""Tests for engine.mnist: IDX parsing, MNIST loading and every malformed-file error."""

import gzip
import hashlib
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from engine.download import verify_mnist
from engine.mnist import (
    IMAGE_BYTES,
    MNIST_FILES,
    DataError,
    Dataset,
    IdxArray,
    digest_file,
    find_mnist_file,
    load_mnist,
    read_idx,
)

TRAIN_LABELS = [5, 0, 4]
TEST_LABELS = [7, 2]
REAL_TRAIN_FIRST_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
REAL_TEST_FIRST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
REAL_DATA_SKIP_REASON = (
    "real MNIST not available: set DIGITS_DATA to a folder with the four MNIST files"
)


def idx_bytes(dims: tuple[int, ...], data: bytes, magic: int | None = None) -> bytes:
    """Return an IDX file's bytes: magic (default unsigned-byte, len(dims)-D), dims, data."""
    if magic is None:
        magic = 0x0800 | len(dims)
    return struct.pack(f">I{len(dims)}I", magic, *dims) + data


def fake_images(count: int) -> bytes:
    """Return `count` distinct 28x28 images as concatenated row-major bytes."""
    return bytes((index * 7 + pixel) % 256 for index in range(count) for pixel in range(784))


def write_file(folder: Path, name: str, content: bytes, compress: bool) -> Path:
    """Write `content` (gzipped if `compress`) to folder/name and return the path."""
    path = folder / name
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


def write_fake_mnist(folder: Path, compress: bool = True) -> None:
    """Write a tiny MNIST (3 train, 2 test images) as NAME.gz, or as raw NAME if not compress."""
    splits = {
        "train": (TRAIN_LABELS, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": (TEST_LABELS, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    for labels, images_name, labels_name in splits.values():
        count = len(labels)
        images = idx_bytes((count, 28, 28), fake_images(count))
        label_content = idx_bytes((count,), bytes(labels))
        if not compress:
            images_name = images_name.removesuffix(".gz")
            labels_name = labels_name.removesuffix(".gz")
        write_file(folder, images_name, images, compress)
        write_file(folder, labels_name, label_content, compress)


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_returns_dims_and_data(tmp_path: Path, compress: bool) -> None:
    path = write_file(tmp_path, "images", idx_bytes((2, 28, 28), fake_images(2)), compress)
    assert read_idx(path) == IdxArray((2, 28, 28), fake_images(2))
    assert read_idx(path, expected_ndim=3).dims == (2, 28, 28)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path: Path) -> None:
    content = idx_bytes((3,), bytes([1, 2, 3]))
    raw_named_gz = write_file(tmp_path, "labels.gz", content, compress=False)
    gzip_named_raw = write_file(tmp_path, "labels", content, compress=True)
    assert read_idx(raw_named_gz).data == bytes([1, 2, 3])
    assert read_idx(gzip_named_raw).data == bytes([1, 2, 3])


def test_read_idx_joins_concatenated_gzip_members(tmp_path: Path) -> None:
    content = idx_bytes((4,), bytes([1, 2, 3, 4]))
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(content[:5]) + gzip.compress(content[5:]))
    assert read_idx(path).data == bytes([1, 2, 3, 4])


def test_wrong_magic_for_expected_dimensions_is_reported(tmp_path: Path) -> None:
    path = write_file(tmp_path, "labels.gz", idx_bytes((3,), bytes(3)), compress=True)
    with pytest.raises(DataError) as caught:
        read_idx(path, expected_ndim=3)
    assert str(caught.value) == (
        f"{path}: wrong magic number 0x00000801, expected 0x00000803 (IDX unsigned-byte 3-D images)"
    )


def test_non_idx_file_is_reported(tmp_path: Path) -> None:
    path = write_file(tmp_path, "page.html", b"<!DOCTYPE html><html></html>", compress=False)
    with pytest.raises(DataError, match=r"page\.html: wrong magic number 0x3c21444f: not an IDX"):
        read_idx(path)


def test_unsupported_data_type_is_reported(tmp_path: Path) -> None:
    path = write_file(tmp_path, "floats", idx_bytes((1,), bytes(4), magic=0x0D01), compress=False)
    with pytest.raises(DataError) as caught:
        read_idx(path)
    assert "unsupported IDX data type 0x0d (32-bit float)" in str(caught.value)
    assert "only unsigned bytes (0x08) are supported" in str(caught.value)


def test_zero_dimensions_are_reported(tmp_path: Path) -> None:
    path = write_file(tmp_path, "scalar", idx_bytes((), b"", magic=0x0800), compress=False)
    with pytest.raises(DataError, match="magic number 0x00000800 declares 0 dimensions"):
        read_idx(path)


def test_file_shorter_than_magic_is_truncated(tmp_path: Path) -> None:
    path = write_file(tmp_path, "tiny", b"\0\0", compress=False)
    with pytest.raises(DataError, match="truncated: 2 bytes, too short for the 4-byte IDX magic"):
        read_idx(path)


def test_truncated_header_is_reported(tmp_path: Path) -> None:
    path = write_file(tmp_path, "images", idx_bytes((2, 28, 28), b"")[:10], compress=True)
    with pytest.raises(DataError) as caught:
        read_idx(path)
    assert str(caught.value) == (
        f"{path}: truncated: 10 bytes, too short for the 16-byte header of a 3-D IDX file"
    )


def test_truncated_data_is_reported(tmp_path: Path) -> None:
    path = write_file(
        tmp_path, "train-images-idx3-ubyte.gz", idx_bytes((3, 28, 28), bytes(100)), compress=True
    )
    with pytest.raises(DataError) as caught:
        read_idx(path, expected_ndim=3)
    assert str(caught.value) == (
        f"{path}: truncated: header says 3 images of 28x28 (2352 bytes) but only 100 bytes follow"
    )


def test_trailing_bytes_are_reported(tmp_path: Path) -> None:
    path = write_file(tmp_path, "labels", idx_bytes((3,), bytes(5)), compress=False)
    with pytest.raises(DataError) as caught:
        read_idx(path)
    assert str(caught.value) == (
        f"{path}: trailing data: header says 3 labels (3 bytes) but more bytes follow"
    )


def test_corrupt_gzip_stream_is_a_data_error(tmp_path: Path) -> None:
    compressed = bytearray(gzip.compress(idx_bytes((2, 28, 28), fake_images(2))))
    middle = len(compressed) // 2
    compressed[middle : middle + 8] = b"\xff" * 8
    path = tmp_path / "images.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(DataError, match=r"images\.gz: .*gzip stream"):
        read_idx(path)


def test_truncated_gzip_stream_is_a_data_error(tmp_path: Path) -> None:
    compressed = gzip.compress(idx_bytes((2, 28, 28), fake_images(2)))
    path = tmp_path / "images.gz"
    path.write_bytes(compressed[: len(compressed) - 20])
    with pytest.raises(DataError) as caught:
        read_idx(path)
    assert str(caught.value) == (
        f"{path}: truncated gzip stream: the compressed data ends before its end marker"
    )


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"absent\.gz: file not found"):
        read_idx(tmp_path / "absent.gz")


def test_digest_file_hashes_decompressed_content(tmp_path: Path) -> None:
    content = idx_bytes((3,), bytes([1, 2, 3]))
    expected_sha256 = hashlib.sha256(content).hexdigest()
    for compress in (True, False):
        digest = digest_file(write_file(tmp_path, f"labels-{compress}", content, compress))
        assert (digest.sha256, digest.size) == (expected_sha256, len(content))


@pytest.mark.parametrize("compress", [True, False])
def test_load_mnist_reads_both_splits(tmp_path: Path, compress: bool) -> None:
    write_fake_mnist(tmp_path, compress)
    train = load_mnist(tmp_path, "train")
    test = load_mnist(str(tmp_path), "test")
    assert (len(train), len(test)) == (3, 2)
    assert train.labels == TRAIN_LABELS
    assert test.labels == TEST_LABELS
    assert all(len(image) == IMAGE_BYTES for image in train.images)
    assert b"".join(train.images) == fake_images(3)
    assert isinstance(train.images[0], bytes)


def test_find_mnist_file_prefers_gzip_name_and_accepts_raw(tmp_path: Path) -> None:
    name = "t10k-labels-idx1-ubyte.gz"
    assert find_mnist_file(tmp_path, name) is None
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"")
    assert find_mnist_file(tmp_path, name) == tmp_path / "t10k-labels-idx1-ubyte"
    (tmp_path / name).write_bytes(b"")
    assert find_mnist_file(tmp_path, name) == tmp_path / name


def test_subset_keeps_first_items(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    train = load_mnist(tmp_path, "train")
    first_two = train.subset(2)
    assert first_two.labels == TRAIN_LABELS[:2]
    assert first_two.images == train.images[:2]
    assert len(train.subset(100)) == 3
    with pytest.raises(ValueError, match="limit must be >= 0"):
        train.subset(-1)


def test_dataset_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="2 images but 1 labels"):
        Dataset([bytes(IMAGE_BYTES)] * 2, [0])


def test_unknown_split_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown split 'validation', expected one of train, test"):
        load_mnist(tmp_path, "validation")


def test_missing_folder_suggests_download(tmp_path: Path) -> None:
    folder = tmp_path / "nowhere"
    with pytest.raises(DataError) as caught:
        load_mnist(folder, "train")
    assert str(caught.value) == (
        f"MNIST data folder {folder} does not exist; "
        "run `python -m engine download` to fetch the MNIST files"
    )


def test_missing_file_names_it_and_suggests_download(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as caught:
        load_mnist(tmp_path, "test")
    message = str(caught.value)
    assert message.startswith(
        "t10k-labels-idx1-ubyte.gz (or uncompressed t10k-labels-idx1-ubyte) "
        f"not found in {tmp_path}"
    )
    assert "python -m engine download" in message


def test_wrong_image_size_is_reported(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    path = write_file(
        tmp_path, "train-images-idx3-ubyte.gz", idx_bytes((3, 32, 32), bytes(3 * 1024)), True
    )
    with pytest.raises(DataError) as caught:
        load_mnist(tmp_path, "train")
    assert str(caught.value) == f"{path}: images are 32x32 pixels, expected 28x28"


def test_label_out_of_range_is_reported(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    path = write_file(tmp_path, "t10k-labels-idx1-ubyte.gz", idx_bytes((2,), bytes([7, 12])), True)
    with pytest.raises(DataError) as caught:
        load_mnist(tmp_path, "test")
    assert str(caught.value) == f"{path}: label 12 at index 1 is outside 0..9"


def test_count_mismatch_is_reported(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    write_file(tmp_path, "t10k-labels-idx1-ubyte.gz", idx_bytes((1,), bytes([7])), True)
    with pytest.raises(DataError) as caught:
        load_mnist(tmp_path, "test")
    assert str(caught.value) == (
        "test: 2 images in t10k-images-idx3-ubyte.gz but 1 labels in t10k-labels-idx1-ubyte.gz"
    )


def test_labels_file_in_place_of_images_is_reported(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    labels = (tmp_path / "train-labels-idx1-ubyte.gz").read_bytes()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(labels)
    with pytest.raises(DataError, match="wrong magic number 0x00000801, expected 0x00000803"):
        load_mnist(tmp_path, "train")


def test_checksum_table_lists_the_four_files() -> None:
    assert sorted(MNIST_FILES) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]
    assert MNIST_FILES["train-images-idx3-ubyte.gz"].size == 16 + 60_000 * IMAGE_BYTES
    assert MNIST_FILES["t10k-labels-idx1-ubyte.gz"].size == 8 + 10_000
    assert all(len(entry.sha256) == 64 for entry in MNIST_FILES.values())


@pytest.mark.mnist
def test_real_mnist_loads_and_verifies() -> None:
    folder = os.environ.get("DIGITS_DATA", "")
    if not folder or find_mnist_file(folder, "train-images-idx3-ubyte.gz") is None:
        pytest.skip(REAL_DATA_SKIP_REASON)
    train = load_mnist(folder, "train")
    test = load_mnist(folder, "test")
    assert (len(train), len(test)) == (60_000, 10_000)
    assert train.labels[:10] == REAL_TRAIN_FIRST_LABELS
    assert test.labels[:10] == REAL_TEST_FIRST_LABELS
    assert all(len(image) == IMAGE_BYTES for image in train.images)
    assert verify_mnist(folder) == dict.fromkeys(MNIST_FILES, True)


BOMB_MEMBER_BYTES = 64 * 2**20
BOMB_MEMBERS = 64  # 4 GiB of content in about 4 MB of gzip
BOMB_MAX_SECONDS = 20.0
# Peak RSS of a child that reads the bomb: the interpreter plus one copy of what the header
# declares (47 MB), never the 4 GiB the file expands to.
BOMB_MAX_RSS_BYTES = 160 * 2**20
# Peak RSS from VmHWM where there is /proc: ru_maxrss would include the parent's peak, which
# Linux carries over to a child across fork and exec.
BOMB_READER = """
import pathlib, resource, sys, time
from engine.mnist import DataError, read_idx
started = time.monotonic()
try:
    read_idx(sys.argv[1], expected_ndim=3, item_shape=(28, 28))
except DataError as error:
    message = str(error)
else:
    message = "accepted"
status = pathlib.Path("/proc/self/status")
if status.exists():
    line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM"))
    peak = int(line.split()[1]) * 1024
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(peak, time.monotonic() - started)
print(message)
"""


def write_gzip_bomb(path: Path, header: bytes) -> None:
    """Write `header` then BOMB_MEMBERS × 64 MiB of zeros as concatenated gzip members."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(2**20)
    member = compressor.compress(header)
    for _ in range(BOMB_MEMBER_BYTES // len(zeros)):
        member += compressor.compress(zeros)
    member += compressor.flush()
    plain_member = gzip.compress(bytes(BOMB_MEMBER_BYTES), 9)
    with path.open("wb") as file:
        file.write(member)
        for _ in range(BOMB_MEMBERS - 1):
            file.write(plain_member)


@pytest.mark.skipif(sys.platform == "win32", reason="measures peak RSS with the resource module")
@pytest.mark.parametrize(
    ("dims", "reason"),
    [
        ((60_000, 28, 28), "trailing data: header says 60000 images of 28x28"),
        ((5_000_000, 28, 28), "more than the 256 MB an IDX file may hold here"),
        ((2**32 - 1, 28, 28), "more than the 256 MB an IDX file may hold here"),
    ],
)
def test_gzip_bomb_is_refused_quickly_with_bounded_memory(
    tmp_path: Path, dims: tuple[int, ...], reason: str
) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    write_gzip_bomb(path, idx_bytes(dims, b""))
    assert path.stat().st_size < 5 * 2**20
    completed = subprocess.run(
        [sys.executable, "-c", BOMB_READER, str(path)],
        capture_output=True,
        text=True,
        timeout=BOMB_MAX_SECONDS,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        check=True,
    )
    figures, message = completed.stdout.splitlines()
    peak_rss, seconds = figures.split()
    assert reason in message
    assert int(peak_rss) < BOMB_MAX_RSS_BYTES
    assert float(seconds) < BOMB_MAX_SECONDS


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX only")
def test_fifo_and_folder_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=r"it is a named pipe \(FIFO\), not a file"):
        read_idx(fifo)
    with pytest.raises(DataError, match=r"it is a named pipe \(FIFO\), not a file"):
        digest_file(fifo)
    with pytest.raises(DataError, match="it is a folder, not a file"):
        read_idx(tmp_path)
    assert find_mnist_file(tmp_path, "train-images-idx3-ubyte.gz") is None


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_device_is_refused_at_once() -> None:
    with pytest.raises(DataError, match="it is a character device, not a file"):
        read_idx("/dev/zero")
