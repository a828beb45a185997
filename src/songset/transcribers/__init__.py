"""Transcriber backends: audio in, timed lyrics out. Chosen by `transcriber._target_`."""

from songset.transcribers.base import NoTranscriber, Transcriber, Transcription, TranscriptSegment

__all__ = ["NoTranscriber", "Transcriber", "TranscriptSegment", "Transcription"]
