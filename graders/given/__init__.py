"""The grader's own copies of the functions an exercise gives the learner.

Expected values are computed with these, never with the learner's module: a learner who "optimises" a
given task function wrongly must get wrong totals, not full marks for agreeing with themselves. Each
module names what it copies in ``STUB_FUNCTIONS`` ({learner module: (function, ...)}), and
graders/tests/test_given.py keeps every copy identical to the stub's.
"""
