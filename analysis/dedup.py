"""Near-duplicates: 64-bit SimHash fingerprints and an index that finds earlier posts within a Hamming distance.

Fingerprints are stable across processes and machines (a fixed integer hash of each character pair,
computed for all pairs of a post at once), so they can be stored and compared later. The index splits a fingerprint into four 16-bit bands: two fingerprints within
distance 3 share at least one band exactly, so only posts in the same band buckets are compared.
It keeps the most recent `capacity` fingerprints, so a stream of any length runs in bounded memory.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence

import numpy as np

BITS = 64
BANDS = 4
MAX_DISTANCE = 3
_WORD_CHARS = re.compile(r"\w+")


_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: spreads each input bit over all 64 output bits, for whole arrays at once."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return (x ^ (x >> np.uint64(31))) & _MASK


class SimHasher:
    def fingerprint(self, text: str) -> int | None:
        return self.fingerprints([text])[0]

    def fingerprints(self, texts: Sequence[str]) -> list[int | None]:
        """From overlapping character pairs, which a few added or changed words barely move; a batch of
        texts at once. None for a text with nothing to compare: it is nobody's duplicate."""
        # Punctuation and repeats (！！！！) say nothing about which story a post tells.
        kept = ["".join(_WORD_CHARS.findall(text.lower())) for text in texts]
        lengths = np.fromiter(map(len, kept), dtype=np.int64, count=len(kept))
        points = np.frombuffer("".join(kept).encode("utf-32-le"), dtype="<u4").astype(np.uint64)
        owner = np.repeat(np.arange(len(kept), dtype=np.uint64), lengths)
        # A pair is its two code points side by side (each below 2**21); a one-character text is itself.
        within = owner[:-1] == owner[1:]
        single = np.flatnonzero(lengths == 1)
        starts = np.cumsum(lengths) - lengths
        pairs = np.concatenate([((points[:-1] << np.uint64(21)) | points[1:])[within], points[starts[single]]])
        owners = np.concatenate([owner[:-1][within], single.astype(np.uint64)])
        # Each post's distinct pairs, sorted by post: the post's number sits above the pair's 42 bits.
        keyed = np.unique((owners << np.uint64(42)) | pairs)
        owners, pairs = keyed >> np.uint64(42), keyed & np.uint64((1 << 42) - 1)
        # Bit i of every hash, little-endian: the same fingerprint on every machine.
        bits = np.unpackbits(_mix64(pairs).astype("<u8").view(np.uint8), bitorder="little").reshape(len(pairs), BITS)
        counts = np.bincount(owners.astype(np.int64), minlength=len(kept))
        present = np.flatnonzero(counts)
        votes = np.add.reduceat(bits, np.cumsum(counts)[present] - counts[present], axis=0, dtype=np.int64) if len(pairs) else bits
        majority = votes * 2 > counts[present][:, None]
        packed = np.packbits(majority, axis=1, bitorder="little").view("<u8")[:, 0].tolist()
        out: list[int | None] = [None] * len(kept)
        for post, value in zip(present.tolist(), packed):
            out[post] = int(value)
        return out


def to_hex(fingerprint: int) -> str:
    return f"{fingerprint:016x}"


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


class NearDuplicateIndex:
    def __init__(self, max_distance: int = MAX_DISTANCE, capacity: int = 200_000) -> None:
        if max_distance >= BANDS:
            raise ValueError(f"max_distance must be below {BANDS} for banded lookup")
        self.max_distance = max_distance
        self.capacity = capacity
        self._bands: list[dict[int, list[tuple[int, int, str]]]] = [{} for _ in range(BANDS)]
        self._order: deque[tuple[int, int, str]] = deque()
        self._seq = 0

    @staticmethod
    def _keys(fingerprint: int) -> tuple[int, ...]:
        """The BANDS = 4 bands of 16 bits, written out: this runs twice a post."""
        return (fingerprint & 0xFFFF, fingerprint >> 16 & 0xFFFF, fingerprint >> 32 & 0xFFFF, fingerprint >> 48)

    def find(self, fingerprint: int) -> str | None:
        """The earliest indexed post within max_distance, if any."""
        best: tuple[int, str] | None = None
        for band, key in zip(self._bands, self._keys(fingerprint)):
            for other, seq, post_id in band.get(key, ()):
                if distance(fingerprint, other) <= self.max_distance and (best is None or seq < best[0]):
                    best = (seq, post_id)
                    break  # a bucket is in arrival order: its first match is its earliest
        return best[1] if best else None

    def add(self, fingerprint: int, post_id: str) -> None:
        entry = (fingerprint, self._seq, post_id)
        self._seq += 1
        for band, key in zip(self._bands, self._keys(fingerprint)):
            band.setdefault(key, []).append(entry)
        self._order.append(entry)
        if len(self._order) > self.capacity:
            self._evict()

    def _evict(self) -> None:
        entry = self._order.popleft()
        for band, key in zip(self._bands, self._keys(entry[0])):
            bucket = band.get(key)
            if bucket:
                bucket.remove(entry)
                if not bucket:
                    del band[key]

    def check_and_add(self, fingerprint: int, post_id: str) -> str | None:
        """The post this one duplicates (None if it is new); a duplicate is not indexed again,
        and a post seen again under its own id (a re-crawl) is not its own duplicate."""
        original = self.find(fingerprint)
        if original is None:
            self.add(fingerprint, post_id)
        return None if original == post_id else original

    def __len__(self) -> int:
        return len(self._order)
