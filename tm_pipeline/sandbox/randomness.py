"""Seeded-choice helper shared by the generators."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def pick(rng: random.Random, options: Sequence[T]) -> T:
    """`rng.choice` without its rejection sampling, which is most of its cost: it runs for every
    field of every generated shipment."""
    return options[int(rng.random() * len(options))]
