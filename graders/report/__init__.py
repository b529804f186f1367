"""The grading report: one model of what a grading run found, and a writer per output format.

Everything that reads or writes a grading result goes through :mod:`graders.report.model`: the
pytest plugin builds it, the JSON report (``--grading-report``), Gradescope's ``results.json``
(``--gradescope``), the CSV table (``--grading-csv``) and the notebook check cells all read it, so
a verdict such as "inconclusive" is a :class:`~graders.report.model.Status`, never a phrase.
"""
