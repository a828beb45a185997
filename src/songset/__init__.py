"""songset: a folder of songs -> a validated ACE-Step 1.5 LoRA training set."""

from songset.numba_cache import configure as _configure_numba_cache

_configure_numba_cache()  # before anything imports numba (librosa does): every entry point imports songset

__version__ = "0.1.0"
