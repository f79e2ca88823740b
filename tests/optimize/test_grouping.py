"""Grouping without chaining, in two tiers (optimize/grouping.py)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photoark.optimize.grouping import Thresholds, complete_linkage, tiered
from photoark.optimize.neighbours import Pair


def test_a_chain_is_not_one_group() -> None:
    # 1~2 and 2~3 are close, 1 and 3 are not: single linkage would give [1, 2, 3]
    pairs = [Pair(1, 2, 0.10), Pair(2, 3, 0.12), Pair(10, 11, 0.2)]
    assert complete_linkage(pairs, 0.3) == [[1, 2], [10, 11]]


def test_a_clique_is_one_group_and_the_threshold_cuts() -> None:
    pairs = [Pair(a, b, 0.1) for a, b in itertools.combinations([4, 5, 6, 7], 2)]
    assert complete_linkage(pairs, 0.1) == [[4, 5, 6, 7]]
    assert complete_linkage(pairs, 0.09) == []
    assert complete_linkage([], 0.5) == []


def test_closest_pairs_group_first_and_order_does_not_matter() -> None:
    # 2 is close to both 1 and 3, but closer to 3; 1 and 3 are not close
    pairs = [Pair(1, 2, 0.2), Pair(2, 3, 0.05), Pair(3, 4, 0.15), Pair(2, 4, 0.18)]
    assert complete_linkage(pairs, 0.25) == [[2, 3, 4]]
    assert complete_linkage(list(reversed(pairs)), 0.25) == [[2, 3, 4]]


def test_among_leaves_others_out() -> None:
    pairs = [Pair(1, 2, 0.1), Pair(2, 3, 0.1), Pair(1, 3, 0.1)]
    assert complete_linkage(pairs, 0.2, among={1, 3}) == [[1, 3]]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 12), st.floats(0.0, 0.5)),
        max_size=60,
    ),
    st.floats(0.05, 0.5),
)
def test_every_two_members_are_within_the_threshold(
    raw: list[tuple[int, int, float]], threshold: float
) -> None:
    distance: dict[tuple[int, int], float] = {}
    for a, b, d in raw:
        if a != b:
            distance[(min(a, b), max(a, b))] = d
    pairs = [Pair(a, b, d) for (a, b), d in distance.items()]
    groups = complete_linkage(pairs, threshold)
    seen: set[int] = set()
    for group in groups:
        assert len(group) >= 2 and not seen & set(group)
        seen.update(group)
        for a, b in itertools.combinations(group, 2):
            assert distance.get((a, b), 1.0) <= threshold


def test_tiers_near_identical_first_then_similar_among_keepers_and_the_rest() -> None:
    # 1, 2 and 3: one picture (2 and 3 are copies of 1); 4 and 5: other shots of the moment
    pairs = [
        Pair(1, 2, 0.05),
        Pair(1, 3, 0.06),
        Pair(2, 3, 0.07),
        Pair(1, 4, 0.25),
        Pair(2, 4, 0.27),
        Pair(1, 5, 0.28),
        Pair(4, 5, 0.22),
        Pair(3, 5, 0.29),
    ]
    clusters = tiered(pairs, Thresholds(0.1, 0.3), keeper=min)
    assert [(c.tier, c.ids) for c in clusters] == [
        ("near_identical", (1, 2, 3)),
        ("similar", (1, 4, 5)),
    ]


def test_thresholds_are_ordered() -> None:
    with pytest.raises(ValueError):
        Thresholds(0.3, 0.2)
    assert Thresholds(0.1, 0.3).of("similar") == 0.3


def test_a_near_identical_pair_must_be_the_same_picture() -> None:
    # 1 and 2 are close to the model but are two shots (their thumbnails' hashes differ)
    pairs = [Pair(1, 2, 0.03), Pair(1, 3, 0.10)]
    clusters = tiered(
        pairs, Thresholds(0.25, 0.25), keeper=min, same_picture=lambda a, b: {a, b} != {1, 2}
    )
    assert [(c.tier, c.ids) for c in clusters] == [
        ("near_identical", (1, 3)),
        ("similar", (1, 2)),  # the keeper of (1, 3) with the other shot
    ]


def test_plain_pictures_group_only_when_they_are_the_same_picture() -> None:
    # 1 and 2: two different white pages; 3 and 4: two copies of one dark frame
    pairs = [Pair(1, 2, 0.084), Pair(3, 4, 0.02), Pair(5, 6, 0.2)]
    clusters = tiered(
        pairs, Thresholds(0.25, 0.25), keeper=min, plain=lambda i: i <= 4, plain_max=0.074
    )
    assert [c.ids for c in clusters] == [(3, 4), (5, 6)]
