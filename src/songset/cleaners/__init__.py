"""Cleaner backends: raw prose in, the CleanAnnotation schema out. Chosen by `cleaner._target_`."""

from songset.cleaners.base import CleanedContent, Cleaner, clean_song

__all__ = ["CleanedContent", "Cleaner", "clean_song"]
