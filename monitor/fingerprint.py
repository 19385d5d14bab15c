"""Near-duplicate detection: MinHash over word shingles, with LSH band keys to find candidates fast.

Syndicated copies (the same wire text under another headline, with boilerplate around it, trimmed or
reordered) share most 3-word shingles; distinct stories on the same topic share few. The Jaccard
similarity of the shingle sets is estimated by the share of equal MinHash values. Boilerplate around a
short wire text lowers the Jaccard similarity while the text stays whole, so the containment of the
smaller set in the larger (derived from the Jaccard estimate and the two sizes) is measured too.
Band keys make the store's lookup an index hit instead of a scan: with 32 bands of 2 values, pairs at
Jaccard 0.3 share a band with probability 0.95, at 0.5 with probability 0.9999.
"""

from __future__ import annotations

import hashlib
import random

from monitor.models import Fingerprint
from monitor.text import fold

PERMUTATIONS = 64
BANDS = 32
ROWS = PERMUTATIONS // BANDS
SHINGLE = 3
MIN_CONTAINED = 15  # shingles: below this, containment says little (a short text is "in" many others)
_PRIME = (1 << 61) - 1
_seeded = random.Random(20250619)  # fixed: signatures stored today must compare with tomorrow's
_COEFFICIENTS = tuple((_seeded.randrange(1, _PRIME), _seeded.randrange(0, _PRIME)) for _ in range(PERMUTATIONS))


def shingles(text: str, size: int = SHINGLE) -> set[int]:
    """The text's folded word n-grams, each hashed to 64 bits (stable across processes)."""
    words = fold(text).split()
    grams = [" ".join(words[i:i + size]) for i in range(max(1, len(words) - size + 1))] if words else []
    return {int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "big") for g in grams}


def fingerprint(text: str) -> Fingerprint | None:
    """The MinHash signature of a text; None when it has no words."""
    hashed = shingles(text)
    if not hashed:
        return None
    return Fingerprint(tuple(min((a * h + b) % _PRIME for h in hashed) for a, b in _COEFFICIENTS), len(hashed))


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets."""
    return sum(x == y for x, y in zip(a.values, b.values, strict=True)) / PERMUTATIONS


def containment(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated share of the smaller text's shingles found in the larger (0 when it is too short)."""
    return _containment(similarity(a, b), a, b)


def _containment(jaccard: float, a: Fingerprint, b: Fingerprint) -> float:
    """`containment` from an already estimated Jaccard similarity of `a` and `b`."""
    smaller = min(a.size, b.size)
    if smaller < MIN_CONTAINED:
        return 0.0
    return min(1.0, jaccard * (a.size + b.size) / ((1 + jaccard) * smaller))


def band_keys(print_: Fingerprint) -> list[str]:
    """One key per band: texts that share a key are candidates for a closer look."""
    keys = []
    for band in range(BANDS):
        rows = print_.values[band * ROWS:(band + 1) * ROWS]
        digest = hashlib.blake2b(repr(rows).encode(), digest_size=6).hexdigest()
        keys.append(f"mh:{band}:{digest}")
    return keys


def near_duplicate(a: Fingerprint, b: Fingerprint, jaccard: float, contained: float) -> float | None:
    """The similarity that makes `a` and `b` one text (Jaccard, else containment), or None."""
    score = similarity(a, b)
    if score >= jaccard:
        return score
    share = _containment(score, a, b)
    return share if share >= contained else None
