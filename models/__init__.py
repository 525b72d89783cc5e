"""Model code: training set, LightGBM training, calibration, evaluation, registry, scoring."""

import os

# LightGBM's OpenMP threads sleep instead of spinning while they wait for each other, unless
# the environment already chooses. On the shared 2-core machine a spinning thread that lost its
# core stalls the other: a 1,000,000-patient fit with 2 threads took 2x the wall time and CPU
# of 1 thread; with passive waiting 2 threads are never slower (docs/scaling.md). Set here,
# before any module of this package imports lightgbm, because libgomp reads it once, on load.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
