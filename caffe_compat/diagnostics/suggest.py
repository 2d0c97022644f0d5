""""Did you mean ...?": the known names closest to a misspelt one.

Used for layer types, parameter field names, enum values and blob names. The ranking, best
first:

1. a case-insensitive exact match (``relu`` -> ``ReLU``);
2. the smallest edit distance, case-insensitive, counting a swap of two neighbouring letters as
   one edit (optimal string alignment), so any single deletion, insertion, substitution or
   transposition of a name is one edit away from it;
3. the larger :class:`difflib.SequenceMatcher` ratio (shared runs of letters), then the
   case-sensitive edit distance, then the name.

Distances beyond ``limit + 2`` (``limit`` as below) are not told apart: such names are ranked
by their difflib ratio alone.

A name is offered only when it is close: within ``max(1, len // 3)`` edits, or a difflib ratio
of at least 0.6 (:func:`difflib.get_close_matches`' default cut-off).
"""
from __future__ import annotations

import difflib

RATIO_CUTOFF = 0.6


def edit_distance(a, b, limit=None):
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of
    two neighbouring characters each cost 1. With ``limit``, any distance above it is
    returned as ``limit + 1`` (computed faster)."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    cap = la + lb if limit is None else limit + 1
    if abs(la - lb) >= cap:
        return cap
    if not la or not lb:
        return min(la or lb, cap)
    prev2 = None
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        ca = a[i - 1]
        for j in range(1, lb + 1):
            cb = b[j - 1]
            v = prev[j - 1] if ca == cb else prev[j - 1] + 1
            if prev[j] + 1 < v:
                v = prev[j] + 1
            if cur[j - 1] + 1 < v:
                v = cur[j - 1] + 1
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb and prev2[j - 2] + 1 < v:
                v = prev2[j - 2] + 1
            cur[j] = v
        if min(cur) >= cap:     # every path already costs more than the limit
            return cap
        prev2, prev = prev, cur
    return min(prev[lb], cap)


def closest(word, candidates, n=3):
    """Up to ``n`` names of ``candidates`` close to ``word``, best first (see the module doc)."""
    word = str(word)
    low = word.lower()
    limit = max(1, len(word) // 3)
    matcher = difflib.SequenceMatcher(None)
    matcher.set_seq2(low)
    scored = []
    for cand in set(str(c) for c in candidates):
        if cand == word:
            continue
        cl = cand.lower()
        dist = edit_distance(low, cl, limit + 2)
        matcher.set_seq1(cl)
        if cl != low and dist > limit and (matcher.real_quick_ratio() < RATIO_CUTOFF
                                           or matcher.quick_ratio() < RATIO_CUTOFF):
            continue
        ratio = matcher.ratio()
        if cl != low and dist > limit and ratio < RATIO_CUTOFF:
            continue
        scored.append((cl != low, dist, -ratio, edit_distance(word, cand, limit + 2), cand))
    scored.sort()
    return [s[-1] for s in scored[:n]]


def did_you_mean(word, candidates, n=3, quote="'"):
    """``"did you mean 'A'?"`` / ``"did you mean 'A', 'B' or 'C'?"``, or ``""`` when nothing is
    close."""
    names = [f"{quote}{c}{quote}" for c in closest(word, candidates, n)]
    if not names:
        return ""
    if len(names) == 1:
        return f"did you mean {names[0]}?"
    return f"did you mean {', '.join(names[:-1])} or {names[-1]}?"
