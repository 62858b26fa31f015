"""Long-polling: each poll asks the server to hold it until the status changes
(``Prefer: wait=N``, RFC 7240), and its time grows by ``N``.

While answers say the server held the poll (``Preference-Applied: wait=...``), the status
came as a ``long-poll`` (the engine then sends the next poll at once, a hint still a floor);
the first answer that does not say so means this server does not hold polls, and the source
gives way, quietly, to plain polling for the rest of the wait (``phase``: long-polling, then
polling). Everything else is polling's (``core.sources.poll``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from progress_client.core.phases import Phase
from progress_client.core.sources.poll import POLL, PollSource

if TYPE_CHECKING:
    from progress_client.core.report import Mode
    from progress_client.core.transitions import Transitions

__all__ = ["LONG_POLL", "LongPollSource"]


class LongPollSource(PollSource):
    """Long-polling; the wait's ``config.long_poll`` says how long. Keeps no state: one object
    serves every wait (``LONG_POLL``)."""

    __slots__ = ()

    phase = Phase.LONG_POLLING
    holds = True

    def answered(self, engine: Transitions, headers: Mapping[str, str]) -> Mode:
        if "wait" in headers.get("preference-applied", ""):
            return "long-poll"
        engine._source = POLL  # the server does not hold polls: the schedule rules
        return "poll"


#: The long-polling source, shared by every wait that asks for it.
LONG_POLL = LongPollSource()
