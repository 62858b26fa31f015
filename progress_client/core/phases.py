"""The engine's phases and the transitions between them: the map of a job's wait, as data.

``PollEngine.phase`` says where a wait stands; ``TRANSITIONS`` is every move it may make, and
``table()`` renders it for the engine's theory of operation (``core.engine``'s docstring prints it;
a test holds the two together, and another drives engines through every kind of wait and checks
each observed move against the table). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

__all__ = ["TRANSITIONS", "Phase", "table"]


class Phase(str, Enum):
    """Where a job's wait stands."""

    #: The start request is still to be sent or answered (``run``).
    STARTING = "starting"
    #: Polling the status URL on the adaptive schedule (or a hint).
    POLLING = "polling"
    #: Listening on the event stream (reconnecting after a drop).
    STREAMING = "streaming"
    #: Polling with each poll held by the server (``Prefer: wait=N``).
    LONG_POLLING = "long-polling"
    #: The job succeeded; its result is being fetched.
    FETCHING_RESULT = "fetching the result"
    #: A caller gave up; the one cancel request is being sent.
    CANCELLING = "cancelling"
    #: The wait is over: an outcome, or the cancel's answer.
    DONE = "done"


_P = Phase
#: Every move a wait may make (a phase never listed as a target of another is never entered
#: from it). A caller may give up in any phase but the last, so every phase may lead to
#: CANCELLING.
TRANSITIONS: Mapping[Phase, frozenset[Phase]] = {
    _P.STARTING: frozenset({_P.POLLING, _P.LONG_POLLING, _P.FETCHING_RESULT, _P.CANCELLING,
                            _P.DONE}),
    _P.POLLING: frozenset({_P.FETCHING_RESULT, _P.CANCELLING, _P.DONE}),
    _P.STREAMING: frozenset({_P.POLLING, _P.LONG_POLLING, _P.FETCHING_RESULT, _P.CANCELLING,
                             _P.DONE}),
    _P.LONG_POLLING: frozenset({_P.POLLING, _P.FETCHING_RESULT, _P.CANCELLING, _P.DONE}),
    _P.FETCHING_RESULT: frozenset({_P.CANCELLING, _P.DONE}),
    _P.CANCELLING: frozenset({_P.DONE}),
    _P.DONE: frozenset(),
}


def table() -> str:
    """The transition table as the theory of operation prints it."""
    width = max(len(p.value) for p in Phase)
    lines = []
    for phase in Phase:
        targets = ", ".join(t.value for t in Phase if t in TRANSITIONS[phase]) or "(the end)"
        lines.append(f"    {phase.value:<{width}} -> {targets}")
    return "\n".join(lines)
