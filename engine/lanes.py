"""Many small signed integers packed into one Python int: SIMD within a register.

A `LaneCodec` packs n signed integers v_0 … v_{n-1} into P = Σ v_j · 2^(64·j). Adding two packed
ints adds every lane at once, and multiplying one by a small int scales every lane, each in a
single big-integer operation running at C speed. That is how `engine.fast` updates a whole row of
hidden units per input pixel. Lanes stay exact as long as every |v_j| < 2^62 (`LANE_LIMIT`);
`unpack` raises `LaneOverflow` when a result comes near that bound.
"""

from __future__ import annotations

import struct

LANE_BITS = 64
LANE_LIMIT = 1 << 62
SCALE_BITS = 16
SCALE_HEADROOM = 1 << (LANE_BITS - SCALE_BITS - 2)


class LaneOverflow(ArithmeticError):
    """Raised when a packed value no longer fits its fixed-point lanes (training diverged)."""


class LaneCodec:
    """Pack and unpack `count` signed 64-bit lanes to and from one Python int."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._struct = struct.Struct(f"<{count}q")
        self._bytes = count * LANE_BITS // 8
        ones = sum(1 << (LANE_BITS * j) for j in range(count))
        # Adding 2^63 to every lane makes them all non-negative, so no lane borrows from the next;
        # flipping the top bit then turns that biased lane into ordinary two's complement.
        self._top_bits = ones << (LANE_BITS - 1)
        self._scale_offset = ones * SCALE_HEADROOM
        self._scale_mask = ones * ((1 << (LANE_BITS - SCALE_BITS)) - 1)
        self._scale_unit = ones << (LANE_BITS - 2 * SCALE_BITS - 2)

    def pack(self, values: list[int]) -> int:
        """Return the int whose lanes hold `values` (count ints, each |v| < 2^62)."""
        try:
            raw = self._struct.pack(*values)
        except struct.error as error:
            raise LaneOverflow(f"value does not fit a 64-bit lane: {error}") from None
        return (int.from_bytes(raw, "little") ^ self._top_bits) - self._top_bits

    def unpack(self, packed: int) -> tuple[int, ...]:
        """Return the count lane values of `packed`; raise LaneOverflow if any is near 2^62."""
        try:
            raw = ((packed + self._top_bits) ^ self._top_bits).to_bytes(self._bytes, "little")
        except OverflowError:
            raise LaneOverflow("packed value overflowed its lanes") from None
        values = self._struct.unpack(raw)
        if max(values) >= LANE_LIMIT or min(values) <= -LANE_LIMIT:
            raise LaneOverflow("a lane came within a factor of 2 of overflowing")
        return values

    def scale(self, packed: int, multiplier: float) -> int:
        """Return `packed` with every lane multiplied by `multiplier` (0 ≤ m < 2, 16-bit precision).

        Lanes must satisfy |v| < 2^46 so that the product has room inside its lane; results are
        rounded down. Used for momentum, which must shrink every lane of a velocity at once.
        """
        factor = round(multiplier * (1 << SCALE_BITS))
        biased = (packed + self._scale_offset) * factor
        return ((biased >> SCALE_BITS) & self._scale_mask) - self._scale_unit * factor
