"""`reports/quality.html`: the quality report as one self-contained page, the first thing to open.

No scripts, fonts, stylesheets or images from anywhere: inline CSS and hand-drawn inline SVG only, so
the page renders the same offline, in a DVC Studio artifact or a CI attachment. Every string that
comes from an annotation, a file name or a failure reason is HTML-escaped (song texts are model
output, i.e. untrusted).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from songset.lyrics.coverage import coverage_rows
from songset.report.charts import bar_chart, hbar_chart, histogram
from songset.report.contract import RegistryModel
from songset.report.format import fmt as _fmt
from songset.report.markdown import song_columns, stack_metrics, stack_rows
from songset.report.metrics import Metric
from songset.report.models import Comparison
from songset.report.text import _INLINE_TIME_RE, _MARKER_RE, _WORD_RE

CONTEXT_SONGS = 3  # worst songs shown with their reused phrases marked
COMPARED_SONGS = 12  # songs shown side by side in a comparison

_CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--line:#e3e6ec;--bg:#f7f8fa;--accent:#3b6fd8;--bad:#c0392b;--warn:#c77c02;
--ok:#2e8540;--mark:#ffe58a}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);
margin:0;background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:34px 0 10px;padding-bottom:4px;
border-bottom:1px solid var(--line)}h3{font-size:15px;margin:18px 0 6px}
p.sub{color:var(--muted);margin:0 0 18px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:10px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .v{font-size:24px;font-weight:650}.card .k{font-size:12.5px;color:var(--muted)}
.card.bad .v{color:var(--bad)}.card.warn .v{color:var(--warn)}.card.ok .v{color:var(--ok)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(350px,1fr));gap:14px}
figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px}
figcaption{font-size:13px;font-weight:600;margin-bottom:4px}
svg text{font:11px system-ui,sans-serif;fill:var(--muted)}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);font-size:13.5px}
th,td{text-align:left;padding:5px 9px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef1f6;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.text{white-space:pre-wrap;background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px;
font-size:13.5px;margin:0}
mark{background:var(--mark);padding:0 1px;border-radius:2px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin-bottom:18px}
.pair h4{margin:0 0 4px;font-size:13px;color:var(--muted);font-weight:600}
.muted{color:var(--muted)}.none{color:var(--muted);font-style:italic}
.pos{color:var(--bad)}.neg{color:var(--ok)}
"""


def _e(value: Any) -> str:
    return escape(_fmt(value), quote=True)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    """Cells are escaped unless given as `Markup` (already-escaped HTML)."""
    head = "".join(
        f'<th class="n">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            content = v.html if isinstance(v, Markup) else _e(v)
            cells.append(f'<td class="n">{content}</td>' if i in numeric else f"<td>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        return '<p class="none">none</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class Markup:
    """HTML that is already escaped, for a table cell."""

    def __init__(self, html: str) -> None:
        self.html = html


# ---- plots -------------------------------------------------------------------------------------------------


def _figure(caption: str, body: str, guide: str = "") -> str:
    """A chart with its caption and, under it, what a good and a bad value look like."""
    note = f'<p class="muted">{escape(guide)}</p>' if guide else ""
    return f"<figure><figcaption>{escape(caption)}</figcaption>{body}{note}</figure>"


# What a good and a bad value is, for the figures that are not a registry metric's histogram (those carry
# their own guide): a chart is only useful to someone who knows.
GUIDES: dict[str, str] = {
    "confidence": "The dashed line is the sidecar threshold: songs left of it get no value for this field "
    "(ACE-Step is given nothing rather than a doubtful value). Good: most songs right of it.",
    "coverage": "Good: green, 80% and more of the songs have the field. Bad: red, under half.",
}


# ---- text with reused phrases marked -----------------------------------------------------------------------

_BOUNDARY_RE = re.compile(r"[.!?](?:\s|$)|\n")


def mark_phrases(text: str, phrases: Iterable[str]) -> str:
    """The text, escaped, with every occurrence of the phrases (word sequences, as the report lists
    them: lowercased, timestamps ignored, inside one sentence) wrapped in <mark>."""
    masked = _MARKER_RE.sub(lambda m: "\n" + " " * (len(m.group()) - 1), text)
    masked = _INLINE_TIME_RE.sub(lambda m: " " * len(m.group()), masked)
    toks = [(m.start(), m.end(), m.group().lower()) for m in _WORD_RE.finditer(masked)]
    words = [t for _, _, t in toks]
    spans: list[tuple[int, int]] = []
    for phrase in {p for p in phrases if p}:
        target = phrase.split(" ")
        n = len(target)
        for i in range(len(words) - n + 1):
            if words[i : i + n] != target:
                continue
            if any(_BOUNDARY_RE.search(masked[toks[j][1] : toks[j + 1][0]]) for j in range(i, i + n - 1)):
                continue
            spans.append((toks[i][0], toks[i + n - 1][1]))
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out, pos = [], 0
    for s, e in merged:
        out.append(escape(text[pos:s]))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        pos = e
    out.append(escape(text[pos:]))
    return "".join(out)


# ---- the page ----------------------------------------------------------------------------------------------


def _card(label: str, value: Any, level: str = "") -> str:
    return f'<div class="card {level}"><div class="v">{_e(value)}</div><div class="k">{escape(label)}</div></div>'


def _headline(r: RegistryModel) -> str:
    cards = [
        _card(m.card_for(r), m.shown(r), m.level(r))
        for m in type(r).metrics
        if m.card and not (m.needs_sidecars and not r.sidecars)
    ]
    return '<div class="cards">' + "".join(cards) + "</div>"


def _plots(r: RegistryModel) -> str:
    metrics = type(r).metrics
    figs = [
        _figure(
            m.histogram.caption,
            histogram(
                [float(v) for p in r.per_song if (v := getattr(p, m.song_field or "")) is not None],
                lo=m.histogram.lo,
                hi=m.histogram.hi,
            ),
            m.histogram.guide,
        )
        for m in metrics
        if m.histogram is not None
    ]
    labels = [f"{i / 10:.1f}" for i in range(10)]
    for field, counts in r.confidence_histograms.items():
        threshold = r.confidence_thresholds.get(field)
        caption = f"{field} confidence (sidecars)" + (
            f", threshold {threshold:g}" if threshold is not None else ""
        )
        chart = bar_chart(
            counts, labels, threshold=threshold * len(counts) if threshold is not None else None
        )
        figs.append(_figure(caption, chart, GUIDES["confidence"]))
    if r.sidecars:
        rows = [(m.label, (value := m.shown(r)), m.level_of_value(value)) for m in metrics if m.coverage_bar]
        figs.append(
            _figure(f"sidecar coverage ({r.sidecars} sidecars)", hbar_chart(rows), GUIDES["coverage"])
        )
    return '<div class="grid">' + "".join(figs) + "</div>"


def _phrases_cell(phrases: Sequence[str]) -> Markup:
    return Markup("; ".join(f"“{escape(p)}”" for p in phrases))


def _worst(r: RegistryModel) -> str:
    by_id = {p.id: p for p in r.per_song}
    columns = song_columns(r)
    out = []
    for m in type(r).metrics:
        if not m.worst:
            continue
        out.append(f"<h3>By {escape(m.label)}</h3>")
        out.append(
            _table(
                ("song", *(c.label for c in columns), "most reused phrases"),
                (
                    (p.id, *(getattr(p, c.song_field or "") for c in columns), _phrases_cell(p.top_phrases))
                    for p in (by_id[i] for i in getattr(r, f"worst_by_{m.song_field}"))
                ),
                numeric=range(1, len(columns) + 1),
            )
        )
    return "".join(out)


def _in_context(r: RegistryModel, texts: dict[str, str]) -> str:
    shown = [i for i in r.worst_by_template_reuse if i in texts][:CONTEXT_SONGS]
    if not shown:
        return '<p class="none">no song shares template phrases</p>'
    listed = [p.phrase for p in r.top_phrases]
    by_id = {p.id: p for p in r.per_song}
    out = [
        '<p class="muted">Marked: the phrases listed below as template phrasing, where they occur in the '
        "worst songs. A LoRA trained on these learns the template, not the music.</p>"
    ]
    for sid in shown:
        p = by_id[sid]
        out.append(
            f"<h3>{escape(sid)} <span class='muted'>— template reuse {_e(p.template_reuse)}</span></h3>"
            f'<pre class="text">{mark_phrases(texts[sid], [*listed, *p.top_phrases])}</pre>'
        )
    return "".join(out)


def _by_stack(r: RegistryModel) -> str:
    if not r.by_stack:
        return ""
    columns = stack_metrics(r)
    return "<h2>By annotator stack</h2>" + _table(
        ("stack", "songs", *(m.label for m in columns)),
        stack_rows(r),
        numeric=range(1, len(columns) + 2),
    )


def _failures(r: RegistryModel) -> str:
    skipped = (
        "<h3>Skipped: byte-identical copies (built once, not failures)</h3>"
        + _table(("file", "reason"), ((f.file, f.reason) for f in r.skipped))
        if r.skipped
        else ""
    )
    if not r.failure_list:
        return '<p class="none">no failures</p>' + skipped
    return (
        '<div class="grid">'
        + _figure("by stage", _table(("stage", "failures"), r.failures_by_stage.items(), numeric=(1,)))
        + _figure("by reason", _table(("reason", "failures"), r.failures_by_reason.items(), numeric=(1,)))
        + "</div><h3>Every failure</h3>"
        + _table(("file", "stage", "reason"), ((f.file or f.id, f.stage, f.reason) for f in r.failure_list))
        + skipped
    )


def _sidecar_flags(r: RegistryModel) -> str:
    if not r.sidecars:
        return '<p class="none">no sidecars measured</p>'
    names = {"caption_over_budget": "captions over the token budget", "over_240s": "songs over 240 s"}
    rows = [(names.get(flag, flag), len(stems), ", ".join(stems)) for flag, stems in r.flagged.items()]
    out = _table(("flag", "songs", "which"), rows, numeric=(1,)) if rows else '<p class="none">no flags</p>'
    out += f'<p class="muted">caption tokens: mean {_e(r.mean_caption_tokens)}, max {_e(r.max_caption_tokens)}</p>'
    if r.omitted_fields:
        out += "<h3>Omitted fields</h3>" + _table(
            ("field", "reason", "songs"),
            ((f, why, c) for f, rs in r.omitted_fields.items() for why, c in rs.items()),
            numeric=(2,),
        )
    return out


def _duplicates(r: RegistryModel) -> str:
    exact = {p.id: p.duplicate_of for p in r.per_song if p.duplicate_of}
    near_only = [(a, b, sim) for a, b, sim in r.near_duplicate_pairs if exact.get(a, a) != exact.get(b, b)]
    rows = [(", ".join(g[1:]), g[0], "exact copy") for g in r.exact_duplicate_groups] + near_only
    return _table(("song", "like", "similarity"), rows)


def _delta(metric: Metric | None, a: float | None, b: float | None) -> Markup:
    """B − A, red where B is worse and green where it is better, by the metric's direction."""
    if a is None or b is None:
        return Markup("–")
    d = b - a
    direction = metric.delta_class(a, b) if metric is not None else ""
    cls = {"worse": "pos", "better": "neg", "": ""}[direction]  # .pos is red, .neg green
    return Markup(f'<span class="{cls}">{d:+.3f}</span>' if d else "0")


def _comparison(c: Comparison, metrics: Sequence[Metric]) -> str:
    by_name = {m.name: m for m in metrics if m.name}
    by_field = {m.song_field: m for m in metrics if m.song_field}
    out = [
        "<h2>Experiments side by side</h2>",
        f'<p class="muted">A = {escape(c.label_a)}<br>B = {escape(c.label_b)} — red: B is worse, '
        "green: B is better.</p>",
        _table(
            ("metric", "A", "B", "B − A"),
            ((m, a, b, _delta(by_name.get(m), a, b)) for m, (a, b) in c.metrics.items()),
            numeric=(1, 2, 3),
        ),
    ]
    if c.only_a or c.only_b:
        out.append(
            f'<p class="muted">only in A: {escape(", ".join(c.only_a)) or "–"}; '
            f"only in B: {escape(', '.join(c.only_b)) or '–'}</p>"
        )
    for s in c.songs[:COMPARED_SONGS]:
        out.append(f"<h3>{escape(s.id)}</h3><div class='pair'>")
        for side, label, text in ((0, "A", s.text_a), (1, "B", s.text_b)):
            figures = ", ".join(
                f"{escape(by_field[f].label if f in by_field else f)} {_e(pair[side])}"
                for f, pair in s.values.items()
            )
            out.append(f'<div><h4>{label} — {figures}</h4><pre class="text">{escape(text)}</pre></div>')
        out.append("</div>")
    if len(c.songs) > COMPARED_SONGS:
        out.append(f'<p class="muted">{len(c.songs) - COMPARED_SONGS} more songs in both, not shown</p>')
    return "".join(out)


def render_html(
    report: RegistryModel,
    texts: dict[str, str] | None = None,
    *,
    comparison: Comparison | None = None,
    title: str = "Dataset quality report",
) -> str:
    """The whole page. `texts` (report key -> annotation text) enables the phrases-in-context section."""
    r = report
    status = (
        "partial dataset"
        if r.partial
        else "not accepted: failures and allow_partial is off"
        if not r.accepted
        else "accepted"
    )
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{r.songs} songs · {r.failures} failures · {escape(status)}</p>',
        _headline(r),
        "<h2>Distributions</h2>",
        _plots(r),
        _by_stack(r),
        "<h2>Worst songs</h2>",
        _worst(r),
        "<h2>Reused phrases in context</h2>",
        _in_context(r, texts or {}),
        "<h2>Top reused phrases</h2>",
        _table(
            ("phrase", "songs", "words"),
            ((p.phrase, p.songs, p.words) for p in r.top_phrases),
            numeric=(1, 2),
        ),
        "<h2>Top sentence skeletons</h2>",
        _table(
            ("skeleton", "songs", "sentences"),
            ((s.skeleton, s.songs, s.sentences) for s in r.top_skeletons),
            numeric=(1, 2),
        ),
        "<h2>Duplicates</h2>",
        _duplicates(r),
        "<h2>Failures</h2>",
        _failures(r),
        "<h2>Sidecars: flags and omissions</h2>",
        _sidecar_flags(r),
    ]
    if r.lyrics is not None:
        body += ["<h2>Lyrics and language</h2>", _table(("measure", "value"), coverage_rows(r.lyrics))]
    if comparison is not None:
        body.append(_comparison(comparison, type(r).metrics))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
