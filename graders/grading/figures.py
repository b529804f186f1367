"""Speed figures that teach: what a measured speedup says about the code, beyond pass or fail.

A speedup alone ("1.4x on 2 cores") leaves a learner guessing whether that is good. Three figures
read it the way the course does:

- efficiency = speedup / cores: the share of each core the code put to use (1.0 is perfect);
- the serial fraction the speedup implies (the Karp-Flatt metric), e = (1/S - 1/p) / (1 - 1/p): the
  share of the work that behaved as if it could not be spread over cores at all (starting workers,
  sending tasks and results, the caller's own work, waiting on the slowest worker);
- what Amdahl's law then predicts on more cores: S(n) = 1 / (e + (1 - e) / n), at most 1/e however
  many cores.

The metric needs at least two cores and a positive speedup; outside that (one core, a speedup of
zero or less, not a number) there is nothing to infer, and the text says so instead of dividing by
zero. A speedup above the core count (caches that fit once the work is split) implies a negative
serial fraction: reported as "none shows", and the predictions then assume none.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

AMDAHL_CORES = (4, 8, 16)


@dataclass(frozen=True)
class SpeedFigures:
    speedup: float
    cores: int

    @property
    def measurable(self) -> bool:
        return self.cores >= 2 and math.isfinite(self.speedup) and self.speedup > 0

    @property
    def efficiency(self) -> float | None:
        if self.cores < 1 or not math.isfinite(self.speedup) or self.speedup <= 0:
            return None
        return self.speedup / self.cores

    @property
    def serial_fraction(self) -> float | None:
        """Karp-Flatt: (1/S - 1/p) / (1 - 1/p); None with fewer than two cores or no positive speedup."""
        if not self.measurable:
            return None
        p = self.cores
        return (1 / self.speedup - 1 / p) / (1 - 1 / p)

    def amdahl(self, cores: int) -> float | None:
        """The speedup Amdahl's law predicts on ``cores`` with this serial fraction (none below 0 or above 1)."""
        e = self.serial_fraction
        if e is None or cores < 1:
            return None
        e = min(max(e, 0.0), 1.0)
        return 1 / (e + (1 - e) / cores)

    def predictions(self) -> dict[int, float]:
        return {n: value for n in AMDAHL_CORES if (value := self.amdahl(n)) is not None}

    def as_dict(self) -> dict:
        return {
            "efficiency": self.efficiency,
            "serial_fraction": self.serial_fraction,
            "amdahl": {str(n): value for n, value in self.predictions().items()},
        }

    def line(self) -> str:
        """One line for a measurement: efficiency, serial fraction, Amdahl's predictions."""
        if not self.measurable:
            return "no serial fraction can be inferred " + (
                "from one core" if self.cores < 2 else "from a speedup that is not positive"
            )
        e = self.serial_fraction
        if e >= 1:
            return (
                f"efficiency {self.efficiency:.0%} of {self.cores} cores: no speedup over the serial loop, so no "
                "serial fraction to infer and nothing for Amdahl's law to extrapolate"
            )
        serial = "no serial fraction shows" if e <= 0 else f"serial fraction {e:.2f} (Karp-Flatt)"
        text = f"efficiency {self.efficiency:.0%} of {self.cores} cores, {serial}"
        predicted = ", ".join(f"{value:.1f}x on {n}" for n, value in self.predictions().items())
        return f"{text}; Amdahl's law predicts {predicted} cores"

    def paragraph(self) -> str:
        """What the speedup means, in the learner's terms, in one paragraph."""
        if self.cores < 2:
            return (
                f"Measured on {self.cores} core: a speedup needs at least two cores to show, so nothing can "
                "be said about how much of your code runs in parallel."
            )
        if not self.measurable:
            return (
                "No positive speedup was measured, so there is nothing to read from it: make the parallel "
                "version correct and running in worker processes first."
            )
        s, p, e = self.speedup, self.cores, self.serial_fraction
        opening = (
            f"Your version ran {s:.2f}x as fast as the serial loop on {p} cores: an efficiency of "
            f"{self.efficiency:.0%} (each core did {self.efficiency:.2f} of a core's full share of the work)."
        )
        if e >= 1:
            return (
                f"{opening} That is no faster than serial code: whatever the workers did in parallel was "
                "cancelled by the cost of starting them and of sending them tasks and results. More cores "
                "would not help; larger tasks (chunks) or less data sent per task would."
            )
        predicted = self.predictions()
        listed = ", ".join(f"{value:.1f}x on {n}" for n, value in predicted.items())
        if e <= 0:
            return (
                f"{opening} No part of the work behaved as serial (the Karp-Flatt serial fraction is "
                f"{e:.2f}): with none, Amdahl's law predicts {listed} cores."
            )
        return (
            f"{opening} Read through Amdahl's law, that speedup means about {e:.0%} of the work behaved as "
            "serial (the Karp-Flatt serial fraction: starting workers, sending tasks and results, the "
            f"caller's own work, waiting for the slowest worker). With that fraction, Amdahl's law predicts "
            f"{listed} cores, and never more than {1 / e:.1f}x however many cores: to go faster, shrink the "
            "serial part."
        )


def figures(speedup: float, cores: int) -> SpeedFigures:
    return SpeedFigures(float(speedup), int(cores))
