"""``ProgressClientInstrumentor``: the OpenTelemetry instrumentor (``BaseInstrumentor``) that
``opentelemetry-instrument`` finds through the ``opentelemetry_instrumentor`` entry point
``progress_client``, and that ``progress_client.otel.instrument()`` calls."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from .._observer import get_instrument, set_instrument

__all__ = ["ProgressClientInstrumentor"]


class ProgressClientInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments every ``ProgressClient`` and ``AsyncProgressClient`` of the process (and
    the CLI's): ``instrument(tracer_provider=..., meter_provider=...)``, ``uninstrument()``."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("progress-client",)

    def _instrument(self, **kwargs: Any) -> None:
        from ._trace import OTelInstrument

        set_instrument(OTelInstrument(
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            http_duration=bool(kwargs.get("http_duration", False)),
            request_spans=bool(kwargs.get("request_spans", False)),
        ))

    def _uninstrument(self, **kwargs: Any) -> None:
        if get_instrument() is not None:
            set_instrument(None)
