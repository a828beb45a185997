"""songset: a folder of songs -> a validated ACE-Step 1.5 LoRA training set."""

__version__ = "0.1.0"
