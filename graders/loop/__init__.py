"""The learner's loop: progress, hints on demand, and regrading on save."""
