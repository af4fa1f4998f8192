"""The fatigue slope's 95 % interval covers the planted slope 93-97 % of the time (DESIGN §8).

Data sets are simulated directly as grouped counts (messages and clicks per pressure level,
weighted levels included) from a planted logistic curve, and handed to the estimation
function the measurement uses, :func:`pressure_sdk.measure.fit_slope`. Seeded: the same
data sets every run.
"""

from __future__ import annotations

import math

import numpy as np

from pressure_sdk.measure import fit_slope

#: planted curve: log-odds of a click = A + SLOPE * level
A, SLOPE = -2.4, -0.2
#: pressure levels (weighted touches: half levels come from half-weight families) and messages at each
LEVELS = [1.0, 1.5, 2.0, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0]
MESSAGES = [1500, 200, 1800, 1400, 150, 900, 500, 250, 120, 60]
DATA_SETS = 400


def test_the_slopes_interval_covers_the_planted_value_93_to_97_percent_of_the_time() -> None:
    rng = np.random.default_rng(20261130)
    p = [1 / (1 + math.exp(-(A + SLOPE * lv))) for lv in LEVELS]
    covered = 0
    estimates = []
    for _ in range(DATA_SETS):
        clicks = rng.binomial(MESSAGES, p)
        s = fit_slope(LEVELS, clicks.tolist(), MESSAGES, outcome="click")
        assert s is not None
        covered += s.low <= SLOPE <= s.high
        estimates.append(s.estimate)
    assert 0.93 <= covered / DATA_SETS <= 0.97, covered / DATA_SETS
    # and the estimate is centred on the truth (no bias beyond simulation noise)
    assert abs(float(np.mean(estimates)) - SLOPE) < 0.01


def test_a_wrong_slope_is_not_covered() -> None:
    """The interval is not merely wide: with four times the messages, a slope half the planted one
    falls outside it nearly always."""
    rng = np.random.default_rng(7)
    p = [1 / (1 + math.exp(-(A + SLOPE * lv))) for lv in LEVELS]
    messages = [4 * n for n in MESSAGES]
    misses = 0
    for _ in range(50):
        s = fit_slope(LEVELS, rng.binomial(messages, p).tolist(), messages)
        assert s is not None
        misses += not (s.low <= SLOPE / 2 <= s.high)
    assert misses >= 45
