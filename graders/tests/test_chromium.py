"""What a learner sees of a timeline in a browser: the HTML page and nbgrader's feedback page with the
timeline inline, each loaded in headless Chromium from real traced runs of exercise 02 (a serial, a
threaded and a pooled build_words_parallel).

Each page is loaded twice: once with a small probe script added (for this test only: the pages
themselves hold no script) that writes into the document what the browser laid out (the lane labels it
shows, the SVG's right edge against the window's, the page's scrollWidth against its clientWidth), read
back with ``--dump-dom``; once as it is, for a screenshot. Set GRADERS_UPDATE_SCREENSHOTS=1 to write
the screenshots the README shows into docs/screenshots/ (timeline-serial.png, timeline-threads.png,
timeline-pool.png, feedback-timeline.png); otherwise only the pool's is taken, into the test's temporary
folder (each Chromium start costs seconds).
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from graders.report import timeline
from graders.sandbox import parent
from graders.sandbox.calls import Call
from graders.tests.conftest import PROJECT, submission

GALLERY = Path(__file__).with_name("gallery") / "02_multiprocessing"
SCREENSHOTS = PROJECT / "docs" / "screenshots"
UPDATE_ENV = "GRADERS_UPDATE_SCREENSHOTS"
PROCESSES = 3
# The trace channel's rendezvous and wait, as in the grader's parallel runs (a shorter wait: serial and
# threaded code sit it out once).
HOLD = (PROCESSES, 0.5)
SEEDS = [11, 23, 37, 41, 53, 67, 79]
LENGTH = 300_000


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


pytestmark = pytest.mark.skipif(
    chromium() is None,
    reason="no Chromium binary (chromium, chromium-browser or google-chrome) on PATH: apt-get install -y chromium",
)

SOLUTIONS = {
    "serial": GALLERY / "serial_as_parallel",
    "threads": GALLERY / "threadpool",
    "pool": None,  # the reference solution
}

PROBE = """
<script>
(function () {
  var root = document.documentElement;
  var labels = Array.prototype.map.call(document.querySelectorAll("text.gt-lane-label"), function (t) {
    var box = t.getBoundingClientRect(), svg = t.ownerSVGElement, plot = svg.getBoundingClientRect();
    var unit = plot.width / svg.viewBox.baseVal.width;
    return {text: t.firstChild.textContent, width: box.width, right: box.right - plot.left,
            column: Number(svg.getAttribute("data-plot-x")) * unit};
  });
  var svgs = Array.prototype.map.call(document.querySelectorAll("svg.graders-timeline"), function (s) {
    var box = s.getBoundingClientRect();
    var holder = s.closest("div.output_subarea, div.output_area, body").getBoundingClientRect();
    return {left: box.left, right: box.right, height: box.height, holder_right: holder.right};
  });
  var probe = document.createElement("div");
  probe.id = "graders-probe";
  probe.textContent = JSON.stringify({
    labels: labels, svgs: svgs, bars: document.querySelectorAll("rect.gt-bar").length,
    scroll_width: root.scrollWidth, client_width: root.clientWidth, inner_width: window.innerWidth,
    height: document.body.scrollHeight,
    text: document.body.innerText
  });
  document.body.appendChild(probe);
})();
</script>
"""


def browse(page: str, folder: Path, width: int = 1000, screenshot: Path | None = None) -> dict:
    """Load ``page`` in headless Chromium ``width`` pixels wide: what the probe found (and a screenshot)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "probed.html"
    path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--hide-scrollbars"]
    env = {**os.environ, "HOME": str(folder)}
    done = subprocess.run([chromium(), *flags, f"--window-size={width},900", "--dump-dom", path.as_uri()],
                          capture_output=True, text=True, timeout=120, cwd=folder, env=env)
    found = re.search(r'<div id="graders-probe">(.*?)</div>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    shown = json.loads(html.unescape(found.group(1)))
    if screenshot is not None:
        plain = folder / "page.html"
        plain.write_text(page, encoding="utf-8")
        subprocess.run([chromium(), *flags, f"--window-size={width},{shown['height'] + 24}", f"--screenshot={screenshot}",
                        plain.as_uri()], capture_output=True, timeout=120, cwd=folder, env=env)
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 10_000
    return shown


def screenshot_path(tmp_path: Path, name: str, always: bool = False) -> Path | None:
    """docs/screenshots/``name`` when asked to update them; else a temporary file if ``always``, or none."""
    if os.environ.get(UPDATE_ENV):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS / name
    return tmp_path / name if always else None


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, timeline.Timeline]:
    """build_words_parallel of each solution, traced as the grader traces it, drawn."""
    drawn = {}
    for kind, overlay in SOLUTIONS.items():
        if overlay is None:
            folder = PROJECT / "solutions" / "02_multiprocessing"
        else:
            folder = submission(tmp_path_factory.mktemp(kind), "02_multiprocessing", overlay=overlay)
        call = Call("build_words_parallel", (SEEDS, LENGTH, PROCESSES),
                    label=f"build_words_parallel(seeds={SEEDS}, length={LENGTH}, processes={PROCESSES})")
        run = parent.run_calls(folder, "word_builder", [call], timeout=60, start_method="fork", trace=("build_word",),
                               rendezvous=HOLD[0], trace_wait_s=HOLD[1])
        assert run.outcomes[0].ok, (kind, run.outcomes[0])
        drawn[kind] = timeline.from_run(run, title=f"{kind}: {call.describe()}", hold=HOLD)
    return drawn


def test_real_runs_draw_the_lanes_of_a_serial_a_threaded_and_a_pooled_solution(runs):
    serial, threads, pool = runs["serial"], runs["threads"], runs["pool"]
    assert [lane.kind for lane in serial.lanes] == ["grader"] and len(serial.lanes[0].bars) == len(SEEDS)
    assert serial.lanes[0].most_at_once(serial.duration) == 1
    assert [lane.kind for lane in threads.lanes] == ["thread"] and len(threads.lanes[0].bars) == len(SEEDS)
    assert threads.lanes[0].name.startswith("threads in one process (pid ")
    assert 2 <= threads.lanes[0].most_at_once(threads.duration) <= PROCESSES
    assert [lane.kind for lane in pool.lanes] == ["grader"] + ["process"] * PROCESSES
    assert not pool.lanes[0].bars and sum(len(lane.bars) for lane in pool.lanes[1:]) == len(SEEDS)
    assert [lane.name.split(" (")[0] for lane in pool.lanes[1:]] == [f"worker {n}" for n in range(1, PROCESSES + 1)]


@pytest.mark.parametrize("kind", sorted(SOLUTIONS))
def test_the_html_timeline_shows_every_lane_and_nothing_is_cut_at_the_right_edge(runs, kind, tmp_path):
    drawn = runs[kind]
    page = timeline.html_page([drawn], f"02_multiprocessing: build_words_parallel, {kind}")
    assert "<script" not in page
    shown = browse(page, tmp_path / "wide", screenshot=screenshot_path(tmp_path, f"timeline-{kind}.png", always=kind == "pool"))
    assert [label["text"] for label in shown["labels"]] == [lane.name for lane in drawn.lanes]
    assert all(0 < label["width"] and label["right"] <= label["column"] for label in shown["labels"]), shown["labels"]
    assert shown["bars"] == drawn.bars
    assert shown["scroll_width"] <= shown["client_width"]
    (svg,) = shown["svgs"]
    assert svg["right"] <= shown["inner_width"] and svg["height"] > 50
    for note in drawn.notes:
        assert " ".join(note.split()[:6]) in shown["text"]
    if kind == "pool":  # the most lanes: in a narrow window the picture shrinks instead of running off the edge
        narrow = browse(page, tmp_path / "narrow", width=520)
        assert narrow["scroll_width"] <= narrow["client_width"] and narrow["svgs"][0]["right"] <= narrow["inner_width"]


def feedback_notebook(drawn: timeline.Timeline):
    """A graded notebook as WriteVerdicts leaves it: words_parallel failed with its timeline, words_results passed."""
    from graders.classroom import notebook
    from graders.classroom.autograde import TIMELINES, VERDICTS, WriteVerdicts

    def test_cell(name: str, points: int):
        source = f'# Check {name} ({points} points)\nfrom graders.classroom.notebook import check\ncheck("02_multiprocessing", "{name}")'
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
            "grade": True, "solution": False, "locked": True, "grade_id": f"test_{name}", "points": points, "schema_version": 3,
        }})

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 02 multiprocessing\nBuild the words in a pool of `processes` workers."),
        test_cell("words_results", 1),
        test_cell("words_parallel", 2),
    ])
    message = notebook.wrap(
        "words_parallel: not parallel: all 7 calls of build_word ran inside the calling process itself: the code is "
        "serial, or uses threads, which cannot run Python code in parallel (the GIL lets one thread run at a time)."
    )
    verdicts = {"test_words_results": notebook.Verdict("words_results: passed, 1 point.\n", None),
                "test_words_parallel": notebook.Verdict("", message)}
    drawings = {"test_words_parallel": (timeline.html_fragment([drawn]), timeline.render(drawn, 96, ascii=True)),
                "test_words_results": (timeline.html_fragment([drawn]), "not shown: this check passed")}
    nb, _ = WriteVerdicts().preprocess(nb, {VERDICTS: verdicts, TIMELINES: drawings})
    for cell in nb.cells[1:]:
        failed = any(output.output_type == "error" for output in cell.outputs)
        cell.metadata["nbgrader"]["score"] = 0.0 if failed else cell.metadata["nbgrader"]["points"]
    return nb


def feedback_page(nb, name: str) -> str:
    """The page ``nbgrader generate_feedback`` writes for ``nb`` with the course's exporter (as its config sets it)."""
    import nbgrader
    from traitlets.config import Config

    from graders.classroom.autograde import FeedbackExporter

    templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [str(templates)]
    config.HTMLExporter.extra_template_paths = [str(templates.parent / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    resources = {"nbgrader": {"notebook": name, "score": 1.0, "max_score": 3.0, "late_penalty": 0}}
    page, _ = FeedbackExporter(config=config).from_notebook_node(nb, resources=resources)
    return page


def test_the_feedback_page_shows_the_timeline_inline_under_the_failed_check(runs, tmp_path):
    from nbgrader.utils import determine_grade

    drawn = runs["threads"]
    nb = feedback_notebook(drawn)
    passed, failed = nb.cells[1], nb.cells[2]
    assert [o.output_type for o in passed.outputs] == ["stream"]
    assert [o.output_type for o in failed.outputs] == ["error", "display_data"]
    # The picture scores nothing: the failed cell still scores 0, the passed one its points.
    assert determine_grade(failed) == (0, 2.0) and determine_grade(passed) == (1.0, 1.0)
    page = feedback_page(nb, "02_multiprocessing")
    shown = browse(page, tmp_path / "feedback", width=1200, screenshot=screenshot_path(tmp_path, "feedback-timeline.png"))
    assert [label["text"] for label in shown["labels"]] == [lane.name for lane in drawn.lanes]
    assert shown["bars"] == drawn.bars
    (svg,) = shown["svgs"]
    assert svg["right"] <= svg["holder_right"] + 1 and svg["right"] <= shown["inner_width"]
    assert shown["scroll_width"] <= shown["client_width"]
    assert "not parallel: all 7 calls of build_word" in shown["text"] and "Check words_parallel" in shown["text"]
    for note in drawn.notes:
        assert " ".join(note.split()[:6]) in shown["text"]


def test_autograde_asks_the_grader_for_timelines_and_restores_the_environment(monkeypatch, tmp_path):
    """GradeModules points the grader at a folder for its drawings and hands them to WriteVerdicts."""
    from graders.classroom import autograde, notebook
    from graders.grading.settings import TIMELINE_DIR_ENV

    monkeypatch.delenv(TIMELINE_DIR_ENV, raising=False)
    monkeypatch.delenv(notebook.SCORED_OUTSIDE_ENV, raising=False)
    asked = []

    def grade_check(exercise, name, folder):
        drawings = Path(os.environ[TIMELINE_DIR_ENV])
        asked.append(drawings)
        if name == "words_parallel":  # as the plugin writes a failed check's timeline there
            drawings.mkdir(parents=True, exist_ok=True)
            (drawings / f"{exercise}-{name}.html").write_text("<div>svg</div>", encoding="utf-8")
            (drawings / f"{exercise}-{name}.txt").write_text("text", encoding="utf-8")
            return notebook.Verdict("", "words_parallel: not parallel")
        return notebook.Verdict("", None)

    monkeypatch.setattr(notebook, "grade_check", grade_check)
    cells = [
        nbformat.v4.new_code_cell(f'check("02_multiprocessing", "{name}")', metadata={"nbgrader": {
            "grade": True, "solution": False, "grade_id": f"test_{name}", "points": 1}})
        for name in ("words_results", "words_parallel")
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb, resources = autograde.GradeModules().preprocess(nb, {})
    os.environ.pop(notebook.SCORED_OUTSIDE_ENV, None)
    assert TIMELINE_DIR_ENV not in os.environ and len(set(asked)) == 1
    assert resources[autograde.TIMELINES] == {"test_words_parallel": ("<div>svg</div>", "text")}
    nb, _ = autograde.WriteVerdicts().preprocess(nb, resources)
    assert [o.output_type for o in nb.cells[0].outputs] == []
    assert nb.cells[1].outputs[-1].data == {"text/html": "<div>svg</div>", "text/plain": "text"}
