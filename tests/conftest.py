"""Shared fixtures: a seeded RNG that tests must pass for any seed."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(params=[0, 1])
def rng_seed(request) -> int:
    """Seed for random test data; tests run with two seeds (set EEGMON_TEST_SEED to add one)."""
    return request.param + int(os.environ.get("EEGMON_TEST_SEED", 0))
