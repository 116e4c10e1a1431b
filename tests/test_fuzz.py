"""Fuzz every file Digits reads from users: model files, IDX files (raw and gzip), images, the
settings file and the drawings of the My digits store.

Each test mutates a valid file with Hypothesis (flipped, inserted, deleted and truncated bytes,
or, for JSON, a field swapped for an arbitrary JSON value) and checks that reading it either
works or ends in the project's own error type with a one-line message: never another
exception, never a hang (Hypothesis' per-example deadline) and within a memory bound
(tracemalloc's peak). Example counts are kept small so that the whole file runs in seconds.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import struct
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from app.settings import SettingsError, parse_settings
from engine.mnist import DataError, read_idx
from engine.modelfile import ModelFileError, load_model, save_model
from engine.mydigits import DigitStore
from engine.network import Network
from engine.preprocess import (
    IMAGE_FORMATS,
    ImageFileError,
    NothingDrawn,
    load_image_file,
    preprocess_image,
)

FUZZ = settings(
    max_examples=int(os.environ.get("DIGITS_FUZZ_EXAMPLES", "60")),
    deadline=3000,  # ms per example: far above any honest read, far below a hang
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
MEMORY_BOUND_BYTES = 64 * 2**20
MESSAGE_MAX_CHARS = 600


@contextmanager
def bounded_memory() -> Iterator[None]:
    """Fail if the block's Python allocations peak above MEMORY_BOUND_BYTES."""
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND_BYTES, f"peak {peak / 2**20:.0f} MB"


def assert_one_line(error: Exception) -> None:
    """Check an error's message is one non-empty line of reasonable length."""
    message = str(error)
    assert message and "\n" not in message and len(message) < MESSAGE_MAX_CHARS, message


# ----- mutations ---------------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """Return `original` after a few random byte-level edits."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[position] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[position:]
        elif kind == "duplicate":
            data[position:position] = data[position : position + draw(st.integers(1, 256))]
    return bytes(data)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def json_with_a_field_replaced(draw: st.DrawFn, document: object) -> bytes:
    """Return `document` as JSON with one value somewhere inside replaced by an arbitrary one."""
    document = json.loads(json.dumps(document))
    container, key = document, None
    path_length = draw(st.integers(0, 4))
    for _ in range(path_length):
        if isinstance(container, dict) and container:
            key = draw(st.sampled_from(sorted(container)))
        elif isinstance(container, list) and container:
            key = draw(st.integers(0, len(container) - 1))
        else:
            break
        if not isinstance(container[key], (dict, list)):
            break
        container = container[key]
        key = None
    replacement = draw(JSON_VALUES)
    if key is None and isinstance(container, dict):
        key = draw(st.sampled_from([*sorted(container), "extra"]))
    if key is None and isinstance(container, list) and container:
        key = draw(st.integers(0, len(container) - 1))
    if key is not None:
        container[key] = replacement
    return json.dumps(document).encode()


# ----- model files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Return the bytes of a valid small model file."""
    path = tmp_path_factory.mktemp("model") / "small.json"
    network = Network.create([784, 3, 10], seed=1)
    network.metadata.update({"epochs": 1, "test_accuracy": 0.5})
    save_model(network, path)
    return path.read_bytes()


def check_model_file(tmp_path: Path, content: bytes) -> None:
    """Load content as a model file: a Network or one ModelFileError, nothing else."""
    path = tmp_path / "fuzzed.json"
    path.write_bytes(content)
    with bounded_memory():
        try:
            network = load_model(path)
        except ModelFileError as error:
            assert_one_line(error)
            assert error.summary and error.path == path
            return
    assert network.layer_sizes[0] == 784 and network.layer_sizes[-1] == 10


@FUZZ
@given(data=st.data())
def test_fuzzed_model_bytes(tmp_path, model_bytes, data):
    check_model_file(tmp_path, data.draw(mutated(model_bytes)))


@FUZZ
@given(data=st.data())
def test_fuzzed_model_fields(tmp_path, model_bytes, data):
    check_model_file(tmp_path, data.draw(json_with_a_field_replaced(json.loads(model_bytes))))


# ----- IDX files ---------------------------------------------------------------------------------


def idx_file(dims: tuple[int, ...], body: bytes) -> bytes:
    """Return an unsigned-byte IDX file for dims, followed by body."""
    return struct.pack(f">I{len(dims)}I", 0x0800 | len(dims), *dims) + body


IDX_ORIGINALS = [
    idx_file((3, 28, 28), bytes(range(256)) * 9 + bytes(48)),
    idx_file((5,), bytes([1, 2, 3, 4, 5])),
]


@FUZZ
@given(
    original=st.sampled_from(IDX_ORIGINALS),
    compress=st.booleans(),
    mutate_after_compression=st.booleans(),
    expected_ndim=st.sampled_from([None, 1, 3]),
    data=st.data(),
)
def test_fuzzed_idx_files(
    tmp_path, original, compress, mutate_after_compression, expected_ndim, data
):
    content = original if mutate_after_compression else data.draw(mutated(original))
    if compress:
        content = gzip.compress(content)
    if mutate_after_compression:
        content = data.draw(mutated(content))
    path = tmp_path / "fuzzed-idx"
    path.write_bytes(content)
    with bounded_memory():
        try:
            array = read_idx(path, expected_ndim=expected_ndim)
        except DataError as error:
            assert_one_line(error)
            return
    count = 1
    for size in array.dims:
        count *= size
    assert len(array.data) == count


@FUZZ
@given(
    dims=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4),
    body=st.binary(max_size=64),
    compress=st.booleans(),
)
def test_idx_headers_declaring_any_size(tmp_path, dims, body, compress):
    content = idx_file(tuple(dims), body)
    path = tmp_path / "declared-idx"
    path.write_bytes(gzip.compress(content) if compress else content)
    with bounded_memory():
        try:
            read_idx(path)
        except DataError as error:
            assert_one_line(error)


# ----- images ------------------------------------------------------------------------------------


def image_bytes(format_name: str) -> bytes:
    """Return a small picture of a digit saved in one of the formats Digits opens."""
    image = Image.new("RGB", (24, 24), "white")
    ImageDraw.Draw(image).line([(4, 4), (20, 4), (10, 21)], fill="black", width=3)
    buffer = io.BytesIO()
    image.save(buffer, format_name)
    return buffer.getvalue()


@FUZZ
@given(format_name=st.sampled_from(IMAGE_FORMATS), data=st.data())
def test_fuzzed_images(tmp_path, format_name, data):
    path = tmp_path / "fuzzed-image"
    path.write_bytes(data.draw(mutated(image_bytes(format_name))))
    with bounded_memory():
        try:
            preprocess_image(load_image_file(path))
        except ImageFileError as error:
            assert_one_line(error)
        except NothingDrawn:
            pass


@FUZZ
@given(data=st.data())
def test_fuzzed_my_digits_drawings(tmp_path, data):
    """A damaged drawing in the My digits store is skipped with a one-line note, never raised."""
    folder = tmp_path / "my-digits"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "7").mkdir(parents=True)
    (folder / "7" / "drawing.png").write_bytes(data.draw(mutated(image_bytes("PNG"))))
    with bounded_memory():
        result = DigitStore(folder).load()
    assert len(result.samples) + len(result.notes) == 1
    for note in result.notes:
        assert note and "\n" not in note


# ----- settings ----------------------------------------------------------------------------------

SETTINGS_ORIGINAL = {
    "version": 1,
    "values": {"epochs": 3, "learning_rate": 0.05, "data_folder": "/home/me/mnist"},
}


def check_settings(content: bytes) -> None:
    """Parse content as a settings file: values or one SettingsError, nothing else."""
    with bounded_memory():
        try:
            values = parse_settings(content)
        except SettingsError as error:
            assert_one_line(error)
            return
    assert isinstance(values, dict)


@FUZZ
@given(data=st.data())
def test_fuzzed_settings_bytes(data):
    check_settings(data.draw(mutated(json.dumps(SETTINGS_ORIGINAL).encode())))


@FUZZ
@given(data=st.data())
def test_fuzzed_settings_fields(data):
    check_settings(data.draw(json_with_a_field_replaced(SETTINGS_ORIGINAL)))
