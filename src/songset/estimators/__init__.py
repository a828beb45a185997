"""Estimators of duration, tempo, key and meter. Chosen by `estimator._target_`."""

from songset.estimators.base import Estimates, Estimator, estimate_song

__all__ = ["Estimates", "Estimator", "estimate_song"]
