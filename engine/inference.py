"""Choose how to run a trained network over many images: fast packed lanes when safe, else floats.

The fast path (`engine.fast`) adds fixed-point integers packed side by side in one big int; a
sum that outgrows its lane would spill into the next one and give a wrong answer. A network
from a file may have weights far larger than training ever makes (a valid model all the same),
so before using the fast path `predictor` asks it whether every sum fits its lane for ANY
image; when not, it returns a `FloatPredictor`, which computes the same thing with plain
floats: tens of times slower (8 ms an image for 784-512-10), never wrong. Every reader goes through
here: evaluation, the CLI's predict, the drawn-digits benchmark and the app's reading of
drawings (`app.models.DigitReader`), so all read the same 4-level inputs the same way; training
refuses such a start model.
"""

from __future__ import annotations

from typing import Protocol

from engine.fast import WIDE_LANE_BITS, FastNetwork, quantised_inputs
from engine.lanes import LaneOverflow
from engine.network import Network


class Predictor(Protocol):
    """Anything that returns the 10 outputs of a network for one 784-byte image."""

    def predict(self, pixels: bytes) -> list[float]:
        """Return the 10 output values for one 784-byte image (0..255, ink high)."""
        ...

    def forward(self, pixels: bytes) -> list[list[float]]:
        """Return the inputs, every hidden layer's activations and the outputs for one image."""
        ...


class FloatPredictor:
    """Run a network with floats on the inputs the fast path would see (4 levels a pixel)."""

    def __init__(self, network: Network) -> None:
        self.network = network

    def predict(self, pixels: bytes) -> list[float]:
        """Return the 10 output values for one 784-byte image (0..255, ink high)."""
        return self.network.predict(quantised_inputs(pixels))

    def forward(self, pixels: bytes) -> list[list[float]]:
        """Return the inputs, every hidden layer's activations and the outputs for one image."""
        return self.network.forward(quantised_inputs(pixels))


def predictor(network: Network) -> Predictor:
    """Return the fast path for `network` if no image can overflow its lanes, else floats.

    The first layer is packed in wide lanes at once: whether they hold every image is what
    decides (`FastNetwork.fits_every_image`), and packing only once halves the time this
    takes (about 0.5 s for 784-1024-10) at a few percent of each reading's.
    """
    try:
        fast = FastNetwork(network, first_lane_bits=WIDE_LANE_BITS)
    except LaneOverflow:
        return FloatPredictor(network)
    return fast if fast.fits_every_image() else FloatPredictor(network)
