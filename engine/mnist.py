"""Read the MNIST handwritten-digit files (IDX format, gzip-compressed or raw) into memory.

Also holds the checksum table of the four official files and the streaming digest that
checks them, which the downloader shares so that both agree on what a valid file is.
A file may be stored as NAME.gz or as the uncompressed NAME; compression is detected by
the gzip magic bytes, never by the file name.
"""

import hashlib
import math
import os
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import chain
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

from engine.regularfile import NotRegularFile, open_regular

IMAGE_ROWS = 28
IMAGE_COLUMNS = 28
IMAGE_BYTES = IMAGE_ROWS * IMAGE_COLUMNS
DIGIT_CLASSES = 10
GZIP_MAGIC = b"\x1f\x8b"
GZIP_SUFFIX = ".gz"
# zlib selects the gzip container (header and CRC trailer) when 16 is added to the window bits.
GZIP_WBITS = 16 + zlib.MAX_WBITS
READ_CHUNK_BYTES = 1 << 20
OUTPUT_CHUNK_BYTES = 1 << 20
# Deflate cannot compress better than about 1032:1, so a gzip file of n bytes holds less
# than this many times n; an IDX header declaring more is lying.
MAX_DEFLATE_RATIO = 1100
# The largest IDX content read (MNIST's training images are 47 MB).
MAX_IDX_DATA_BYTES = 256 * 2**20
IDX_MAGIC_BYTES = 4
IDX_DIMENSION_BYTES = 4
IDX_UNSIGNED_BYTE = 0x08
IDX_TYPE_NAMES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "16-bit integer",
    0x0C: "32-bit integer",
    0x0D: "32-bit float",
    0x0E: "64-bit float",
}
IDX_ITEM_NOUNS = {1: "labels", 3: "images"}
DOWNLOAD_HINT = "run `python -m engine download` to fetch the MNIST files"


@dataclass(frozen=True)
class MnistFile:
    """Expected decompressed content of one MNIST file: SHA-256 (hex) and size in bytes."""

    sha256: str
    size: int

    def mismatch(self, digest: "ContentDigest") -> str | None:
        """Return why `digest` does not match this file, or None when it matches."""
        if digest.size != self.size:
            return f"wrong size: decompressed content is {digest.size} bytes, expected {self.size}"
        if digest.sha256 != self.sha256:
            return (
                f"checksum mismatch: SHA-256 of decompressed content is {digest.sha256}, "
                f"expected {self.sha256}"
            )
        return None


MNIST_FILES: Mapping[str, MnistFile] = MappingProxyType(
    {
        "train-images-idx3-ubyte.gz": MnistFile(
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016
        ),
        "train-labels-idx1-ubyte.gz": MnistFile(
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008
        ),
        "t10k-images-idx3-ubyte.gz": MnistFile(
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016
        ),
        "t10k-labels-idx1-ubyte.gz": MnistFile(
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008
        ),
    }
)
# Split name -> (images file, labels file), named as in MNIST_FILES.
SPLIT_FILES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
)


class DataError(Exception):
    """Raised for a missing, truncated, corrupt or malformed data file; the message says why."""


@dataclass(frozen=True)
class IdxArray:
    """An unsigned-byte IDX array: its dimensions and its row-major bytes (len = product)."""

    dims: tuple[int, ...]
    data: bytes | bytearray


@dataclass(frozen=True)
class ContentDigest:
    """SHA-256 (hex) and size in bytes of a file's decompressed content."""

    sha256: str
    size: int


@dataclass
class Dataset:
    """MNIST images and their labels, index-aligned.

    Each image is IMAGE_BYTES (784) bytes: 28 rows of 28 pixels, row-major, 0 = background,
    255 = full ink, exactly as stored in MNIST. Each label is the digit 0..9.
    """

    images: list[bytes]
    labels: list[int]

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, limit: int) -> "Dataset":
        """Return a Dataset of the first `limit` items (all of them if there are fewer)."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        return Dataset(self.images[:limit], self.labels[:limit])


def decompressed_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Yield the content of a byte stream, gunzipping it when it starts with the gzip magic.

    Concatenated gzip members are joined, as gzip(1) does. Each yielded piece is at most
    OUTPUT_CHUNK_BYTES, however well the input compresses, so a caller that stops early
    never holds more. Raises DataError, without a file name (callers add it), for a corrupt
    or truncated gzip stream.
    """
    chunk_iterator = iter(chunks)
    head = b""
    for chunk in chunk_iterator:
        head += chunk
        if len(head) >= len(GZIP_MAGIC):
            break
    if not head.startswith(GZIP_MAGIC):
        if head:
            yield head
        yield from chunk_iterator
        return
    decompressor = None
    for chunk in chain([head], chunk_iterator):
        remaining = chunk
        while remaining or decompressor is not None:
            if decompressor is None:
                decompressor = zlib.decompressobj(GZIP_WBITS)
            try:
                output = decompressor.decompress(remaining, OUTPUT_CHUNK_BYTES)
            except zlib.error as error:
                raise DataError(f"corrupt gzip stream ({error})") from error
            if output:
                yield output
            if decompressor.eof:
                remaining = decompressor.unused_data
                decompressor = None
                continue
            remaining = decompressor.unconsumed_tail
            # A full output piece may leave more output inside zlib even with no input left.
            if not remaining and len(output) < OUTPUT_CHUNK_BYTES:
                break
    if decompressor is not None:
        raise DataError("truncated gzip stream: the compressed data ends before its end marker")


def digest_chunks(chunks: Iterable[bytes], max_size: int | None = None) -> ContentDigest:
    """Return the SHA-256 and size of the decompressed content of a (maybe gzip) byte stream.

    With `max_size`, raises DataError as soon as the content grows beyond that many bytes.
    """
    hasher = hashlib.sha256()
    size = 0
    for piece in decompressed_chunks(chunks):
        hasher.update(piece)
        size += len(piece)
        if max_size is not None and size > max_size:
            raise DataError(
                f"wrong size: decompressed content goes beyond the {max_size} bytes expected"
            )
    return ContentDigest(hasher.hexdigest(), size)


def digest_file(path: str | os.PathLike, max_size: int | None = None) -> ContentDigest:
    """Return the SHA-256 and size of a file's decompressed content, reading it in 1 MiB chunks.

    With `max_size`, stops with DataError once the content grows beyond that many bytes.
    """
    path = Path(path)
    with _errors_naming(path), open_regular(path) as file:
        return digest_chunks(_file_chunks(file), max_size)


def read_idx(
    path: str | os.PathLike,
    expected_ndim: int | None = None,
    item_shape: tuple[int, ...] | None = None,
) -> IdxArray:
    """Read an unsigned-byte IDX file (gzip or raw) into dims and row-major bytes.

    With `expected_ndim`, the magic number must be exactly that of an unsigned-byte array of
    that many dimensions; with `item_shape`, every dimension after the first must match it
    (e.g. (28, 28) for images). The header is checked for plausibility before any data is
    read, exactly the bytes it declares are read into one buffer, and trailing data is
    refused as soon as it appears, so a small file cannot make this hold much more than its
    declared content (at most MAX_IDX_DATA_BYTES). Raises DataError naming the file if it
    cannot be read, is not a supported IDX file, or its length does not match its header.
    """
    path = Path(path)
    with _errors_naming(path), open_regular(path) as file:
        stored_bytes = os.fstat(file.fileno()).st_size
        stream = _ExactReader(decompressed_chunks(_file_chunks(file)))
        dims = _read_idx_header(stream, expected_ndim)
        expected_bytes = math.prod(dims)
        if item_shape is not None and tuple(dims[1:]) != item_shape:
            raise DataError(
                f"{IDX_ITEM_NOUNS.get(len(dims), 'items')} are"
                f" {'x'.join(map(str, dims[1:]))} pixels, expected {'x'.join(map(str, item_shape))}"
            )
        _check_plausible_size(dims, expected_bytes, stored_bytes)
        data = stream.read_into(bytearray(expected_bytes))
        if len(data) < expected_bytes:
            raise DataError(
                f"truncated: header says {_describe_dims(dims)} ({expected_bytes} bytes) "
                f"but only {len(data)} bytes follow"
            )
        if stream.has_more():
            raise DataError(
                f"trailing data: header says {_describe_dims(dims)} ({expected_bytes} bytes) "
                "but more bytes follow"
            )
        return IdxArray(dims, data)


def find_mnist_file(folder: str | os.PathLike, name: str) -> Path | None:
    """Return the path of MNIST file `name` in `folder` as NAME.gz or raw NAME, or None."""
    folder = Path(folder)
    for candidate in (name, name.removesuffix(GZIP_SUFFIX)):
        path = folder / candidate
        if path.is_file():
            return path
    return None


def load_mnist(folder: str | os.PathLike, split: str) -> Dataset:
    """Load the "train" (60,000) or "test" (10,000) split of MNIST from `folder`.

    Each file may be NAME.gz or the uncompressed NAME. Raises DataError naming the file when
    one is missing or malformed, images are not 28x28, a label is outside 0..9, or the
    image and label counts differ.
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown split {split!r}, expected one of {', '.join(SPLIT_FILES)}")
    folder = Path(folder)
    images_name, labels_name = SPLIT_FILES[split]
    images_path = _require_mnist_file(folder, images_name)
    labels_path = _require_mnist_file(folder, labels_name)
    labels = read_idx(labels_path, expected_ndim=1)
    _check_labels(labels_path, labels.data)
    images = read_idx(images_path, expected_ndim=3, item_shape=(IMAGE_ROWS, IMAGE_COLUMNS))
    image_count = images.dims[0]
    label_count = labels.dims[0]
    if label_count != image_count:
        raise DataError(
            f"{split}: {image_count} images in {images_path.name} "
            f"but {label_count} labels in {labels_path.name}"
        )
    pixels = memoryview(images.data)
    image_list = [
        bytes(pixels[start : start + IMAGE_BYTES]) for start in range(0, len(pixels), IMAGE_BYTES)
    ]
    pixels.release()
    return Dataset(image_list, list(labels.data))


def _file_chunks(file: BinaryIO) -> Iterator[bytes]:
    """Yield a binary file's bytes in READ_CHUNK_BYTES pieces."""
    return iter(partial(file.read, READ_CHUNK_BYTES), b"")


@contextmanager
def _errors_naming(path: Path) -> Iterator[None]:
    """Turn I/O errors and unnamed DataErrors raised inside into DataErrors naming `path`."""
    try:
        yield
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except NotRegularFile as error:
        raise DataError(f"{path}: {error.strerror}") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read file ({error.strerror or error})") from error
    except DataError as error:
        raise DataError(f"{path}: {error}") from error


class _ExactReader:
    """Read exact byte counts from an iterator of chunks, holding at most one chunk back."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def read_into(self, buffer: bytearray) -> bytearray:
        """Fill `buffer` from the stream; return it, cut short if the stream ended first."""
        filled = 0
        target = memoryview(buffer)
        while filled < len(buffer):
            if not self._pending and not self._refill():
                target.release()
                del buffer[filled:]
                return buffer
            taken = min(len(self._pending), len(buffer) - filled)
            target[filled : filled + taken] = self._pending[:taken]
            self._pending = self._pending[taken:]
            filled += taken
        target.release()
        return buffer

    def has_more(self) -> bool:
        """Return True if any byte follows; reads at most one more chunk to find out."""
        return bool(self._pending) or self._refill()

    def _refill(self) -> bool:
        """Take the next non-empty chunk; return False at the end of the stream."""
        for chunk in self._chunks:
            if chunk:
                self._pending = memoryview(chunk)
                return True
        return False


def _read_idx_header(stream: _ExactReader, expected_ndim: int | None) -> tuple[int, ...]:
    """Read and validate an IDX magic number and dimensions; return the dimensions."""
    magic_bytes = bytes(stream.read_into(bytearray(IDX_MAGIC_BYTES)))
    if len(magic_bytes) < IDX_MAGIC_BYTES:
        raise DataError(
            f"truncated: {len(magic_bytes)} bytes, too short for the "
            f"{IDX_MAGIC_BYTES}-byte IDX magic number"
        )
    magic = int.from_bytes(magic_bytes, "big")
    data_type, ndim = magic_bytes[2], magic_bytes[3]
    if expected_ndim is not None:
        expected_magic = IDX_UNSIGNED_BYTE << 8 | expected_ndim
        if magic != expected_magic:
            noun = IDX_ITEM_NOUNS.get(expected_ndim, "arrays")
            raise DataError(
                f"wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
                f"(IDX unsigned-byte {expected_ndim}-D {noun})"
            )
    elif magic_bytes[:2] != b"\0\0":
        raise DataError(
            f"wrong magic number 0x{magic:08x}: not an IDX file (its first two bytes must be 0)"
        )
    elif data_type != IDX_UNSIGNED_BYTE:
        type_name = IDX_TYPE_NAMES.get(data_type, "unknown type")
        raise DataError(
            f"unsupported IDX data type 0x{data_type:02x} ({type_name}) in magic number "
            f"0x{magic:08x}; only unsigned bytes (0x{IDX_UNSIGNED_BYTE:02x}) are supported"
        )
    elif ndim == 0:
        raise DataError(f"magic number 0x{magic:08x} declares 0 dimensions")
    dims_bytes = stream.read_into(bytearray(IDX_DIMENSION_BYTES * ndim))
    if len(dims_bytes) < IDX_DIMENSION_BYTES * ndim:
        header_bytes = IDX_MAGIC_BYTES + IDX_DIMENSION_BYTES * ndim
        raise DataError(
            f"truncated: {IDX_MAGIC_BYTES + len(dims_bytes)} bytes, too short for the "
            f"{header_bytes}-byte header of a {ndim}-D IDX file"
        )
    return struct.unpack(f">{ndim}I", dims_bytes)


def _check_plausible_size(dims: tuple[int, ...], expected_bytes: int, stored_bytes: int) -> None:
    """Raise DataError if the declared content cannot be right, before reading any of it.

    `stored_bytes` is the size of the file on disk: the content it holds is at most that
    (raw) or MAX_DEFLATE_RATIO times that (gzip), and never more than MAX_IDX_DATA_BYTES.
    """
    if expected_bytes > MAX_IDX_DATA_BYTES:
        raise DataError(
            f"header says {_describe_dims(dims)} ({expected_bytes} bytes), more than the"
            f" {MAX_IDX_DATA_BYTES // 2**20} MB an IDX file may hold here"
        )
    if expected_bytes > stored_bytes * MAX_DEFLATE_RATIO:
        raise DataError(
            f"truncated: header says {_describe_dims(dims)} ({expected_bytes} bytes) but the"
            f" file has only {stored_bytes} bytes"
        )


def _describe_dims(dims: tuple[int, ...]) -> str:
    """Return e.g. "60000 images of 28x28" or "60000 labels" for IDX dimensions."""
    count, *item_shape = dims
    noun = IDX_ITEM_NOUNS.get(len(dims), "items")
    if not item_shape:
        return f"{count} {noun}"
    return f"{count} {noun} of {'x'.join(map(str, item_shape))}"


def _require_mnist_file(folder: Path, name: str) -> Path:
    """Return the path of MNIST file `name` in `folder`; raise DataError if it is missing."""
    if not folder.is_dir():
        raise DataError(f"MNIST data folder {folder} does not exist; {DOWNLOAD_HINT}")
    path = find_mnist_file(folder, name)
    if path is None:
        raise DataError(
            f"{name} (or uncompressed {name.removesuffix(GZIP_SUFFIX)}) not found in {folder}; "
            f"{DOWNLOAD_HINT}"
        )
    return path


def _check_labels(path: Path, labels: bytes) -> None:
    """Raise DataError naming `path` if any label byte is not a digit 0..9."""
    if labels and max(labels) >= DIGIT_CLASSES:
        index, label = next((i, value) for i, value in enumerate(labels) if value >= DIGIT_CLASSES)
        raise DataError(f"{path}: label {label} at index {index} is outside 0..{DIGIT_CLASSES - 1}")
