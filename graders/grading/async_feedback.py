"""Failure messages shared by the graders of async exercises (03, 04), in the learner's terms."""
from __future__ import annotations

from graders.harnesses.asyncio_calls import is_nested_loop_error
from graders.grading.feedback import fail, value_of
from graders.harnesses.http_calls import ServedRun


def nested_loop_problem(call: str, misuse: str | None, error: str) -> str | None:
    """Why ``call`` failed if it ran an event loop inside the running one, else None."""
    if misuse is None and not is_nested_loop_error(error):
        return None
    where = f" ({misuse})" if misuse else ""
    return (
        f"{call} called asyncio.run(){where} while an event loop was already running. A loop is always "
        "running in a Jupyter notebook, where nbgrader runs your code, and asyncio.run cannot be "
        "called there (nor loop.run_until_complete). Make the function `async def` and `await` "
        "inside it; keep asyncio.run for a script's `if __name__ == \"__main__\":` part"
    )


def served_value(served: ServedRun, call: str, module: str):
    """The learner's return value from a served run, or fail the check with what went wrong.

    An exception group (``asyncio.TaskGroup``) is reported by the exceptions it holds, not by the
    group's own "unhandled errors in a TaskGroup".
    """
    if served.network:
        fail(
            f"{call} tried to reach the real network ({served.network[0]}). Graded runs are offline: "
            "download only the URLs you are given, with httpx, which the grader answers itself",
            cause="real_network",
        )
    problem = nested_loop_problem(call, served.asyncio_run_misuse, served.outcome.error)
    if problem:
        fail(problem, cause="nested_loop")
    if "not mocked" in served.outcome.error or any("not mocked" in e.message for e in served.errors):
        fail(f"{call} requested a URL that is not one of the URLs it was given ({served.outcome.error})", cause="unknown_url")
    if served.group and not served.outcome.ok and served.errors:
        held = "; ".join(error.describe() for error in served.errors[:3])
        more = f" and {len(served.errors) - 3} more" if len(served.errors) > 3 else ""
        fail(f"{call} raised an exception group (from a TaskGroup) holding {held}{more}", cause=served.outcome.status)
    return value_of(served.outcome, call, module)
