"""``ProgressClientInstrumentor``: the OpenTelemetry instrumentor (``BaseInstrumentor``) that
``opentelemetry-instrument`` finds through the ``opentelemetry_instrumentor`` entry point
``progress_client``, and that ``progress_client.otel.instrument()`` calls."""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from progress_client.drivers.observer import get_instrument, set_instrument

from ._trace import OTelInstrument

__all__ = ["HTTP_DURATION_ENV", "REQUEST_SPANS_ENV", "ProgressClientInstrumentor"]

#: Under ``opentelemetry-instrument`` (no arguments): ``true`` turns the option on.
HTTP_DURATION_ENV = "OTEL_PYTHON_PROGRESS_CLIENT_HTTP_DURATION"
REQUEST_SPANS_ENV = "OTEL_PYTHON_PROGRESS_CLIENT_REQUEST_SPANS"


class ProgressClientInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments every ``ProgressClient`` and ``AsyncProgressClient`` of the process (and
    the CLI's): ``instrument(tracer_provider=..., meter_provider=...)``, ``uninstrument()``."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("progress-client",)

    def _instrument(self, **kwargs: Any) -> None:
        set_instrument(OTelInstrument(
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            http_duration=_option(kwargs, "http_duration", HTTP_DURATION_ENV),
            request_spans=_option(kwargs, "request_spans", REQUEST_SPANS_ENV),
        ))

    def _uninstrument(self, **kwargs: Any) -> None:
        if get_instrument() is not None:
            set_instrument(None)


def _option(kwargs: dict[str, Any], name: str, env: str) -> bool:
    """An option given to ``instrument()``, else its environment variable."""
    if name in kwargs and kwargs[name] is not None:
        return bool(kwargs[name])
    return os.environ.get(env, "").strip().lower() in ("true", "1", "yes", "on")
