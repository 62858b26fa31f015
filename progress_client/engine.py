"""The engine's vocabulary: for code that drives ``PollEngine`` itself.

``ProgressClient`` and ``AsyncProgressClient`` are what most programs need; this module is for
a driver of your own (another HTTP library, an event loop of your own, a test harness): the
sans-IO engine, the actions it returns from ``next_action`` (``Request``, ``Sleep``,
``ReadStream``, ``Stop``) and what it hands out while it waits (``Update``, ``FellBack``), its
named phases, and the state and counters a wait carries (``EngineState``, ``Counters``).
Nothing here does I/O or reads a clock; see "Theory of operation" in the engine's docstring.
"""

from __future__ import annotations

from progress_client.core.actions import FellBack, ReadStream, Request, Sleep, Stop, Update
from progress_client.core.engine import PollEngine
from progress_client.core.phases import Phase
from progress_client.core.report import Counters
from progress_client.core.state import EngineState

__all__ = [
    "Counters",
    "EngineState",
    "FellBack",
    "Phase",
    "PollEngine",
    "ReadStream",
    "Request",
    "Sleep",
    "Stop",
    "Update",
]

# Shown as this module's, as the package's names are shown as its own (``Update`` and
# ``FellBack``, which ``watch`` hands to every caller, are the package's).
_value: type
for _value in (Counters, EngineState, Phase, PollEngine, ReadStream, Request, Sleep, Stop):
    _value.__module__ = __name__
for _value in (FellBack, Update):
    _value.__module__ = "progress_client"
del _value
