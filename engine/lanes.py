"""Many small signed integers packed into one Python int: SIMD within a register.

A `LaneCodec` packs n signed integers v_0 … v_{n-1} into P = Σ v_j · 2^(b·j), with b = 32 or 64
bits a lane. Adding two packed ints adds every lane at once, and multiplying one by a small int
scales every lane, each in a single big-integer operation running at C speed. That is how
`engine.fast` updates a whole row of hidden units per input pixel. Lanes stay exact as long as
every v_j lies in [-2^(b-2), 2^(b-2)); `unpack` raises `LaneOverflow` when a result leaves that
range, a factor of 2 before a lane would really overflow.
Narrow lanes make every operation cheaper (the cost grows with the bits of the int).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

STRUCT_CODES = {32: "i", 64: "q"}
# Precision of `LaneCodec.scale` multipliers: narrow lanes keep more headroom for the product.
SCALE_BITS = {32: 8, 64: 16}


class LaneOverflow(ArithmeticError):
    """Raised when a packed value no longer fits its fixed-point lanes (training diverged)."""


class LaneCodec:
    """Pack and unpack `count` signed lanes of `bits` (32 or 64) bits to and from one int."""

    def __init__(self, count: int, bits: int = 64) -> None:
        self.count = count
        self.bits = bits
        self.limit = 1 << (bits - 2)
        self._struct = struct.Struct(f"<{count}{STRUCT_CODES[bits]}")
        self._bytes = count * bits // 8
        ones = sum(1 << (bits * j) for j in range(count))
        # Adding 2^(b-1) to every lane makes them all non-negative, so no lane borrows from the
        # next; flipping the top bit then turns that biased lane into ordinary two's complement.
        self._top_bits = ones << (bits - 1)
        self._scale_bits = SCALE_BITS[bits]
        self._scale_offset = ones << (bits - self._scale_bits - 2)
        self._scale_mask = ones * ((1 << (bits - self._scale_bits)) - 1)
        self._scale_unit = ones << (bits - 2 * self._scale_bits - 2)
        self._scale_half = ones << (self._scale_bits - 1)
        self._ones = ones
        self._lane_max = (1 << bits) - 1
        self._shift_masks: dict[int, tuple[int, int, int]] = {}
        self._rows_top_bits: dict[int, int] = {}

    def pack(self, values: list[int]) -> int:
        """Return the int whose lanes hold `values` (count ints, each |v| < 2^(bits-2))."""
        try:
            raw = self._struct.pack(*values)
        except struct.error as error:
            raise LaneOverflow(f"value does not fit a {self.bits}-bit lane: {error}") from None
        return (int.from_bytes(raw, "little") ^ self._top_bits) - self._top_bits

    def unpack(self, packed: int) -> tuple[int, ...]:
        """Return the count lane values of `packed`; raise LaneOverflow if any leaves the range."""
        top = self._top_bits
        biased = packed + top
        # A lane v lies in [-2^(b-2), 2^(b-2)) exactly when the two top bits of v + 2^(b-1)
        # differ: three big-integer operations check every lane at once.
        if (biased ^ (biased << 1)) & top != top:
            raise LaneOverflow("a lane came within a factor of 2 of overflowing")
        try:
            raw = (biased ^ top).to_bytes(self._bytes, "little")
        except OverflowError:
            raise LaneOverflow("packed value overflowed its lanes") from None
        return self._struct.unpack(raw)

    def unpack_rows(self, rows: list[int]) -> tuple[int, ...]:
        """Return the lanes of every packed int in `rows`, row after row (len(rows) · count).

        One struct call for all rows, which is much cheaper than unpacking them one by one;
        raises LaneOverflow like `unpack`.
        """
        top, size = self._top_bits, self._bytes
        try:
            raw = b"".join([((row + top) ^ top).to_bytes(size, "little") for row in rows])
        except OverflowError:
            raise LaneOverflow("packed value overflowed its lanes") from None
        # Two's complement lanes in range have equal top two bits: one check for all rows.
        joined = int.from_bytes(raw, "little")
        if (joined ^ (joined << 1)) & self._top_bits_of_rows(len(rows)):
            raise LaneOverflow("a lane came within a factor of 2 of overflowing")
        code = STRUCT_CODES[self.bits]
        return struct.unpack(f"<{len(rows) * self.count}{code}", raw)

    def _top_bits_of_rows(self, row_count: int) -> int:
        """Return the top bit of every lane of row_count rows laid end to end (cached)."""
        top_bits = self._rows_top_bits.get(row_count)
        if top_bits is None:
            one_row = self._top_bits.to_bytes(self._bytes, "little")
            top_bits = int.from_bytes(one_row * row_count, "little")
            self._rows_top_bits[row_count] = top_bits
        return top_bits

    def scale(self, rows: list[int], multiplier: float, dither: int | None = None) -> list[int]:
        """Return each packed int of `rows` with every lane multiplied by `multiplier` (≥ 0).

        The multiplier has 16 fractional bits for 64-bit lanes and 8 for 32-bit lanes, and lanes
        must satisfy |v| < 2^(bits - fraction bits - 2) so the product has room inside its lane.
        A multiplier of 1.5 or more is split into an exact integer multiple times a fraction.
        Used for momentum, which must shrink every lane of every velocity row once a batch.
        """
        whole = max(1, math.ceil(multiplier / 1.5))
        factor = round(multiplier / whole * (1 << self._scale_bits))
        # Rounding down would pull every velocity the same way, batch after batch, and drift the
        # weights; rounding to nearest would let small velocities never decay. Random dither
        # lanes (`scale_dither`) make the rounding unbiased; without them it is to nearest.
        if dither is None:
            dither = self._scale_half
        # ((v + offset) · factor + dither) >> bits, with the constant terms folded in once.
        constant = self._scale_offset * factor + dither
        unit = self._scale_unit * factor
        shift, mask = self._scale_bits, self._scale_mask
        scaled = [((v * factor + constant) >> shift & mask) - unit if v else 0 for v in rows]
        return scaled if whole == 1 else [whole * v for v in scaled]

    def scale_dither(self, source: Callable[[int], int]) -> int:
        """Return random lanes for `scale`'s rounding, drawn from `source(bits)`."""
        return self.random_bits(self._scale_bits, source)

    def sign_mask(self, packed: int) -> int:
        """Return an int with all bits set in the lanes of `packed` that are ≥ 0, 0 elsewhere."""
        biased = packed + self._top_bits
        return ((biased >> (self.bits - 1)) & self._ones) * self._lane_max

    def random_bits(self, shift: int, source: Callable[[int], int]) -> int:
        """Return lanes of uniform random ints in [0, 2^shift), drawn from `source(bits)`."""
        return source(self.count * self.bits) & self._masks(shift)[0]

    def shift(self, packed: int, shift: int, mask: int = -1, dither: int = 0) -> int:
        """Return lanes ⌊(v + d) / 2^shift⌋ where `mask` is set and 0 elsewhere.

        `dither` holds lanes d in [0, 2^shift) (see `random_bits`): with uniform random d the
        result is v / 2^shift stochastically rounded, unbiased. `shift` < bits - 2.
        """
        _, keep_mask, offset = self._masks(shift)
        shifted = ((packed + self._top_bits + dither) >> shift) & keep_mask
        return (shifted & mask) - (offset & mask)

    def _masks(self, shift: int) -> tuple[int, int, int]:
        masks = self._shift_masks.get(shift)
        if masks is None:
            if not 0 <= shift < self.bits - 2:
                raise LaneOverflow(f"cannot shift {self.bits}-bit lanes by {shift} bits")
            masks = (
                self._ones * ((1 << shift) - 1),
                self._ones * ((1 << (self.bits - shift)) - 1),
                self._top_bits >> shift,
            )
            self._shift_masks[shift] = masks
        return masks
