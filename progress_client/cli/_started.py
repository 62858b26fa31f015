"""When this process started, so that a command's ``--timeout`` is wall time: the deadline a
script sets covers the interpreter's start-up and the imports too, not only the polling.

On Linux the kernel's record of the process's start is used (``/proc/self/stat``, to the
clock tick, rounded down: a deadline counted from it can only fire early, by under 10 ms);
elsewhere, the moment this module was imported, which the command line does first."""

from __future__ import annotations

import os
import time

__all__ = ["process_started", "time_left"]

#: ``time.monotonic()`` when this module was imported: the fallback start.
IMPORTED = time.monotonic()
#: A process "started" longer ago than this is not a command just launched (a program that
#: calls ``main()`` late in its life): its deadlines count from the call instead.
MAX_AGE = 10.0


def _kernel_age() -> float | None:
    """Seconds since the kernel started this process, or None where that is not known."""
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        # Fields after the command name, which is in parentheses and may hold anything.
        fields = stat[stat.rindex(b")") + 2 :].split()
        ticks = int(fields[19])  # field 22, starttime: clock ticks after boot
        hz = os.sysconf("SC_CLK_TCK")
        now = time.clock_gettime(time.CLOCK_BOOTTIME)
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    age = now - ticks / hz
    return age if age >= 0 else None


def process_started() -> float:
    """The process's start as a ``time.monotonic()`` value (see the module's docstring)."""
    now = time.monotonic()
    age = _kernel_age()
    if age is None:
        age = now - IMPORTED
    return now - age if age <= MAX_AGE else now


def time_left(timeout: float | None, started: float | None) -> float | None:
    """What is left of ``timeout`` seconds counted from ``started`` (never negative); all of
    it when ``started`` is None."""
    if timeout is None or started is None:
        return timeout
    return max(0.0, timeout - (time.monotonic() - started))
