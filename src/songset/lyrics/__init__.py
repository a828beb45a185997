"""Lyrics, language and what audio files declare: pure functions the `lyrics` stage is built from."""
