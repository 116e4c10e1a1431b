"""Which networks the drawing tab can use, and how one reads a drawing (no Tk here).

`ModelCatalogue` is the model picker's list: the shipped default and classic models, the models
taught the person's drawings ("Default + my digits", saved in the per-user models folder), files
the person opened and networks handed over by the training tab. `read_digit` runs a drawing
through the engine's preprocessing and the network and keeps everything the tab shows;
`DigitReader` does it through the engine's fast path.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from engine.inference import FloatPredictor, Predictor, predictor
from engine.modelfile import CLASSIC_MODEL_PATH, DEFAULT_MODEL_PATH, ModelFileError, load_model
from engine.network import Network, normalise_probabilities
from engine.preprocess import (
    NothingDrawn,
    Preprocessed,
    TooSmallToRead,
    preprocess_image,
)

DEFAULT_LABEL = "Shipped default"
CLASSIC_LABEL = "Classic 784-16-16-10"
NO_MODEL_LABEL = "No model found"
TAUGHT_SUFFIX = " + my digits"
TAUGHT_FILE_SUFFIX = "-my-digits.json"
SHORT_LABELS = {DEFAULT_LABEL: "Default", CLASSIC_LABEL: "Classic"}
# Activations with a fixed output range are shown against that range; unbounded ones (ReLU)
# against the layer's largest value for the current drawing.
BOUNDED_ACTIVATIONS = ("sigmoid", "tanh")
# Short enough for one line of a Tk message box's detail text (about 36 characters wide).
SHORT_PATH_CHARACTERS = 30


@dataclass
class ModelEntry:
    """One line of the model picker: a label and its network, loaded on first use."""

    label: str
    path: Path | None
    network: Network | None = None

    def load(self) -> Network:
        """Return the network, reading it from its file the first time (ModelFileError)."""
        if self.network is None:
            assert self.path is not None, "an entry without a file always holds its network"
            self.network = load_model(self.path)
        return self.network


@dataclass(frozen=True)
class TeachBase:
    """What "Teach the model my digits" starts from and makes: the network to teach, its file
    name (recorded in the taught model), where the taught model goes and its picker label."""

    network: Network
    base_name: str
    out_path: Path
    label: str


@dataclass(frozen=True)
class Reading:
    """What the network made of one drawing: every stage the drawing tab displays."""

    preprocessed: Preprocessed
    hidden_activations: list[list[float]]
    probabilities: list[float]
    digit: int
    confidence: float


class ModelCatalogue:
    """Keep the picker's entries in order: shipped models first, then opened or trained ones."""

    def __init__(self, models_dir: Path | None = None, taught_dir: Path | None = None) -> None:
        """List the shipped models of models_dir (default: models/) that exist, then the
        models taught from them found in taught_dir (the per-user models folder)."""
        default_path = DEFAULT_MODEL_PATH
        classic_path = CLASSIC_MODEL_PATH
        if models_dir is not None:
            default_path = models_dir / DEFAULT_MODEL_PATH.name
            classic_path = models_dir / CLASSIC_MODEL_PATH.name
        self.entries = [
            ModelEntry(label, path)
            for label, path in ((DEFAULT_LABEL, default_path), (CLASSIC_LABEL, classic_path))
            if path.is_file()
        ]
        self.shipped = list(self.entries)
        self.taught_dir = taught_dir
        if taught_dir is not None:
            for shipped in self.shipped:
                taught = taught_dir / taught_file_name(shipped)
                if taught.is_file():
                    self.entries.append(ModelEntry(taught_label(shipped.label), taught))

    @property
    def labels(self) -> list[str]:
        """Return the entry labels in picker order."""
        return [entry.label for entry in self.entries]

    def entry(self, label: str) -> ModelEntry:
        """Return the entry with this label (KeyError if there is none)."""
        for entry in self.entries:
            if entry.label == label:
                return entry
        raise KeyError(label)

    def add_file(self, path: Path) -> ModelEntry:
        """Load a model file and return its entry, added or refreshed (ModelFileError).

        Nothing is added when the file cannot be loaded.
        """
        return self.add_loaded_file(path, load_model(path))

    def add_loaded_file(self, path: Path, network: Network) -> ModelEntry:
        """Add (or refresh) the entry of a model file already loaded, e.g. by `ModelLoad`."""
        return self._put(ModelEntry(file_label(path), path, network))

    def add_network(self, network: Network, label: str) -> ModelEntry:
        """Add a network under label, replacing an earlier entry of the same label."""
        return self._put(ModelEntry(label, None, network))

    def add_taught(self, path: Path, network: Network, label: str) -> ModelEntry:
        """Add (or refresh) a model taught my digits, saved at path, under label."""
        return self._put(ModelEntry(label, path, network))

    def teaching_base(self, current: ModelEntry) -> ModelEntry:
        """Return the entry teaching starts from: current, or the shipped model it was taught
        from when current is itself a taught model (so teaching again never compounds)."""
        for shipped in self.shipped:
            if current.label == taught_label(shipped.label):
                return shipped
        return current

    def first_loadable(self) -> tuple[ModelEntry | None, list[str]]:
        """Return the first entry whose file loads, and a message for each one that failed."""
        problems = []
        for entry in self.entries:
            try:
                entry.load()
            except ModelFileError as error:
                problems.append(f"{entry.label}: {error}")
            else:
                return entry, problems
        return None, problems

    def _put(self, new_entry: ModelEntry) -> ModelEntry:
        """Insert new_entry, replacing the entry with the same label in place."""
        for index, entry in enumerate(self.entries):
            if entry.label == new_entry.label:
                self.entries[index] = new_entry
                return new_entry
        self.entries.append(new_entry)
        return new_entry


class ModelLoad:
    """Load one model file on a daemon thread, so a big file never freezes the window.

    The Tk side calls `poll()` from `after()` until it returns the network or the
    ModelFileError; the thread touches no widget.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._outcome: queue.SimpleQueue[Network | ModelFileError] = queue.SimpleQueue()
        threading.Thread(target=self._load, name="digits-open-model", daemon=True).start()

    def poll(self) -> Network | ModelFileError | None:
        """Return the loaded network or the error once the load has ended, else None."""
        try:
            return self._outcome.get_nowait()
        except queue.Empty:
            return None

    def _load(self) -> None:
        try:
            self._outcome.put(load_model(self.path))
        except ModelFileError as error:
            self._outcome.put(error)


def dialog_text(error: ModelFileError, consequence: str = "") -> tuple[str, str]:
    """Return (message, detail) for an error dialog about a model file.

    The message is the plain-words summary (then `consequence`, e.g. what the app does
    instead); the detail gives the technical reason with the file's name, then its folder
    on a line of its own, shortened so that a dialog never has to break it mid-word.
    """
    path = error.path
    technical = str(error).replace(str(path), f"“{short_text(path.name)}”")
    message = f"{error.summary} {consequence}".strip()
    return message, f"{technical}\n\nFolder: {short_text(str(path.parent))}"


def short_text(text: str, limit: int = SHORT_PATH_CHARACTERS) -> str:
    """Return text unchanged if it has at most `limit` characters, else its two ends around …."""
    if len(text) <= limit:
        return text
    keep = limit - 1
    return text[: keep // 3] + "…" + text[len(text) - (keep - keep // 3) :]


def taught_label(base_label: str) -> str:
    """Return the picker label of a model taught my digits from base_label's model."""
    return SHORT_LABELS.get(base_label, base_label) + TAUGHT_SUFFIX


def taught_file_name(base: ModelEntry) -> str:
    """Return the file name of a model taught my digits from base (e.g. default-my-digits.json)."""
    stem = base.path.stem if base.path is not None else "trained"
    return stem + TAUGHT_FILE_SUFFIX


def file_label(path: Path) -> str:
    """Return the picker label of an opened model file: its name and its folder."""
    return f"{path.name} ({path.parent.name or path.parent})"


def describe_model(network: Network | None) -> str:
    """Return one line on a model: architecture, activation and test accuracy if known."""
    if network is None:
        return "No model loaded: open a model file or train one on the Train tab."
    parts = [network.architecture, f"{network.activation} hidden units"]
    if network.loss == "mse":
        parts.append("sigmoid outputs (MSE)")
    accuracy = network.metadata.get("test_accuracy")
    # Metadata comes from the file: show only a fraction that makes sense.
    if isinstance(accuracy, int | float) and 0 <= accuracy <= 1 and math.isfinite(accuracy):
        parts.append(f"test accuracy {accuracy:.1%}")
    else:
        parts.append("test accuracy unknown")
    return " · ".join(parts)


def activation_full_scale(network: Network) -> float | None:
    """Return the activation shown at full brightness: 1 for sigmoid/tanh, None if unbounded."""
    return 1.0 if network.activation in BOUNDED_ACTIVATIONS else None


class DigitReader:
    """Read drawings with one network, through the engine's fast path once it is ready.

    Packing a network for the fast path (`engine.inference.predictor`: about half a second for
    784-1024-10) starts with the first drawing that has ink, so starting the app or opening
    another tab never waits for it, and runs on a daemon thread that touches no widget; until
    it is done drawings are read with floats, on the same 4-level inputs. The fast path reads
    a 784-1024-10 drawing in about 0.4 ms instead of 25 ms.
    """

    def __init__(self, network: Network) -> None:
        self.network = network
        self._packed: queue.SimpleQueue[Predictor] = queue.SimpleQueue()
        self._packing: threading.Thread | None = None
        self._predictor: Predictor = FloatPredictor(network)
        self._ready = False

    def start_packing(self) -> None:
        """Start packing the network for the fast path, unless it has started already."""
        if self._packing is None:
            self._packing = threading.Thread(
                target=lambda: self._packed.put(predictor(self.network)),
                name="digits-pack-model",
                daemon=True,
            )
            self._packing.start()

    def wait_until_ready(self, timeout_seconds: float) -> bool:
        """Start packing if needed and wait up to timeout_seconds for it; return True if
        drawings are now read through the fast path."""
        self.start_packing()
        if not self._ready:
            try:
                self._predictor = self._packed.get(timeout=timeout_seconds)
            except queue.Empty:
                return False
            self._ready = True
        return True

    def read(self, image: Image.Image) -> Reading | None:
        """Return what the network reads in image (see `read_digit`), fast once it is ready."""
        reading = read_digit(self.network, image, self._predictor.forward)
        if reading is not None and not self._ready:
            self.wait_until_ready(0)  # starts packing at the first ink, or picks up the result
        return reading


def read_digit(
    network: Network, image: Image.Image, forward: Callable[[bytes], list[list[float]]]
) -> Reading | None:
    """Return what the network reads in image, or None if nothing is drawn on it.

    The image goes through the engine's own preprocessing (crop, fit to 20 px, centre of mass
    to the middle of 28×28), exactly like every image the model was trained and tested on.
    `forward` is the network's predictor's (`engine.inference`): it maps the 784 preprocessed
    pixels to every layer's activations, inputs first, on the 4-level inputs the CLI and the
    benchmarks read too.
    """
    try:
        preprocessed = preprocess_image(image)
    except NothingDrawn:
        return None
    layers = forward(preprocessed.pixels)
    outputs = layers[-1]
    # Sigmoid outputs of an MSE model are independent scores; bars must still sum to 1.
    probabilities = normalise_probabilities(outputs) if network.loss == "mse" else outputs
    digit = max(range(len(probabilities)), key=probabilities.__getitem__)
    return Reading(preprocessed, layers[1:-1], probabilities, digit, probabilities[digit])


def too_small_to_read(image: Image.Image) -> bool:
    """Return True if image holds ink, but only a speck or a dot (no reading, "draw bigger")."""
    try:
        preprocess_image(image)
    except TooSmallToRead:
        return True
    except NothingDrawn:
        return False
    return False
