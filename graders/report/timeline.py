"""Timelines of graded runs: which process, thread, Dask worker or request was busy when.

A failed parallel or speed check says in words that the work ran in the calling process, in one
worker, or one task at a time. A picture of the run shows it at a glance: a lane per process, a bar
per traced call, over the run's own seconds. One small model, :class:`Timeline`, is drawn three ways:

- in the terminal (:func:`render`): Unicode blocks, or plain ASCII where the terminal cannot show
  them, never wider than 100 columns, with a time axis in seconds;
- as one self-contained page (:func:`html_page`, :func:`write_html`): inline SVG and CSS, no script,
  nothing fetched from the network, a legend, and a hover title on every bar, for a learner to open
  in a browser;
- as an HTML fragment (:func:`html_fragment`) that nbgrader's feedback page shows inline.

The builders read data the grading side already has, by shape only (nothing here imports the
sandbox, the harnesses or the grading side): trace events of a sandbox run (stamped by the grading
process's clock, each under the pid the kernel reported), a mock server's request log, a Dask
scheduler's task records. Times become seconds since the first thing the timeline shows.
"""
from __future__ import annotations

import html
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

KINDS = ("grader", "process", "thread", "worker", "requests")
# The most columns a terminal timeline takes (a learner's terminal, a CI log, a notebook's output).
MAX_WIDTH = 100
# Sub-rows drawn per lane: overlapping bars beyond these share the last row (the count is shown).
TEXT_ROWS = 8
SVG_ROWS = 24
# Beyond this many bars in one row the SVG draws runs of touching bars as one (a pool of tiny tasks
# makes thousands of calls; each still counts in the merged bar's title).
SVG_BARS_PER_ROW = 300
# A hold of the trace channel shorter than this goes without a note (a pool's workers meet at once).
HELD_NOTE_S = 0.2

# What each kind of lane is, in the learner's terms (the legend).
MEANING = {
    "grader": "the process that called your function: work here runs in no worker, so it is not parallel",
    "process": "a worker process: bars in different worker lanes at the same time ran in parallel",
    "thread": "threads of the process that called your function: overlapping calls stacked into sub-rows",
    "worker": "a Dask worker of the grader's cluster: a bar is one task it computed",
    "requests": "requests: a bar runs from a request sent to its answer; stacked bars were in flight together",
}


@dataclass(frozen=True)
class Bar:
    """One traced call (or request, or task): seconds since the timeline's zero."""

    label: str
    start: float
    # None: it had not ended when the run did (it is drawn to the end, as still running).
    end: float | None = None

    def stop(self, duration: float) -> float:
        return duration if self.end is None else self.end


@dataclass
class Lane:
    name: str
    kind: str
    bars: list[Bar] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a lane's kind is one of {', '.join(KINDS)}, not {self.kind!r}")

    def rows(self, duration: float, limit: int | None = None) -> list[list[Bar]]:
        """The bars stacked into sub-rows, none overlapping another in its row (each in the first row free).

        With ``limit``, bars that would need a further row go into the last one.
        """
        rows: list[list[Bar]] = []
        ends: list[float] = []
        for bar in sorted(self.bars, key=lambda b: (b.start, b.stop(duration))):
            for index, end in enumerate(ends):
                if end <= bar.start:
                    break
            else:
                index = len(rows)
                if limit is None or index < limit:
                    rows.append([])
                    ends.append(-math.inf)
                else:
                    index = limit - 1
            rows[index].append(bar)
            ends[index] = max(ends[index], bar.stop(duration))
        return rows

    def most_at_once(self, duration: float) -> int:
        return len(self.rows(duration))


@dataclass
class Timeline:
    title: str
    lanes: list[Lane]
    duration: float
    # What a bar is and what to look for, in the learner's terms (under the picture).
    notes: list[str] = field(default_factory=list)

    @property
    def span(self) -> float:
        """The seconds the axis covers: never zero, so an empty or instant run still draws."""
        return self.duration if self.duration > 0 else 1.0

    def lane(self, name: str) -> Lane:
        return next(lane for lane in self.lanes if lane.name == name)

    @property
    def bars(self) -> int:
        return sum(len(lane.bars) for lane in self.lanes)


# --- builders ---------------------------------------------------------------------------------------


def _overlap(bars: list[Bar], duration: float) -> bool:
    ordered = sorted(bars, key=lambda b: b.start)
    end = -math.inf
    for bar in ordered:
        if bar.start < end:
            return True
        end = max(end, bar.stop(duration))
    return False


def released_at(events, rendezvous: int, wait_s: float) -> float:
    """When the trace channel let the first held starts go (graders.sandbox.trace_channel).

    Starts are held from the first one until ``rendezvous`` distinct processes have one, or until
    ``wait_s`` has passed: nothing ends meanwhile, so the release is the start that completed the
    rendezvous, else the deadline (and never after the first end).
    """
    ordered = sorted(events, key=lambda e: e.start)
    deadline = ordered[0].start + wait_s
    release = deadline
    pids: set[int] = set()
    for event in ordered:
        if event.start > deadline:
            break
        pids.add(event.pid)
        if len(pids) >= max(1, rendezvous):
            release = event.start
            break
    ends = [e.end for e in events if e.end is not None]
    return min([release, *ends])


def from_events(
    events, caller_pid: int, finished_at: float | None = None, *, title: str = "", hold: tuple[int, float] | None = None
) -> Timeline:
    """Lanes of traced calls: the calling process first, then one lane per worker process.

    ``events`` are trace events (function, pid, start, end) stamped by one clock; ``caller_pid`` is
    the process that called the learner's function, which always has its lane (empty is good news for
    a pool). Calls that overlap inside one process ran in threads of it: that lane is labelled so and
    its bars stacked. ``finished_at`` (same clock) is when the run ended: calls still open then are
    drawn up to it. ``hold`` is the trace channel's (rendezvous, wait_s): the calls it held back
    start, in the picture, when it let them go, and time 0 is then.
    """
    events = list(events)
    if not events:
        lane = Lane(f"grader (pid {caller_pid})", "grader")
        return Timeline(title, [lane], 0.0, ["no traced call was made while the function ran"])
    first = min(e.start for e in events)
    zero = released_at(events, *hold) if hold else first
    if finished_at is not None:  # a run that died while its calls were held: they never went
        zero = max(first, min(zero, finished_at))
    held = zero - first
    ends = [e.end - zero for e in events if e.end is not None]
    duration = max(ends + [e.start - zero for e in events])
    if any(e.end is None for e in events) and finished_at is not None:
        duration = max(duration, finished_at - zero)
    by_pid: dict[int, list[Bar]] = {}
    for event in sorted(events, key=lambda e: e.start):
        # A held call began its work when it was let go.
        bar = Bar(event.function, max(event.start, zero) - zero, None if event.end is None else event.end - zero)
        by_pid.setdefault(event.pid, []).append(bar)
    caller_bars = by_pid.pop(caller_pid, [])
    threads = _overlap(caller_bars, duration)
    lanes = [
        Lane(f"threads in one process (pid {caller_pid})" if threads else f"grader (pid {caller_pid})",
             "thread" if threads else "grader", caller_bars)
    ]
    for number, (pid, bars) in enumerate(sorted(by_pid.items(), key=lambda item: min(b.start for b in item[1])), 1):
        name = f"worker {number} (pid {pid})"
        lanes.append(Lane(f"{name}: threads" if _overlap(bars, duration) else name, "process", bars))
    functions = sorted({e.function for e in events})
    notes = [f"each bar is one call of {' or '.join(functions)}, from its start to its end"]
    if held >= HELD_NOTE_S:
        notes.append(
            f"time 0 is when the grader let the first calls go: it held them {held:.1f} s, waiting for "
            f"{hold[0]} processes to work at once, so that even tiny tasks show whether they can run in parallel"
        )
    workers = len(lanes) - 1
    if caller_bars and not workers:
        notes.append(
            f"all {len(caller_bars)} calls ran in the calling process" + (
                ", in threads: they overlap, but the GIL lets one thread run Python code at a time"
                if threads else ", one after another: serial"
            )
        )
    elif caller_bars:
        notes.append(f"{len(caller_bars)} of the {len(events)} calls ran in the calling process, not in a worker")
    else:
        peak = _peak([b for lane in lanes[1:] for b in lane.bars], duration, by_lane=lanes[1:])
        notes.append(f"{len(events)} calls in {workers} worker process(es), at most {peak} process(es) busy at once")
    return Timeline(title, lanes, duration, notes)


def from_run(run, title: str = "", hold: tuple[int, float] | None = None) -> Timeline:
    """The timeline of a sandbox run (graders.sandbox.parent.SandboxRun): its trace events and caller."""
    return from_events(run.events, run.pid, run.finished_at or None, title=title, hold=hold)


def _peak(bars: list[Bar], duration: float, by_lane: list[Lane] | None = None) -> int:
    """Most bars (or, with ``by_lane``, most lanes with a bar) in progress at once; touching is not overlapping."""
    owner = {}
    if by_lane is not None:
        for index, lane in enumerate(by_lane):
            for bar in lane.bars:
                owner[id(bar)] = index
    points = sorted(
        [(b.start, 1, owner.get(id(b), id(b))) for b in bars] + [(b.stop(duration), 0, owner.get(id(b), id(b))) for b in bars]
    )
    running: dict[int, int] = {}
    best = 0
    for _, is_start, key in points:
        if is_start:
            running[key] = running.get(key, 0) + 1
        else:
            running[key] -= 1
            if not running[key]:
                del running[key]
        best = max(best, len(running))
    return best


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path or url if parts.scheme else url


def _request_bars(exchanges, zero: float) -> list[Bar]:
    bars = []
    for e in sorted(exchanges, key=lambda e: e.start):
        label = _path(getattr(e, "url", None) or getattr(e, "path", ""))
        if getattr(e, "blocking", False):
            label += " (blocking client)"
        if e.end is not None and getattr(e, "status", 0) is None:
            label += " (no answer)"
        bars.append(Bar(label, e.start - zero, None if e.end is None else e.end - zero))
    return bars


def from_exchanges(exchanges, title: str = "") -> Timeline:
    """Requests in flight over time, from a mock or loopback server's log (url or path, start, end).

    All of one run's exchanges share a clock (the loop's or the monotonic clock); each bar is one
    request, stacked where requests were in flight together, so the lane's height is the most at once.
    """
    exchanges = [e for e in exchanges if e.start is not None]
    if not exchanges:
        return Timeline(title, [Lane("requests", "requests")], 0.0, ["no request reached the grader's server"])
    zero = min(e.start for e in exchanges)
    duration = max([e.end - zero for e in exchanges if e.end is not None] + [e.start - zero for e in exchanges])
    bars = _request_bars(exchanges, zero)
    peak = _peak(bars, duration)
    lane = Lane(f"requests (at most {peak} in flight)", "requests", bars)
    notes = [f"each bar is one request, from sent to answered: {len(bars)} requests, at most {peak} in flight at once"]
    return Timeline(title, [lane], duration, notes)


def _address(worker: str) -> str:
    return worker.split("://", 1)[-1]


def from_dask(tasks, workers: Iterable[str] = (), requests=(), title: str = "") -> Timeline:
    """Tasks per Dask worker, from the scheduler's records (key, name, worker, start, stop).

    Task times and the loopback server's ``requests`` are both ``time.time()`` of this machine, so
    the downloads can share the picture (a lane of their own, first).
    """
    done = [t for t in tasks if t.start is not None and t.worker]
    requests = [r for r in requests if r.start is not None]
    starts = [t.start for t in done] + [r.start for r in requests]
    if not starts:
        lanes = [Lane(f"worker {n} ({_address(w)})", "worker") for n, w in enumerate(workers, 1)]
        return Timeline(title, lanes, 0.0, ["no task was computed on the cluster's workers"])
    zero = min(starts)
    stops = [t.stop - zero for t in done if t.stop is not None] + [r.end - zero for r in requests if r.end is not None]
    duration = max(stops + [s - zero for s in starts])
    order = list(dict.fromkeys([*workers, *(t.worker for t in sorted(done, key=lambda t: t.start))]))
    lanes = []
    if requests:
        bars = _request_bars(requests, zero)
        lanes.append(Lane(f"downloads (at most {_peak(bars, duration)} in flight)", "requests", bars))
    for number, worker in enumerate(order, 1):
        bars = [Bar(t.name, t.start - zero, None if t.stop is None else t.stop - zero) for t in done if t.worker == worker]
        lanes.append(Lane(f"worker {number} ({_address(worker)})", "worker", bars))
    busy = sum(1 for lane in lanes if lane.kind == "worker" and lane.bars)
    names = sorted({t.name for t in done})
    notes = [
        f"each bar is one task ({', '.join(names)}) on the worker that computed it: {len(done)} tasks on {busy} "
        f"of {len(order)} workers"
    ]
    return Timeline(title, lanes, duration, notes)


def from_value(value, title: str = "") -> list[Timeline]:
    """Timelines of what a harness returned, by its shape: requests (a ServedRun, or a run that holds
    one as ``served``) and Dask tasks per worker (a ClusterRun). Anything else: none."""
    found = []
    served = getattr(value, "served", None)
    exchanges = getattr(value, "exchanges", None)
    if exchanges is None and served is not None:
        exchanges = getattr(served, "exchanges", None)
    if isinstance(exchanges, list) and exchanges:
        found.append(from_exchanges(exchanges, title=f"{title}: requests in flight" if title else "requests in flight"))
    tasks = getattr(value, "tasks", None)
    if isinstance(tasks, list) and tasks and all(hasattr(t, "worker") and hasattr(t, "stop") for t in tasks):
        found.append(from_dask(
            tasks, getattr(value, "workers", []) or [], getattr(value, "requests", []) or [],
            title=f"{title}: tasks per Dask worker" if title else "tasks per Dask worker",
        ))
    return found


# --- the terminal --------------------------------------------------------------------------------------

GLYPHS = {False: ("█", "▓", "░", "·"), True: ("#", "=", "~", ".")}
LABEL_WIDTH = 40


def _nice_step(span: float, ticks: int) -> float:
    raw = span / max(ticks, 1)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def _seconds(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step)) + (1 if step / 10 ** math.floor(math.log10(step)) == 2.5 else 0))
    return f"{value:.{decimals}f}"


def _cut(text: str, width: int, ascii: bool) -> str:
    if len(text) <= width:
        return text
    return text[: width - 1] + ("~" if ascii else "…")


def render(timeline: Timeline, width: int = MAX_WIDTH, ascii: bool = False) -> str:
    """The timeline as lines of text no wider than ``width`` (at most 100) columns."""
    width = max(40, min(width, MAX_WIDTH))
    full, alternate, running, idle = GLYPHS[ascii]
    label_width = min(max([len(lane.name) for lane in timeline.lanes] + [6]), LABEL_WIDTH, width // 2)
    plot = width - label_width - 3
    span = timeline.span

    def column(t: float) -> int:
        return min(plot - 1, max(0, int(t / span * plot)))

    lines = [_cut(line, width, ascii) for line in textwrap.wrap(timeline.title, width)] if timeline.title else []
    for lane in timeline.lanes:
        rows = lane.rows(timeline.duration, limit=TEXT_ROWS) or [[]]
        for index, row in enumerate(rows):
            cells = [idle] * plot
            for number, bar in enumerate(sorted(row, key=lambda b: b.start)):
                first = column(bar.start)
                last = max(first, min(plot - 1, math.ceil(bar.stop(timeline.duration) / span * plot) - 1))
                glyph = running if bar.end is None else (full if number % 2 == 0 else alternate)
                for cell in range(first, last + 1):
                    cells[cell] = glyph
            label = _cut(lane.name, label_width, ascii) if index == 0 else ""
            lines.append(f"{label:<{label_width}} |{''.join(cells)}|")
        hidden = len(lane.bars) - sum(len(row) for row in lane.rows(timeline.duration, limit=None)[:TEXT_ROWS])
        if hidden > 0:
            lines.append(_cut(f"{'':<{label_width}}  (+{hidden} more overlapping calls drawn in the last row)", width, ascii))
    step = _nice_step(span, max(2, plot // 12))
    ticks = [step * i for i in range(int(span / step + 1e-9) + 1)]
    axis = ["-"] * plot
    for tick in ticks:
        axis[column(tick)] = "+"
    lines.append(f"{'':<{label_width}}  {''.join(axis)}")
    labels = [" "] * (plot + 1)
    free = 0
    for tick in ticks:
        text = "0 s" if tick == 0 else _seconds(tick, step)
        at = column(tick)
        if at >= free and at + len(text) <= plot + 1:
            labels[at : at + len(text)] = text
            free = at + len(text) + 1
    lines.append((f"{'':<{label_width}}  " + "".join(labels)).rstrip())
    what = "request" if all(lane.kind == "requests" for lane in timeline.lanes) else "call"
    key = f"{full}{alternate} one {what} each (neighbours alternate)   {idle} idle"
    if any(bar.end is None for lane in timeline.lanes for bar in lane.bars):
        key += f"   {running} still running when the run ended"
    lines.append(_cut(key, width, ascii))
    for note in timeline.notes:
        lines.extend(_cut(line, width, ascii) for line in textwrap.wrap(note, width, subsequent_indent="  "))
    text = "\n".join(lines)
    if ascii:
        text = text.encode("ascii", "replace").decode("ascii")
    return text


# --- SVG and HTML ------------------------------------------------------------------------------------------

SVG_WIDTH = 960
_LABEL_PX = 290
_PLOT_X = _LABEL_PX + 10
_PLOT_W = SVG_WIDTH - _PLOT_X - 20
_ROW_H = 14
_ROW_GAP = 3
_LANE_PAD = 5
_COLOURS = {"grader": "#c0392b", "process": "#2a6fb0", "thread": "#8e44ad", "worker": "#1f8a70", "requests": "#d68910"}
# Characters of a lane label that fit the label column at 12px monospace (a 7-digit pid's included).
_LABEL_CHARS = 38

SVG_STYLE = (
    ".gt-text{font:12px monospace;fill:#222}.gt-small{font:11px sans-serif;fill:#444}"
    ".gt-lane{fill:#f4f4f4}.gt-lane-alt{fill:#e9ecef}.gt-grid{stroke:#bbb;stroke-width:1}"
    ".gt-bar{stroke:#fff;stroke-width:0.5}.gt-alt{opacity:0.72}.gt-open{opacity:0.45}"
    + "".join(f".gt-{kind}{{fill:{colour}}}" for kind, colour in _COLOURS.items())
)


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def _merged(row: list[Bar], duration: float, span: float) -> list[tuple[Bar, int]]:
    """(bar, how many calls it stands for): runs of bars less than a pixel apart drawn as one."""
    bars = sorted(row, key=lambda b: b.start)
    if len(bars) <= SVG_BARS_PER_ROW:
        return [(bar, 1) for bar in bars]
    pixel = span / _PLOT_W
    merged: list[tuple[Bar, int]] = []
    for bar in bars:
        if merged and merged[-1][0].end is not None and bar.end is not None and bar.start - merged[-1][0].end < pixel \
                and merged[-1][0].label == bar.label:
            first, count = merged[-1]
            merged[-1] = (Bar(first.label, first.start, max(first.end, bar.end)), count + 1)
        else:
            merged.append((bar, 1))
    return merged


def to_svg(timeline: Timeline) -> str:
    """The timeline as one inline ``<svg>`` element: lanes, bars with hover titles, an axis, a legend."""
    span = timeline.span
    duration = timeline.duration
    parts = []
    y = 8
    scale = _PLOT_W / span
    for lane_index, lane in enumerate(timeline.lanes):
        rows = lane.rows(duration, limit=SVG_ROWS) or [[]]
        height = len(rows) * (_ROW_H + _ROW_GAP) - _ROW_GAP + 2 * _LANE_PAD
        parts.append(
            f'<g class="gt-lane-group" data-lane="{_e(lane.name)}" data-kind="{lane.kind}">'
            f'<rect class="{"gt-lane" if lane_index % 2 == 0 else "gt-lane-alt"}" x="0" y="{y}" '
            f'width="{SVG_WIDTH}" height="{height}"/>'
        )
        label = lane.name if len(lane.name) <= _LABEL_CHARS else lane.name[: _LABEL_CHARS - 1] + "…"
        parts.append(
            f'<text class="gt-text gt-lane-label" x="6" y="{y + _LANE_PAD + _ROW_H - 3}">{_e(label)}'
            f"<title>{_e(lane.name)}: {len(lane.bars)} bar(s)</title></text>"
        )
        for row_index, row in enumerate(rows):
            top = y + _LANE_PAD + row_index * (_ROW_H + _ROW_GAP)
            for number, (bar, count) in enumerate(_merged(row, duration, span)):
                left = _PLOT_X + bar.start * scale
                right = _PLOT_X + bar.stop(duration) * scale
                classes = f"gt-bar gt-{lane.kind}" + (" gt-open" if bar.end is None else " gt-alt" if number % 2 else "")
                what = f"{count} calls of {bar.label}" if count > 1 else bar.label
                when = f"{bar.start:.3f} s to {'the end (still running)' if bar.end is None else f'{bar.end:.3f} s'}"
                parts.append(
                    f'<rect class="{classes}" x="{left:.1f}" y="{top}" width="{max(1.0, right - left):.1f}" '
                    f'height="{_ROW_H}"><title>{_e(what)}: {when} ({_e(lane.name)})</title></rect>'
                )
        parts.append("</g>")
        y += height + 2
    plot_bottom = y
    step = _nice_step(span, 8)
    ticks = [step * i for i in range(int(span / step + 1e-9) + 1)]
    for tick in ticks:
        x = _PLOT_X + tick * scale
        parts.append(f'<line class="gt-grid" x1="{x:.1f}" y1="8" x2="{x:.1f}" y2="{plot_bottom + 4}"/>')
        anchor = "start" if tick == 0 else "end" if x > _PLOT_X + _PLOT_W - 20 else "middle"
        parts.append(f'<text class="gt-small" x="{x:.1f}" y="{plot_bottom + 17}" text-anchor="{anchor}">{_seconds(tick, step)} s</text>')
    y = plot_bottom + 36
    kinds = [kind for kind in KINDS if any(lane.kind == kind for lane in timeline.lanes)]
    for kind in kinds:
        parts.append(
            f'<g class="gt-legend"><rect class="gt-swatch gt-{kind}" x="6" y="{y - 10}" width="22" height="11"/>'
            f'<text class="gt-small" x="36" y="{y}">{_e(MEANING[kind])}</text></g>'
        )
        y += 17
    if any(bar.end is None for lane in timeline.lanes for bar in lane.bars):
        parts.append(
            f'<g class="gt-legend"><rect class="gt-swatch gt-process gt-open" x="6" y="{y - 10}" width="22" height="11"/>'
            f'<text class="gt-small" x="36" y="{y}">pale: still running when the run ended</text></g>'
        )
        y += 17
    height = y
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graders-timeline" viewBox="0 0 {SVG_WIDTH} {height}" '
        f'data-plot-x="{_PLOT_X}" '
        f'width="100%" style="max-width:{SVG_WIDTH}px;height:auto;display:block" role="img" '
        f'aria-label="{_e(timeline.title or "timeline")}"><title>{_e(timeline.title or "timeline")}</title>'
        f"<style>{SVG_STYLE}</style>{''.join(parts)}</svg>"
    )


def _figure(timeline: Timeline) -> str:
    notes = "".join(f'<p class="gt-note">{_e(note)}</p>' for note in timeline.notes)
    caption = f'<figcaption class="gt-caption">{_e(timeline.title)}</figcaption>' if timeline.title else ""
    return f'<figure class="gt-figure">{caption}{to_svg(timeline)}{notes}</figure>'


FRAGMENT_STYLE = (
    ".graders-timelines{max-width:960px;font-family:sans-serif}"
    ".graders-timelines .gt-figure{margin:0 0 1.2em 0}"
    ".graders-timelines .gt-caption{font-weight:bold;margin:0 0 .3em 0;overflow-wrap:anywhere}"
    ".graders-timelines .gt-note{margin:.2em 0;color:#333;overflow-wrap:anywhere}"
)


def html_fragment(timelines: list[Timeline], paragraphs: Iterable[str] = ()) -> str:
    """One ``<div>`` with each timeline's caption, SVG and notes: self-contained, for an HTML output."""
    text = "".join(f'<p class="gt-note">{_e(p)}</p>' for p in paragraphs)
    return (
        f'<div class="graders-timelines"><style>{FRAGMENT_STYLE}</style>{text}'
        + "".join(_figure(t) for t in timelines)
        + "</div>"
    )


def html_page(timelines: list[Timeline], heading: str = "Timeline of the graded run", paragraphs: Iterable[str] = ()) -> str:
    """A whole page: no script, nothing loaded from elsewhere; it opens from a file in any browser."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_e(heading)}</title>"
        "<style>body{margin:16px;font-family:sans-serif;color:#222}h1{font-size:1.3em;overflow-wrap:anywhere}</style>"
        f"</head><body><h1>{_e(heading)}</h1>{html_fragment(timelines, paragraphs)}</body></html>\n"
    )


def write_html(path: Path, timelines: list[Timeline], heading: str = "Timeline of the graded run", paragraphs: Iterable[str] = ()) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_page(timelines, heading, paragraphs), encoding="utf-8")
    return path
