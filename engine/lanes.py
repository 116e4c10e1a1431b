"""Many small signed integers packed into one Python int: SIMD within a register.

A `LaneCodec` packs n signed integers v_0 … v_{n-1} into P = Σ v_j · 2^(b·j), with b = 24, 32
or 64 bits a lane. Adding two packed ints adds every lane at once, and multiplying one by a small
int scales every lane, each in a single big-integer operation running at C speed. That is how
`engine.fast` updates a whole row of hidden units per input pixel. Sums are exact whatever
happens on the way: only the final lanes must fit. `unpack` and `relu` raise `LaneOverflow` when
a lane leaves [-2^(b-2), 2^(b-2)), a factor of 2 before it would really overflow.
Narrow lanes make every operation cheaper (the cost grows with the bits of the int): 128 lanes
of 24 bits are 384 bytes, below the 512 bytes above which CPython allocates ints with malloc.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Sequence

LANE_WIDTHS = (24, 32, 64)
# struct has no 3-byte integer: 24-bit lanes are staged through 32-bit ones.
STRUCT_CODES = {24: "i", 32: "i", 64: "q"}
UNSIGNED_CODES = {32: "I", 64: "Q"}
# Precision of `LaneCodec.scale` multipliers: narrow lanes keep more headroom for the product.
SCALE_BITS = {24: 6, 32: 8, 64: 16}
# The sign byte of every byte value: what the fourth byte of a widened 24-bit lane must hold.
SIGN_EXTENSION = bytes(0xFF if value >= 0x80 else 0 for value in range(256))
NARROW_RELU_BITS = 16


class LaneOverflow(ArithmeticError):
    """Raised when a packed value no longer fits its fixed-point lanes (training diverged)."""


class LaneCodec:
    """Pack and unpack `count` signed lanes of `bits` (24, 32 or 64) bits to and from one int."""

    def __init__(self, count: int, bits: int = 64) -> None:
        if bits not in LANE_WIDTHS:
            raise ValueError(f"lanes must be one of {LANE_WIDTHS} bits wide, not {bits}")
        self.count = count
        self.bits = bits
        self.limit = 1 << (bits - 2)
        self._lane_bytes = bits // 8
        self._narrow = bits == 24
        # The smallest `relu` shift for which its lanes are read with one struct call.
        self.min_relu_shift = bits - 1 - NARROW_RELU_BITS if self._narrow else 0
        self._struct = struct.Struct(f"<{count}{STRUCT_CODES[bits]}")
        self._bytes = count * self._lane_bytes
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
        self._shift_masks: dict[int, tuple[int, int, int, int]] = {}
        self._rows_top_bits: dict[int, int] = {}
        self._transposes: dict[tuple[int, int, int], tuple[int, int, int, int, int]] = {}
        self._column_codecs: dict[int, LaneCodec] = {}
        self._relu_readers: dict[int, Callable[[bytes], tuple[int, ...]]] = {}

    def pack(self, values: list[int]) -> int:
        """Return the int whose lanes hold `values` (count ints, each fitting a signed lane)."""
        try:
            raw = self._struct.pack(*values)
        except struct.error as error:
            raise LaneOverflow(f"value does not fit a {self.bits}-bit lane: {error}") from None
        if self._narrow:
            raw = _narrowed(raw)
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
        return self._struct.unpack(_widened(raw) if self._narrow else raw)

    def unpack_rows(self, rows: Sequence[int]) -> tuple[int, ...]:
        """Return the lanes of every packed int in `rows`, row after row (len(rows) · count).

        One struct call for all rows, which is much cheaper than unpacking them one by one;
        raises LaneOverflow like `unpack`.
        """
        raw, _ = self._joined_rows(rows)
        if self._narrow:
            raw = _widened(raw)
        code = STRUCT_CODES[self.bits]
        return struct.unpack(f"<{len(rows) * self.count}{code}", raw)

    def transpose(
        self, rows: Sequence[int], shift: int, target: LaneCodec
    ) -> tuple[list[int], int]:
        """Return `rows` read lane by lane, each lane divided by 2^shift, and the largest |value|.

        Packed int j of the result holds lane j of every row (rounded to nearest, halves up)
        in `target`'s lanes, one per row, so target.count must be len(rows). The rounding and
        the checks work on every lane at once (big-integer operations) and the transposition
        on bytes (slices), so nothing is done lane by lane in Python. Raises LaneOverflow if a
        lane is out of range, or a value out of the range `target.unpack` accepts.
        """
        if target.count != len(rows):
            raise ValueError(f"{len(rows)} rows do not make lanes of a {target.count}-lane codec")
        raw, joined = self._joined_rows(rows)
        all_top_bits = self._top_bits_of_rows(len(rows))
        target_bytes, lane_bytes = target._lane_bytes, self._lane_bytes
        half, keep, offset, fit_half, fit_high = self._transpose_masks(
            len(rows), shift, target_bytes
        )
        biased = joined ^ all_top_bits  # v + 2^(b-1) in every lane: no lane borrows
        if shift:
            # v / 2^shift + 2^(b-1-shift), rounded; the bits shifted in from the next lane are
            # masked off. Then bias it by 2^(b-1) again.
            biased = (((biased + half) >> shift) & keep) + offset
        # v is in the target's range [-2^(t-2), 2^(t-2)) exactly when v + 2^(b-1) + 2^(t-2)
        # has 2^(b-1) in the bits above its low t-1.
        if (biased + fit_half) & fit_high != all_top_bits:
            raise LaneOverflow(f"a value does not fit a {target.bits}-bit lane")
        data = (biased ^ all_top_bits).to_bytes(len(raw), "little")
        stride = self.count * lane_bytes
        columns = [
            int.from_bytes(_column(data, lane * lane_bytes, stride, target_bytes), "little")
            for lane in range(self.count)
        ]
        largest = max(target.unsigned_lanes(target.largest_lanes(columns)))
        top = target._top_bits
        return [(column ^ top) - top for column in columns], largest

    def row_maxima(self, rows: Sequence[int]) -> tuple[int, ...]:
        """Return the largest |lane| of each packed int in `rows`.

        Bit tricks on many lanes at once rather than a comparison per lane: the rows' bytes are
        laid out column by column (one int per lane position, holding that lane of every row,
        as `transpose` does) and folded by `largest_lanes`. Raises LaneOverflow like `unpack`.
        """
        size, lane_bytes = self._bytes, self._lane_bytes
        data = self._row_bytes(rows)
        columns = self._column_codec(len(rows))
        return columns.unsigned_lanes(
            columns.largest_lanes(
                int.from_bytes(_column(data, lane * lane_bytes, size, lane_bytes), "little")
                for lane in range(self.count)
            )
        )

    def largest_lanes(self, values: Iterable[int]) -> int:
        """Return the lane-wise largest |lane| of `values`, as an int of unsigned lanes.

        Each value holds `count` two's complement lanes read from bytes (an unsigned int, not
        a packed one); a few big-integer operations fold each in, whatever the lane count.
        Raises LaneOverflow if a lane leaves the range `unpack` accepts.
        """
        bits, ones, guards = self.bits, self._ones, self._top_bits
        largest = 0
        for value in values:
            # In range, a two's complement lane's top two bits are equal (as in `unpack`).
            if (value ^ (value << 1)) & guards:
                raise LaneOverflow("a lane came within a factor of 2 of overflowing")
            # Negate the negative lanes (flip their bits, add one): |v| ≤ 2^(bits-2) then
            # leaves each lane's top bit free for the comparison.
            signs = (value >> (bits - 1)) & ones
            value = (value ^ ((signs << bits) - signs)) + signs
            # 2^(b-1) + largest - value keeps its top bit exactly where largest ≥ value.
            keep = (((largest | guards) - value) >> (bits - 1)) & ones
            largest = value ^ ((largest ^ value) & ((keep << bits) - keep))
        return largest

    def unsigned_lanes(self, value: int) -> tuple[int, ...]:
        """Return the lanes of an int of unsigned lanes below 2^(bits-1), as `largest_lanes`
        returns."""
        raw = value.to_bytes(self._bytes, "little")
        return self._struct.unpack(_widened(raw) if self._narrow else raw)

    def _column_codec(self, row_count: int) -> LaneCodec:
        """Return a codec of these lanes with one lane per row, for columns of rows (cached)."""
        codec = self._column_codecs.get(row_count)
        if codec is None:
            codec = self._column_codecs[row_count] = LaneCodec(row_count, self.bits)
        return codec

    def _transpose_masks(
        self, row_count: int, shift: int, target_bytes: int
    ) -> tuple[int, int, int, int, int]:
        """Return lanes (for row_count rows) of: half a unit of the shift, the bits kept after
        it, the bias that brings shifted lanes back to 2^(b-1), and what checks the range of a
        target_bytes-wide lane (cached)."""
        key = (row_count, shift, target_bytes)
        masks = self._transposes.get(key)
        if masks is None:
            bits = self.bits
            if not 0 <= shift < bits - 2 or target_bytes > self._lane_bytes:
                raise LaneOverflow(f"cannot bring {bits}-bit lanes to {target_bytes} bytes")
            ones = self._top_bits_of_rows(row_count) >> (bits - 1)
            target_bits = 8 * target_bytes
            masks = (
                ones << (shift - 1) if shift else 0,
                ones * ((1 << (bits - shift)) - 1),
                ones * ((1 << (bits - 1)) - (1 << (bits - 1 - shift))),
                ones << (target_bits - 2),
                ones * ((1 << bits) - (1 << (target_bits - 1))),
            )
            self._transposes[key] = masks
        return masks

    def _joined_rows(self, rows: Sequence[int]) -> tuple[bytes, int]:
        """Return the rows' lanes laid end to end as two's complement bytes, and as one int.

        Raises LaneOverflow like `unpack`.
        """
        raw = self._row_bytes(rows)
        # Two's complement lanes in range have equal top two bits: one check for all rows.
        joined = int.from_bytes(raw, "little")
        if (joined ^ (joined << 1)) & self._top_bits_of_rows(len(rows)):
            raise LaneOverflow("a lane came within a factor of 2 of overflowing")
        return raw, joined

    def _row_bytes(self, rows: Sequence[int]) -> bytes:
        """Return the rows' lanes laid end to end as two's complement bytes; raise LaneOverflow
        if a row does not fit its lanes."""
        top, size = self._top_bits, self._bytes
        try:
            return b"".join([((row + top) ^ top).to_bytes(size, "little") for row in rows])
        except OverflowError:
            raise LaneOverflow("packed value overflowed its lanes") from None

    def _top_bits_of_rows(self, row_count: int) -> int:
        """Return the top bit of every lane of row_count rows laid end to end (cached)."""
        top_bits = self._rows_top_bits.get(row_count)
        if top_bits is None:
            one_row = self._top_bits.to_bytes(self._bytes, "little")
            top_bits = int.from_bytes(one_row * row_count, "little")
            self._rows_top_bits[row_count] = top_bits
        return top_bits

    def relu(self, packed: int, shift: int, checked: bool = True) -> tuple[int, tuple[int, ...]]:
        """Return (mask, lanes): ReLU of every lane of `packed`, divided by 2^shift and rounded.

        `mask` has the low bits-1 bits set in the lanes that are ≥ 0 and nothing elsewhere; it
        is the ReLU's derivative for `shift`. No multiplication: the lanes' biased top bits
        become the mask with one shift and one subtraction. Raises LaneOverflow like `unpack`
        when `checked`; unchecked lanes may use their whole range, and must (not for 24 bits).
        """
        top, high = self._top_bits, self.bits - 1
        biased = packed + top
        if checked and (biased ^ (biased << 1)) & top != top:
            raise LaneOverflow("a lane came within a factor of 2 of overflowing")
        signs = (biased >> high) & self._ones
        mask = (signs << high) - signs
        _, keep_mask, _, half = self._masks(shift)
        kept = ((biased & mask) + half >> shift) & keep_mask
        return mask, self._relu_reader(shift)(kept.to_bytes(self._bytes, "little"))

    def _relu_reader(self, shift: int) -> Callable[[bytes], tuple[int, ...]]:
        """Return the cheapest struct call that reads non-negative lanes shifted by `shift`."""
        reader = self._relu_readers.get(shift)
        if reader is None:
            if not self._narrow:
                reader = struct.Struct(f"<{self.count}{UNSIGNED_CODES[self.bits]}").unpack
            elif shift >= self.min_relu_shift:
                # Lanes in range are below 2^(bits-2), so after the rounded shift they fit 16
                # bits: read two bytes of each lane and skip the third.
                reader = struct.Struct("<" + "Hx" * self.count).unpack
            else:
                reader = self._widened_reader()
            self._relu_readers[shift] = reader
        return reader

    def _widened_reader(self) -> Callable[[bytes], tuple[int, ...]]:
        unpack = self._struct.unpack
        return lambda raw: unpack(_widened(raw))

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

    def random_bits(self, shift: int, source: Callable[[int], int]) -> int:
        """Return lanes of uniform random ints in [0, 2^shift), drawn from `source(bits)`."""
        return source(self.count * self.bits) & self._masks(shift)[0]

    def shift(self, packed: int, shift: int, mask: int = -1, dither: int = 0) -> int:
        """Return lanes ⌊(v + d) / 2^shift⌋ where `mask` is set and 0 elsewhere.

        `dither` holds lanes d in [0, 2^shift) (see `random_bits`): with uniform random d the
        result is v / 2^shift stochastically rounded, unbiased. 1 ≤ `shift` < bits - 2 (a mask
        from `relu` covers the low bits-1 bits of a lane, all a shifted lane can occupy).
        """
        _, keep_mask, offset, _ = self._masks(shift)
        shifted = ((packed + self._top_bits + dither) >> shift) & keep_mask
        return (shifted & mask) - (offset & mask)

    def _masks(self, shift: int) -> tuple[int, int, int, int]:
        """Return lanes of: the low `shift` bits, the bits kept after the shift, the shifted
        sign offset, and half a unit of the shift (for rounding), all cached."""
        masks = self._shift_masks.get(shift)
        if masks is None:
            if not 0 <= shift < self.bits - 2:
                raise LaneOverflow(f"cannot shift {self.bits}-bit lanes by {shift} bits")
            masks = (
                self._ones * ((1 << shift) - 1),
                self._ones * ((1 << (self.bits - shift)) - 1),
                self._top_bits >> shift,
                self._ones << (shift - 1) if shift else 0,
            )
            self._shift_masks[shift] = masks
        return masks


def _column(data: bytes, start: int, stride: int, lane_bytes: int) -> bytearray:
    """Return the lane at byte `start` of every `stride` bytes of data, its low lane_bytes
    bytes each: one column of rows laid end to end, cut to narrower lanes if asked."""
    column = bytearray(len(data) // stride * lane_bytes)
    for k in range(lane_bytes):
        column[k::lane_bytes] = data[start + k :: stride]
    return column


def _narrowed(raw: bytes) -> bytes:
    """Return 32-bit two's complement lanes cut to 24 bits; raise LaneOverflow if one does not fit.

    Slice assignments copy every lane's byte k at once, at C speed.
    """
    if raw[3::4] != raw[2::4].translate(SIGN_EXTENSION):
        raise LaneOverflow("value does not fit a 24-bit lane")
    narrow = bytearray(len(raw) // 4 * 3)
    narrow[0::3] = raw[0::4]
    narrow[1::3] = raw[1::4]
    narrow[2::3] = raw[2::4]
    return narrow


def _widened(raw: bytes) -> bytearray:
    """Return 24-bit two's complement lanes sign-extended to 32 bits, for struct to read."""
    wide = bytearray(len(raw) // 3 * 4)
    wide[0::4] = raw[0::3]
    wide[1::4] = raw[1::3]
    wide[2::4] = raw[2::3]
    wide[3::4] = raw[2::3].translate(SIGN_EXTENSION)
    return wide
