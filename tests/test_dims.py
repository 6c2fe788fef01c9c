"""archspec.dims: largest_sum, the exact maximum of sums of sizes, against the brute-force
maximum of the evaluated sums."""

import sympy
from hypothesis import given
from hypothesis import strategies as st

from archspec.dims import PAIRWISE_MAX_ARGS, ceildiv, floordiv, largest_sum
from archspec.symbolic import symbol

H = symbol("H")
POINTS = (1, 2, 3, 5, 8, 31, 32, 33, 224, 299, 1000)

# sizes as a network's tensors have them: nonnegative for every H >= 1, with the floors and
# ceilings of strided layers and pooling (ceil_mode), scaled by channel counts
SIZES = [
    lambda c: c,
    lambda c: c * H,
    lambda c: c * (floordiv(H - 1, 2) + 1),
    lambda c: c * ceildiv(H, 4),
    lambda c: c * (floordiv(floordiv(H - 1, 4) - 1, 2) + 1),
    lambda c: c * (1 - floordiv(floordiv(-floordiv(H - 1, 2), 2) + 3, 2)),  # a ceil_mode pool's
    lambda c: c * (H - floordiv(H, 2)),
    lambda c: c * H * H,
]
size = st.builds(lambda make, c: make(c), st.sampled_from(SIZES), st.integers(0, 64))
sums = st.lists(st.lists(size, max_size=5), max_size=12)


def _at(value, h: int) -> int:
    return int(value.subs(H, h)) if isinstance(value, sympy.Basic) else value


@given(sums)
def test_largest_sum_is_the_largest_evaluated_sum(candidates):
    peak = largest_sum(candidates)
    for h in POINTS:
        assert _at(peak, h) == max((sum(_at(v, h) for v in parts) for parts in candidates), default=0)


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(0, 5000)), min_size=PAIRWISE_MAX_ARGS + 1, max_size=40))
def test_many_incomparable_sums_give_an_exact_max_built_as_it_stands(lines):
    """Sums a*H + b with slopes rising as intercepts fall: no sum covers another, so more than
    PAIRWISE_MAX_ARGS of them reach the Max, which is built without sympy's pairwise proofs."""
    candidates = [[a * H, b] for a, b in lines]
    peak = largest_sum(candidates)
    for h in POINTS:
        assert _at(peak, h) == max(a * h + b for a, b in lines)


def test_a_sum_covered_term_by_term_is_dropped():
    small, large = [3 * (floordiv(H - 1, 2) + 1)], [5 * (floordiv(H - 1, 2) + 1), 7]
    assert largest_sum([small, large]) == 5 * (floordiv(H - 1, 2) + 1) + 7
    assert largest_sum([[2, 3], [4]]) == 5 and largest_sum([]) == 0
