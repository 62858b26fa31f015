"""The job traces every benchmark runs: one place, so the frontier and the live run agree."""

from __future__ import annotations

from progress_client.core.simulate import evenly_spaced_timeline

__all__ = ["TRACES", "Trace"]

Trace = list[tuple[float, str]]

#: name -> (what it stands for, the timeline). Times are seconds from the job's start.
TRACES: dict[str, tuple[str, Trace]] = {
    "video-5min": (
        "the write-up's 5-minute video, 5 evenly spaced status changes",
        evenly_spaced_timeline(300, 5, statuses=["queued", "script", "images", "voice",
                                                 "render"]),
    ),
    "short-20s": (
        "a 20 s job: queued, running, encoding, completed",
        [(0.0, "queued"), (2.0, "running"), (14.0, "encoding"), (20.0, "completed")],
    ),
    "hour-quiet": (
        "a 1 h job with a 53-minute quiet phase",
        [(0.0, "queued"), (40.0, "downloading"), (130.0, "rendering"), (3300.0, "encoding"),
         (3530.0, "uploading"), (3600.0, "completed")],
    ),
    "chatty": (
        "a 2-minute job whose status changes every 2 s",
        evenly_spaced_timeline(120, 60),
    ),
}
