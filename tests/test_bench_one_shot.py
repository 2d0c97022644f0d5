"""benchmarks/bench_one_shot.py's statistics (the programs themselves need OpenCV 5 beside
OpenCV 4: run by hand, docs/engines.md's one-shot programs)."""
import pytest


def test_the_round_ratio_pairs_each_round_with_its_own_opencv4_run():
    """Each round's ratio is taken before the median: a machine twice as slow in one round
    moves both programs of that round, not the figure."""
    from benchmarks.bench_one_shot import round_ratio
    times = {"opencv4": [0.20, 0.40, 0.21], "ours-empty": [0.19, 0.38, 0.21]}
    assert round_ratio(times, "ours-empty") == pytest.approx(0.95)
    # the ratio of the medians (0.21 / 0.21) would hide that ours was faster in two rounds
