"""Annotator backends: audio in, timestamped musical prose out. Chosen by `annotator._target_`."""

from songset.annotators.base import Annotation, Annotator, annotate_song

__all__ = ["Annotation", "Annotator", "annotate_song"]
