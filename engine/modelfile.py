"""Save and load networks as Digits model files: one documented, versioned, validated format.

Model file format, version 1
============================

A model file is one JSON document (UTF-8, at most 64 MB). Never pickle, never code: loading a
file only parses JSON and decodes base64, and every field is checked before it is used.

Top level (an object; keys may come in any order)::

    {
      "format": "digits-model",          always this string: what the file is
      "version": 1,                      integer; see "Versions" below
      "architecture": {
        "layer_sizes": [784, 128, 10],   integers: 784 inputs first, 10 outputs last,
                                         2 to 8 layers of 1 to 4096 units each
        "activation": "relu",            hidden layers: "sigmoid", "tanh", "relu" or "leaky_relu"
        "loss": "cross_entropy"          "cross_entropy" (softmax outputs) or "mse" (sigmoid
                                         outputs), the loss the network was trained with
      },
      "input": {                         how an image becomes the 784 inputs; version 1 allows
        "width": 28,                     only these values
        "height": 28,
        "scale": 0.00392156862745098,    1/255: input = pixel byte × scale, in [0, 1]
        "ink": "high",                   0 = background, 255 = full ink (as in the MNIST files)
        "preprocessing": "mnist-centre-of-mass-20px"
                                         crop to the ink, scale the longer side to 20 px, put
                                         the centre of mass at the centre of the 28×28 frame
                                         (`engine.preprocess.preprocess_image`)
      },
      "training": { ... },               optional object of JSON values describing how the
                                         model was made (see below); restored as
                                         `Network.metadata`
      "parameters": [                    one entry per layer after the input, in order
        {
          "weights": {"shape": [out, in], "dtype": "float32-le", "data": "<base64>"},
          "biases":  {"shape": [out],     "dtype": "float32-le", "data": "<base64>"}
        },
        ...
      ]
    }

Tensors: `data` is standard base64 (RFC 4648, with padding) of the values as IEEE 754 float32,
little-endian, row-major: weights[j][i] (from unit i of the layer below to unit j of the layer
above) is value number j·in + i. It must decode to exactly 4 × (product of shape) bytes, and
every value must be finite (no NaN or infinity). A 784-128-10 model is about 0.55 MB.

Training metadata, as written by the engine (every key optional; readers must not rely on any):
`epochs`, `learning_rate`, `batch_size`, `momentum`, `weight_decay`, `schedule`, `augment`,
`seed`, `train_images`, `train_seconds`, `test_accuracy` (0..1), `date` (ISO 8601, when the
model was trained or, failing that, first saved), `python` (the version that trained it).
`save_model` fills in `date` and `python` when the network's metadata lacks them.

Versions: a reader refuses a file whose version is newer than the one it knows, asking to
update Digits, and ignores keys it does not know, so a writer may add informational keys
without a new version. Anything an older reader would misread gets a new version number.

Errors: `load_model` raises `ModelFileError` for every problem (missing, unreadable, too big,
not JSON, truncated, wrong tag or version, a missing or mistyped field, an unsupported
architecture or input, a wrong shape, bad base64, a non-finite value), naming the file and
the field. `save_model` writes atomically: the old file stays whole until the new one is
complete on disk. Saving to a symbolic link replaces the file the link points to (the link
stays); a read-only file is never replaced.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import platform
import re
import reprlib
import signal
import stat
import sys
import tempfile
import threading
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from engine.atomicfile import write_text_atomically
from engine.distribution import MODELS_PACKAGE, shipped_folder
from engine.network import Network, check_architecture, format_architecture
from engine.regularfile import NotRegularFile, kind_name, open_regular

FORMAT_TAG = "digits-model"
FORMAT_VERSION = 1
DTYPE = "float32-le"
FLOAT32_BYTES = 4
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_LAYERS = 8
# A model file nests four levels deep; this many refuses hostile nesting the same way on every
# Python (the JSON parser's own limit differs between versions).
MAX_JSON_DEPTH = 32
JSON_BRACKET_OR_STRING = re.compile(r'[\[\]{}]|"[^"\\]*(?:\\.[^"\\]*)*"')
INPUT_SPEC = {
    "width": 28,
    "height": 28,
    "scale": 1 / 255,
    "ink": "high",
    "preprocessing": "mnist-centre-of-mass-20px",
}
TEMP_SUFFIX = ".tmp"
WRITE_PERMISSION_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
SHIPPED_MODELS_DIR = shipped_folder(MODELS_PACKAGE)
DEFAULT_MODEL_PATH = SHIPPED_MODELS_DIR / "default.json"
CLASSIC_MODEL_PATH = SHIPPED_MODELS_DIR / "classic.json"


# What went wrong, in plain words for people: `ModelFileError.summary`.
SHORT_REPR = reprlib.Repr()
SHORT_REPR.maxlevel = 2
SUMMARY_MISSING = "The model file does not exist."
SUMMARY_UNREADABLE = "Digits cannot read this file."
SUMMARY_NOT_A_FILE = "This is not an ordinary file, so Digits does not open it."
SUMMARY_TOO_BIG = "This file is too big to be a Digits model."
SUMMARY_NOT_A_MODEL = "This file is not a Digits model."
SUMMARY_DAMAGED = "This model file is damaged or incomplete."
SUMMARY_NEWER = "This model was made by a newer Digits. Update Digits to open it."
SUMMARY_CANNOT_SAVE = "Digits cannot save the model there."
# Python's own limit (4300 digits) would raise ValueError anyway; no real number needs 400.
MAX_NUMBER_DIGITS = 400


class ModelFileError(Exception):
    """Raised for any model file that cannot be read, saved or trusted; the message says why.

    str(error) is one line naming the file and the technical reason (the CLI prints it);
    `summary` says what went wrong in plain words without the file name (dialogs show it
    first, the details below), and `path` is the file.
    """

    def __init__(self, message: str, summary: str, path: Path) -> None:
        super().__init__(message)
        self.summary = summary
        self.path = path


class _Invalid(Exception):
    """A problem found inside a parsed document; `load_model` adds the file name."""


def save_model(network: Network, path: str | os.PathLike) -> None:
    """Write the network to `path` as a version-1 model file, atomically.

    The file is written to a temporary file in the same folder, flushed to disk and renamed
    over `path`, so `path` holds either the old or the new model, never half of one. When
    `path` is a symbolic link, the file it points to is replaced and the link kept. A
    read-only existing file is not replaced. Ctrl+C during the write is held until the file
    is complete (then raised as usual), and the temporary file is removed on any failure.
    Raises ModelFileError when the network has non-finite parameters or metadata that is not
    JSON, or when the file cannot be written.
    """
    path = Path(path)
    target = _save_target(path)
    try:
        text = json.dumps(_document(network), indent=1, allow_nan=False)
    except _Invalid as error:
        raise ModelFileError(
            f"cannot save the model to {path}: {error}", SUMMARY_CANNOT_SAVE, path
        ) from None
    try:
        with _interrupts_held():
            write_text_atomically(target, text)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ModelFileError(
            f"cannot save the model to {path}: {reason}", SUMMARY_CANNOT_SAVE, path
        ) from None


def check_save_destination(path: str | os.PathLike) -> Path:
    """Return the file a save to `path` would replace; raise ModelFileError if it cannot.

    Checks, before any long work, what `save_model` would find: the folder exists and can
    be written (a temporary file is created and removed there), and `path` is not a folder,
    a special file or a read-only file. A symbolic link is followed to its target.
    """
    path = Path(path)
    target = _save_target(path)
    try:
        descriptor, probe = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent
        )
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise ModelFileError(
            f"cannot save the model to {path}: cannot write in the folder {target.parent}"
            f" ({error.strerror or error})",
            SUMMARY_CANNOT_SAVE,
            path,
        ) from None
    return target


def _save_target(path: Path) -> Path:
    """Return the file to replace when saving to `path`; raise ModelFileError if unusable."""
    target = Path(os.path.realpath(path))
    problem = None
    if not target.parent.is_dir():
        problem = f"the folder {target.parent} does not exist"
    elif target.is_dir():
        problem = "it is a folder; give a file name"
    elif target.exists():
        try:
            mode = target.stat().st_mode
        except OSError as error:
            raise ModelFileError(
                f"cannot save the model to {path}: {error.strerror or error}",
                SUMMARY_CANNOT_SAVE,
                path,
            ) from None
        if not stat.S_ISREG(mode):
            problem = f"it is {kind_name(mode)}, not a file"
        elif not mode & WRITE_PERMISSION_BITS:
            problem = "the file is read-only; make it writable or choose another name"
    if problem is not None:
        raise ModelFileError(
            f"cannot save the model to {path}: {problem}", SUMMARY_CANNOT_SAVE, path
        )
    return target


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold SIGINT (Ctrl+C) until the block ends, then act on it as the old handler would.

    Only the main thread receives signals, so elsewhere this does nothing.
    """
    # getsignal is None for a handler installed outside Python, which cannot be restored.
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is None
    ):
        yield
        return
    received: list[tuple[int, object]] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append((number, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received and callable(previous):
        previous(*received[0])
    elif received and previous == signal.SIG_DFL:
        raise KeyboardInterrupt


def load_model(path: str | os.PathLike) -> Network:
    """Read and validate the model file at `path`; return its network with its metadata.

    Raises ModelFileError, naming the file and what is wrong, for any problem.
    """
    path = Path(path)
    document = _read_document(path)
    if not isinstance(document, dict) or document.get("format") != FORMAT_TAG:
        found = document.get("format") if isinstance(document, dict) else None
        detail = f'its "format" is {_shorten(found)}' if found is not None else "no format tag"
        raise ModelFileError(
            f'{path} is not a Digits model file ({detail}; expected "format": "{FORMAT_TAG}")',
            SUMMARY_NOT_A_MODEL,
            path,
        )
    version = document.get("version")
    if _is_integer(version) and version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was made by a newer Digits (model format version {version}; this one reads"
            f" version {FORMAT_VERSION}): update Digits to open it",
            SUMMARY_NEWER,
            path,
        )
    try:
        if version != FORMAT_VERSION or not _is_integer(version):
            raise _Invalid(f'unsupported "version" {_shorten(version)} (expected {FORMAT_VERSION})')
        return _network(document)
    except _Invalid as error:
        raise ModelFileError(
            f"{path} is not a valid Digits model file: {error}", SUMMARY_DAMAGED, path
        ) from None


def _read_document(path: Path) -> object:
    """Return the parsed JSON of the file, checking its kind and size before reading it."""
    try:
        with open_regular(path) as file:
            size = os.fstat(file.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise ModelFileError(
                    f"{path} is not a Digits model file: it is {size / 2**20:.1f} MB, more than"
                    f" the {MAX_FILE_BYTES // 2**20} MB a model file may have",
                    SUMMARY_TOO_BIG,
                    path,
                )
            # One byte past the size, to notice a file growing after the check; not the limit,
            # which would make Python set aside 64 MB for every read.
            data = file.read(size + 1)
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist", SUMMARY_MISSING, path) from None
    except NotRegularFile as error:
        raise ModelFileError(
            f"cannot read model file {path}: {error.strerror}", SUMMARY_NOT_A_FILE, path
        ) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ModelFileError(
            f"cannot read model file {path}: {reason}", SUMMARY_UNREADABLE, path
        ) from None

    def damaged(reason: str) -> ModelFileError:
        return ModelFileError(f"{path} is not a Digits model file: {reason}", SUMMARY_DAMAGED, path)

    if len(data) > size:
        raise ModelFileError(
            f"{path} is not a Digits model file: it grew while being read",
            SUMMARY_UNREADABLE,
            path,
        )
    if not data.strip():
        raise damaged("it is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ModelFileError(
            f"{path} is not a Digits model file: byte {error.start} is not UTF-8 text",
            SUMMARY_NOT_A_MODEL,
            path,
        ) from None
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise damaged("its JSON is nested too deeply to be a model")
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except RecursionError:
        raise damaged("its JSON is nested too deeply to be a model") from None
    except ValueError as error:
        if not isinstance(error, json.JSONDecodeError):
            raise damaged(str(error)) from None
        # A cut-off file fails at its very end, or inside a string that never closes.
        if error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string"):
            raise damaged(f"the JSON ends early at byte {len(data)} (truncated?)") from None
        raise damaged(
            f"invalid JSON at line {error.lineno}, column {error.colno} ({error.msg})"
        ) from None


def _json_depth(text: str) -> int:
    """Return how deeply the JSON `text` nests arrays and objects, skipping brackets in strings."""
    depth = deepest = 0
    for match in JSON_BRACKET_OR_STRING.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _finite_float(text: str) -> float:
    """Return the JSON number `text` as a float; raise ValueError if it overflows to infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


def _bounded_int(text: str) -> int:
    """Return the JSON integer `text`; raise ValueError for one no model could need."""
    if len(text) > MAX_NUMBER_DIGITS:
        raise ValueError(f"a {len(text)}-digit integer is too large")
    return int(text)


def _reject_constant(name: str) -> None:
    """Raise ValueError for NaN and Infinity, which Python's JSON reader accepts but JSON lacks."""
    raise ValueError(f"{name} is not a JSON number")


def _network(document: dict) -> Network:
    """Return the network a version-1 document describes (raises _Invalid)."""
    architecture = _field(document, "architecture", dict, "architecture")
    layer_sizes = _field(architecture, "layer_sizes", list, "architecture.layer_sizes")
    if not all(_is_integer(size) for size in layer_sizes):
        raise _Invalid(f'"architecture.layer_sizes" must be integers, got {_shorten(layer_sizes)}')
    if len(layer_sizes) > MAX_LAYERS:
        raise _Invalid(
            f'"architecture.layer_sizes" has {len(layer_sizes)} layers; at most {MAX_LAYERS}'
            " are allowed"
        )
    activation = _field(architecture, "activation", str, "architecture.activation")
    loss = _field(architecture, "loss", str, "architecture.loss")
    try:
        check_architecture(layer_sizes, activation, loss)
    except ValueError as error:
        raise _Invalid(f'"architecture": {error}') from None
    _check_input(_field(document, "input", dict, "input"))
    metadata = document.get("training", {})
    if not isinstance(metadata, dict):
        raise _Invalid(f'"training" must be an object, got {_type_name(metadata)}')
    parameters = _field(document, "parameters", list, "parameters")
    layer_count = len(layer_sizes) - 1
    if len(parameters) != layer_count:
        raise _Invalid(
            f'"parameters" has {len(parameters)} layers but the architecture'
            f" {format_architecture(layer_sizes)} needs {layer_count}"
        )
    weights, biases = [], []
    for index, (layer, fan_in, fan_out) in enumerate(zip(parameters, layer_sizes, layer_sizes[1:])):
        name = f"parameters[{index}]"
        if not isinstance(layer, dict):
            raise _Invalid(f'"{name}" must be an object, got {_type_name(layer)}')
        flat_weights = _tensor(layer, "weights", [fan_out, fan_in], name)
        weights.append([flat_weights[j * fan_in : (j + 1) * fan_in] for j in range(fan_out)])
        biases.append(_tensor(layer, "biases", [fan_out], name))
    return Network(list(layer_sizes), activation, loss, weights, biases, dict(metadata))


def _check_input(spec: dict) -> None:
    """Raise _Invalid unless the input section describes this engine's MNIST-style input."""
    for key, expected in INPUT_SPEC.items():
        value = spec.get(key)
        if isinstance(expected, float):
            matches = isinstance(value, (int, float)) and math.isclose(value, expected)
        else:
            matches = type(value) is type(expected) and value == expected
        if not matches:
            raise _Invalid(
                f'"input.{key}" is {_shorten(value)}; this Digits only reads models whose input has'
                f" {key} {expected!r}"
            )


def _tensor(layer: dict, key: str, shape: list[int], layer_name: str) -> list[float]:
    """Return the decoded values (row-major, as floats) of one tensor, checked against shape."""
    name = f"{layer_name}.{key}"
    tensor = _field(layer, key, dict, name)
    found_shape = _field(tensor, "shape", list, f"{name}.shape")
    if found_shape != shape or not all(_is_integer(size) for size in found_shape):
        raise _Invalid(
            f'"{name}.shape" is {_shorten(found_shape)} but the architecture needs {shape}'
            " ([units above, units below] for weights)"
        )
    dtype = _field(tensor, "dtype", str, f"{name}.dtype")
    if dtype != DTYPE:
        raise _Invalid(f'"{name}.dtype" is {_shorten(dtype)}; only {DTYPE!r} is supported')
    encoded = _field(tensor, "data", str, f"{name}.data")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise _Invalid(f'"{name}.data" is not valid base64 ({error})') from None
    expected_bytes = math.prod(shape) * FLOAT32_BYTES
    if len(raw) != expected_bytes:
        raise _Invalid(
            f'"{name}.data" decodes to {len(raw)} bytes, but shape {shape} of float32 needs'
            f" {expected_bytes}"
        )
    values = array("f")
    values.frombytes(raw)
    if sys.byteorder == "big":
        values.byteswap()
    # A float64 sum of float32 values cannot overflow, so it is finite iff every value is.
    if not math.isfinite(sum(values)):
        position = next(i for i, value in enumerate(values) if not math.isfinite(value))
        raise _Invalid(f'"{name}" value number {position} is {values[position]} (not finite)')
    return values.tolist()


def _field(container: dict, key: str, kind: type, name: str) -> object:
    """Return container[key] if present and of type kind; raise _Invalid naming the field."""
    if key not in container:
        raise _Invalid(f'"{name}" is missing')
    value = container[key]
    if not isinstance(value, kind):
        raise _Invalid(
            f'"{name}" must be {_type_name(kind())}, got {_type_name(value)} {_shorten(value)}'
        )
    return value


def _document(network: Network) -> dict:
    """Return the version-1 document of a network (raises _Invalid for unsavable content)."""
    try:
        check_architecture(network.layer_sizes, network.activation, network.loss)
    except ValueError as error:
        raise _Invalid(str(error)) from None
    if len(network.layer_sizes) > MAX_LAYERS:
        raise _Invalid(f"a model file holds at most {MAX_LAYERS} layers")
    training = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        **network.metadata,
    }
    for key, value in training.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise _Invalid(f"metadata {key!r} is not a finite JSON value ({error})") from None
    parameters = []
    for index, (weights, biases) in enumerate(zip(network.weights, network.biases)):
        fan_out, fan_in = network.layer_sizes[index + 1], network.layer_sizes[index]
        if len(weights) != fan_out or any(len(row) != fan_in for row in weights):
            raise _Invalid(f"layer {index} weights are not {fan_out}×{fan_in}")
        if len(biases) != fan_out:
            raise _Invalid(f"layer {index} has {len(biases)} biases, expected {fan_out}")
        parameters.append(
            {
                "weights": _encode([value for row in weights for value in row], [fan_out, fan_in]),
                "biases": _encode(biases, [fan_out]),
            }
        )
    return {
        "format": FORMAT_TAG,
        "version": FORMAT_VERSION,
        "architecture": {
            "layer_sizes": list(network.layer_sizes),
            "activation": network.activation,
            "loss": network.loss,
        },
        "input": dict(INPUT_SPEC),
        "training": training,
        "parameters": parameters,
    }


def _encode(values: list[float], shape: list[int]) -> dict:
    """Return the tensor object of values (row-major) as base64 little-endian float32."""
    packed = array("f", values)
    # Values beyond the float32 range become infinities here; a file must not hold any.
    if not math.isfinite(sum(packed)):
        raise _Invalid(f"a parameter of shape {shape} is not finite as float32")
    if sys.byteorder == "big":
        packed.byteswap()
    return {"shape": shape, "dtype": DTYPE, "data": base64.b64encode(packed.tobytes()).decode()}


def _is_integer(value: object) -> bool:
    """Return True for a JSON integer (bool is an int in Python but not here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _type_name(value: object) -> str:
    """Return the JSON name of a value's type, e.g. "an object" for a dict."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "true/false"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _shorten(value: object) -> str:
    """Return a short repr of a value for an error message, however big or deep the value."""
    text = SHORT_REPR.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
