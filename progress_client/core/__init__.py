"""The core: every decision about a job's wait, pure. No I/O, no clock, no threads.

The engine (``engine``, its ``transitions`` and ``phases``; where statuses come from,
one module per source: ``sources``), what it reads (``reading``,
``models``, ``status``, ``sse``, ``hints``, ``lifecycle``), what it hands out (``actions``,
``events``, ``report``, ``results``, ``errors``), how it is configured (``options``, ``config``,
``policy``, ``budget``) and what is computed from it without a network (``simulate``, ``plan``,
``plan_fit``, ``resume``, ``sanitize``). The drivers (``progress_client.drivers``) carry its
actions out. Nothing here is imported by ``import progress_client`` until it is used.
"""
