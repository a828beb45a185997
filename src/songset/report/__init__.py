"""The dataset quality report: does the prose vary per song, or is it one template with slots filled in?

Audio LLMs rarely copy a whole description, but they reuse the same phrases and sentence shapes across
songs, and a LoRA trained on that learns the template, not the music. Exact-duplicate checks miss it,
so this module measures reuse at three grains: whole texts (exact and near duplicates), phrases (word
n-grams shared by many songs) and sentence shapes (skeletons: function words kept, content words
abstracted). It also measures repetition inside one output, lengths, sidecar field coverage and failures.

Everything here is a pure function of its inputs; the DVC stage and the `songset report` CLI only load
files (`load`), call `build_report` (`build`), and write `quality.json`, `render_markdown(report)`
(`markdown`), `render_html(report)` (`html`) and `plots_data(report)` (`plots`). Which numbers exist,
what they mean, where they turn bad and where they are shown is the metric registry (`metrics.METRICS`);
`quality.json`'s models are built from it (`contract`).

Definitions (all on lowercased word tokens, timestamps such as `0:15` or `[0:00-0:18]` stripped):

* exact duplicates: equal token sequences (so case, whitespace, punctuation and timestamps are ignored).
  Within a group of equal texts the first id (sorted) is the original; every other member gets
  `duplicate_of` = that id and is counted in `exact_duplicate_songs` (the songs one could drop).
* near duplicates: set Jaccard over word `near_duplicate_shingle`-gram shingles (3: two changed words
  in 90 change at most 6 of 88 shingles, Jaccard >= 0.87, where 5-grams fall to 0.80) of whole texts,
  pairs at or above `near_duplicate_threshold`. Candidates come from MinHash LSH (an LSH threshold
  below the reported one, for recall), each verified with its exact Jaccard.
* template reuse: a song's distinct word n-grams (n = ngram_min..ngram_max, never across a sentence
  boundary) that occur in at least K other songs, as a share of all its distinct n-grams, where
  K = max(template_min_other_songs, ceil(template_min_song_share * (N - 1))), capped at N - 1: an
  absolute floor for small sets (20 songs: 3 others) and a relative one for large ones (20,000 songs:
  400). An n-gram with fewer than two content words ("a sense of", "in the mix") is ordinary English,
  never template. The listed phrases are grown past ngram_max while they stay in K + 1 songs, and a
  phrase found in exactly the same songs as a longer one is not listed.
* frame templates: the first `FRAME_WORDS` words of a song's first sentence (its opening frame, "this
  track is") and of its last sentence (its closing frame, "overall the track"), listed when K other
  songs share them: a frame is a small share of a long text's n-grams, so template reuse alone hides it.
* skeleton reuse: the share of a song's sentences whose skeleton occurs in at least K other songs.
  Skeletons with fewer than two non-X tokens ("X", "the X") say nothing about style and are left out.
* within repetition: mean of (1 - distinct-3) and the repeated-sentence share (sentences that repeat
  an earlier sentence of the same song); 0 for varied prose, near 1 for one sentence on a loop.
"""

from songset.report.build import build_report
from songset.report.compare import COMPARED_METRICS, compare_annotation_dirs, compare_reports
from songset.report.contract import QualityReport, SongQuality, StackSummary, report_models
from songset.report.html import render_html
from songset.report.load import (
    AnnotationRecord,
    corpus_texts,
    load_annotations,
    load_durations,
    load_sidecars,
    load_texts,
    prompt_of,
    song_of_key,
    stack_group,
)
from songset.report.markdown import render_markdown, stack_rows
from songset.report.metrics import METRICS, Histogram, Levels, Metric
from songset.report.models import (
    ComparedSong,
    Comparison,
    FailureRow,
    FrameTemplate,
    Phrase,
    SkeletonCount,
    StageRow,
)
from songset.report.plots import PLOT_FIELDS, plots_data
from songset.report.settings import ReportSettings
from songset.report.stacks import stack_summaries, summarise
from songset.report.stats import frame_templates, minhash_near_duplicates, template_threshold
from songset.report.text import ngrams, normalise, segments, skeleton, split_sentences, strip_markers, words

__all__ = [
    "COMPARED_METRICS",
    "METRICS",
    "PLOT_FIELDS",
    "AnnotationRecord",
    "ComparedSong",
    "Comparison",
    "FailureRow",
    "FrameTemplate",
    "Histogram",
    "Levels",
    "Metric",
    "Phrase",
    "QualityReport",
    "ReportSettings",
    "SkeletonCount",
    "SongQuality",
    "StackSummary",
    "StageRow",
    "build_report",
    "compare_annotation_dirs",
    "compare_reports",
    "corpus_texts",
    "frame_templates",
    "load_annotations",
    "load_durations",
    "load_sidecars",
    "load_texts",
    "minhash_near_duplicates",
    "ngrams",
    "normalise",
    "plots_data",
    "prompt_of",
    "render_html",
    "render_markdown",
    "report_models",
    "segments",
    "skeleton",
    "song_of_key",
    "split_sentences",
    "stack_group",
    "stack_rows",
    "stack_summaries",
    "strip_markers",
    "summarise",
    "template_threshold",
    "words",
]
