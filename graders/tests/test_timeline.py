"""Timelines of graded runs (graders.report.timeline): the right lanes for serial, threaded and pooled
code, drawings that fit the terminal, self-contained pages, and the plugin's use of them."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from graders.report import timeline
from graders.sandbox.parent import SandboxRun
from graders.sandbox.trace_format import TraceEvent
from graders.tests.conftest import submission

CALLER = 4242
GALLERY = Path(__file__).with_name("gallery") / "02_multiprocessing"


def serial_run(calls: int = 7) -> SandboxRun:
    """Seven calls one after another in the calling process."""
    events = [TraceEvent("build_word", CALLER, 100 + 0.1 * i, 100 + 0.1 * i + 0.09, 2 * i + 1, 2 * i + 2) for i in range(calls)]
    return SandboxRun(outcomes=[], pid=CALLER, events=events, finished_at=101.0)


def threaded_run() -> SandboxRun:
    """Seven calls in three threads of the calling process (thread i % 3 makes its calls one after another)."""
    starts = [100 + 0.3 * (i // 3) + 0.01 * (i % 3) for i in range(7)]
    events = [TraceEvent("build_word", CALLER, start, start + 0.28) for start in starts]
    return SandboxRun(outcomes=[], pid=CALLER, events=events, finished_at=101.0)


def pooled_run() -> SandboxRun:
    """Seven calls in three worker processes, three at a time."""
    events = [TraceEvent("build_word", 5000 + i % 3, 100 + 0.2 * (i // 3), 100 + 0.2 * (i // 3) + 0.18) for i in range(7)]
    return SandboxRun(outcomes=[], pid=CALLER, events=events, finished_at=101.0)


# --- lanes ------------------------------------------------------------------------------------------


def test_a_serial_solution_is_one_lane_the_calling_process_with_every_bar():
    drawn = timeline.from_run(serial_run())
    assert [(lane.name, lane.kind, len(lane.bars)) for lane in drawn.lanes] == [(f"grader (pid {CALLER})", "grader", 7)]
    assert drawn.lanes[0].most_at_once(drawn.duration) == 1
    assert any("one after another: serial" in note for note in drawn.notes)


def test_threads_are_one_process_lane_whose_overlapping_bars_are_stacked():
    drawn = timeline.from_run(threaded_run())
    assert len(drawn.lanes) == 1
    lane = drawn.lanes[0]
    assert lane.name == f"threads in one process (pid {CALLER})" and lane.kind == "thread" and len(lane.bars) == 7
    rows = lane.rows(drawn.duration)
    assert len(rows) == 3
    for row in rows:  # no two bars of a sub-row overlap
        ordered = sorted(row, key=lambda bar: bar.start)
        assert all(a.end <= b.start for a, b in zip(ordered, ordered[1:]))
    text = timeline.render(drawn)
    assert len([line for line in text.splitlines() if line.endswith("|")]) == 3
    assert "in threads" in text


def test_a_pool_has_one_lane_per_worker_process_and_the_callers_lane_stays_empty():
    drawn = timeline.from_run(pooled_run())
    assert [lane.name for lane in drawn.lanes] == [
        f"grader (pid {CALLER})", "worker 1 (pid 5000)", "worker 2 (pid 5001)", "worker 3 (pid 5002)"
    ]
    assert [lane.kind for lane in drawn.lanes] == ["grader", "process", "process", "process"]
    assert [len(lane.bars) for lane in drawn.lanes] == [0, 3, 2, 2]
    assert any("3 worker process(es), at most 3 process(es) busy at once" in note for note in drawn.notes)


def test_a_token_pool_beside_serial_work_shows_bars_in_both_the_caller_and_the_workers():
    events = serial_run(4).events + pooled_run().events[:2]
    drawn = timeline.from_events(events, CALLER)
    assert [len(lane.bars) for lane in drawn.lanes] == [4, 1, 1]
    assert any("4 of the 6 calls ran in the calling process" in note for note in drawn.notes)


def test_no_traced_call_still_draws_the_callers_lane():
    drawn = timeline.from_events([], CALLER, title="nothing")
    assert [lane.name for lane in drawn.lanes] == [f"grader (pid {CALLER})"] and drawn.span == 1.0
    assert "no traced call" in timeline.render(drawn)


def test_time_zero_is_when_the_trace_channel_let_the_held_calls_go():
    # Serial code: the first start is held for the whole wait (3 processes never come).
    run = serial_run()
    assert timeline.released_at(run.events, 3, 2.0) == pytest.approx(min(run.events[0].end, 102.0))
    held = [TraceEvent("build_word", CALLER, 100.0, 102.05, 1, 2), TraceEvent("build_word", CALLER, 102.06, 102.1, 3, 4)]
    drawn = timeline.from_events(held, CALLER, hold=(3, 2.0))
    first, second = drawn.lanes[0].bars
    assert first.start == 0 and first.end == pytest.approx(0.05) and second.start == pytest.approx(0.06)
    assert any("held them 2.0 s" in note for note in drawn.notes)
    # A pool meets the rendezvous with its third worker's start: that start is time 0.
    pool = pooled_run().events
    assert timeline.released_at(pool, 3, 2.0) == pytest.approx(100.0)


def test_a_call_still_running_when_the_run_ended_is_drawn_to_the_end():
    events = [TraceEvent("build_word", 5000, 100.0, 100.5), TraceEvent("build_word", 5001, 100.2, None)]
    drawn = timeline.from_events(events, CALLER, finished_at=101.0)
    assert drawn.duration == pytest.approx(1.0)
    text = timeline.render(drawn)
    assert "░" in text and "still running" in text
    row = next(line for line in text.splitlines() if line.startswith("worker 2"))
    assert row.endswith("░|")


# --- the terminal -------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", [serial_run, threaded_run, pooled_run])
@pytest.mark.parametrize("width", [100, 80, 60])
def test_every_line_fits_the_width_and_the_ascii_drawing_is_plain_ascii(run, width):
    drawn = timeline.from_run(run(), title="build_words_parallel(" + ", ".join(str(n) for n in range(60)) + ", processes=3)")
    for ascii in (False, True):
        text = timeline.render(drawn, width=width, ascii=ascii)
        assert max(len(line) for line in text.splitlines()) <= width, text
        if ascii:
            assert text.isascii() and "#" in text
        else:
            assert "█" in text
    assert max(len(line) for line in timeline.render(drawn, width=300).splitlines()) <= timeline.MAX_WIDTH


def test_the_time_axis_is_in_seconds_and_lane_labels_name_the_process():
    text = timeline.render(timeline.from_run(pooled_run()))
    lines = text.splitlines()
    axis = next(index for index, line in enumerate(lines) if re.fullmatch(r" +\+[-+]+", line))
    assert lines[axis + 1].split()[:2] == ["0", "s"]
    assert [float(tick) for tick in lines[axis + 1].split()[2:]] == sorted(float(tick) for tick in lines[axis + 1].split()[2:])
    assert lines[0].startswith(f"grader (pid {CALLER})") and lines[1].startswith("worker 1 (pid 5000)")


def test_a_long_lane_label_is_cut_but_the_bars_keep_their_room():
    events = [TraceEvent("f", 7, 0.0, 1.0), TraceEvent("f", 7, 0.5, 1.5)]
    drawn = timeline.from_events(events, 123456789012, title="t")
    drawn.lanes.append(timeline.Lane("a lane whose name is much longer than the label column allows", "process"))
    text = timeline.render(drawn, width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "a lane whose name is much longer than t… |" in text


# --- requests and Dask ----------------------------------------------------------------------------------


def exchange(url, start, end, **extra):
    return SimpleNamespace(url=url, start=start, end=end, status=200, blocking=False, **extra)


def test_requests_in_flight_stack_as_high_as_the_most_at_once():
    exchanges = [exchange(f"https://example.org/file-{i}.csv", i * 0.5, i * 0.5 + 1.2) for i in range(6)]
    drawn = timeline.from_exchanges(exchanges, title="download_all(...)")
    lane = drawn.lanes[0]
    assert lane.kind == "requests" and lane.name == "requests (at most 3 in flight)"
    assert len(lane.rows(drawn.duration)) == 3 and lane.bars[0].label == "/file-0.csv"
    assert "one request each" in timeline.render(drawn)


def test_dask_tasks_have_a_lane_per_worker_and_the_downloads_one_of_their_own():
    workers = ["tcp://127.0.0.1:40001", "tcp://127.0.0.1:40002", "tcp://127.0.0.1:40003"]
    tasks = [
        SimpleNamespace(key=f"process-{i}", name="process_archive", worker=workers[i % 2], start=1000.5 + i, stop=1001.4 + i)
        for i in range(4)
    ] + [SimpleNamespace(key="never", name="process_archive", worker=None, start=None, stop=None)]
    requests = [SimpleNamespace(path=f"/{i}.zip", start=1000.0 + i, end=1000.4 + i, status=200) for i in range(4)]
    drawn = timeline.from_dask(tasks, workers, requests, title="run_on_cluster")
    assert [lane.name for lane in drawn.lanes] == [
        "downloads (at most 1 in flight)", "worker 1 (127.0.0.1:40001)", "worker 2 (127.0.0.1:40002)",
        "worker 3 (127.0.0.1:40003)",
    ]
    assert [len(lane.bars) for lane in drawn.lanes] == [4, 2, 2, 0]
    assert drawn.lanes[0].bars[0].start == 0 and drawn.lanes[1].bars[0].start == pytest.approx(0.5)
    assert "4 tasks on 2 of 3 workers" in drawn.notes[0]


def test_a_harness_value_gives_its_timelines_by_shape():
    served = SimpleNamespace(exchanges=[exchange("https://x.org/a", 0.0, 1.0)])
    assert [t.lanes[0].kind for t in timeline.from_value(served, "f()")] == ["requests"]
    pipeline = SimpleNamespace(served=served, timeouts=[])
    assert timeline.from_value(pipeline, "f()")[0].title == "f(): requests in flight"
    cluster = SimpleNamespace(tasks=[SimpleNamespace(name="t", worker="tcp://w:1", start=1.0, stop=2.0)], workers=["tcp://w:1"], requests=[])
    assert [t.lanes[0].kind for t in timeline.from_value(cluster)] == ["worker"]
    for plain in (None, 3, [1, 2], {"tasks": [1]}, "text"):
        assert timeline.from_value(plain) == []


# --- the page -------------------------------------------------------------------------------------------


def test_the_page_is_self_contained_with_a_legend_and_a_hover_title_per_bar(tmp_path):
    drawn = timeline.from_run(pooled_run(), title="build_words_parallel(seeds=[...], processes=3) & <more>")
    page = timeline.write_html(tmp_path / "t.html", [drawn], "02_multiprocessing: words_parallel failed", ["not parallel"]).read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page.lower()
    # Nothing is fetched: no src or href, no stylesheet link, no URL but the SVG namespace's name.
    assert not re.search(r"\b(src|href)\s*=", page) and "<link" not in page
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "&amp; &lt;more&gt;" in page and "& <more>" not in page
    assert page.count('<rect class="gt-bar gt-process') == 7
    assert len(re.findall(r"<rect class=\"gt-bar[^>]*><title>build_word: \d\.\d{3} s to \d\.\d{3} s", page)) == 7
    for meaning in (timeline.MEANING["grader"], timeline.MEANING["process"]):
        assert timeline._e(meaning) in page
    assert timeline.MEANING["thread"] not in page
    for lane in drawn.lanes:
        assert f">{lane.name}<title>" in page
    width, height = map(float, re.search(r'viewBox="0 0 (\d+) (\d+)"', page).groups())
    xs = [float(x) + float(w) for x, w in re.findall(r'<rect class="gt-bar[^"]*" x="([\d.]+)" y="\d+" width="([\d.]+)"', page)]
    assert max(xs) <= width


def test_thousands_of_tiny_calls_are_merged_in_the_picture_but_all_counted():
    events = [TraceEvent("collatz_steps", 5000 + i % 3, 100 + i * 0.0001, 100 + i * 0.0001 + 0.00008) for i in range(3000)]
    drawn = timeline.from_events(events, CALLER)
    svg = timeline.to_svg(drawn)
    assert svg.count("<rect class=\"gt-bar") < 400
    counted = sum(int(n) for n in re.findall(r"<title>(\d+) calls of collatz_steps", svg))
    singles = len(re.findall(r"<title>collatz_steps:", svg))
    assert counted + singles == 3000


# --- the grading side -----------------------------------------------------------------------------------


def graded_target(monkeypatch, runs):
    from graders.grading import catalog
    from graders.grading.settings import Settings
    from graders.grading.target import GradedTarget
    from graders.sandbox import parent

    given = []

    def run_calls(folder, module, calls, **options):
        given.append(options)
        return runs.pop(0)

    monkeypatch.setattr(parent, "run_calls", run_calls)
    settings = Settings(None, Path("."), "fork", 10.0, 0.15, 5, 1, 2)
    return GradedTarget(catalog.exercises()["02_multiprocessing"], Path("."), settings), given


def test_a_traced_run_keeps_its_timeline_for_every_check_that_reads_it(monkeypatch):
    from graders.sandbox.calls import Call

    target, _ = graded_target(monkeypatch, [pooled_run(), serial_run()])
    call = Call("build_words_parallel", (), label="build_words_parallel(...)")
    target.begin_check()
    target.once("parallel", lambda: target.run("word_builder", [call], trace=("build_word",), rendezvous=3, trace_wait_s=2.0))
    first = target.check_timelines
    assert len(first) == 1 and first[0].title == "build_words_parallel(...)" and len(first[0].lanes) == 4
    # The next check reads the same run from the memo: the same timeline is its own too.
    target.begin_check()
    assert target.check_timelines == []
    target.once("parallel", lambda: pytest.fail("computed twice"))
    assert target.check_timelines == first
    # An untraced run, or a timed one, draws nothing; a new traced run adds to the list.
    target.begin_check()
    target.run("word_builder", [call], timeline=False, trace=("build_word",))
    assert target.check_timelines == [] and target.timelines == first


def test_the_timeline_reads_the_hold_the_run_was_given(monkeypatch):
    from graders.sandbox.calls import Call

    held = [TraceEvent("build_word", CALLER, 100.0, 101.02), TraceEvent("build_word", CALLER, 101.03, 101.05)]
    target, given = graded_target(monkeypatch, [SandboxRun([], CALLER, held, 101.1)])
    target.begin_check()
    target.run("word_builder", [Call("f", ())], trace=("build_word",), rendezvous=3, trace_wait_s=1.0)
    assert "timeline" not in given[0]
    bars = target.check_timelines[0].lanes[0].bars
    assert bars[0].start == 0 and bars[0].end == pytest.approx(0.02)


def test_the_plugin_draws_the_timeline_under_a_failed_check_and_all_of_them_on_request(grade, pytester):
    """One real grading run: exercise 02's ThreadPool entry, its words_parallel check, with --timeline."""
    folder = submission(pytester.path / "submission", "02_multiprocessing", overlay=GALLERY / "threadpool")
    grading = grade(folder, args=("-k", "test_words_parallel", "--timeline", "--call-timeout", "6"))
    output = grading.result.stdout.str()
    assert grading.outcomes() == {"words_parallel": "failed"}, output
    failure = output[output.index("_ test_words_parallel _"):output.index("grading summary")]
    section = failure[failure.index(" timeline "):]
    assert re.search(r"threads in one process \(pid \d+\) +\|", section), section
    assert "in threads: they overlap" in section and "0 s" in section
    pages = list(pytester.path.rglob(".graders/timelines/02_multiprocessing-words_parallel.html"))
    assert len(pages) == 1 and "The same in a browser: " in section and pages[0].name in section
    assert "threads in one process (pid" in pages[0].read_text(encoding="utf-8")
    summary = output[output.index(" timelines "):]
    assert re.search(r"threads in one process \(pid \d+\)", summary)
    assert list(pytester.path.rglob(".graders/timelines/02_multiprocessing.html"))
    drawn = [line for line in output.splitlines() if line.rstrip().endswith("|") and "(pid " in line]
    assert drawn and max(len(line) for line in output.splitlines() if "|" in line and "pid" in line) <= timeline.MAX_WIDTH
