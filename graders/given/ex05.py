"""The grader's copies of the functions exercise 05 gives the learner (executors.py).

Expected failure texts and file names come from these, never from the learner's module.
"""

STUB_FUNCTIONS = {"executors": ("archive_name", "describe_failure")}


def archive_name(url):
    """The archive's file name: the last part of its URL."""
    return url.rsplit("/", 1)[-1]


def describe_failure(error):
    """How a failure is reported: the exception's type and message."""
    return f"{type(error).__name__}: {error}"
