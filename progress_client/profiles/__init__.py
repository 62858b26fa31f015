"""Profiles: a vendor's job API as data. The built-in profiles are the ``*.toml`` files here.

``profile`` loads and validates a file (``schema``); ``reader`` compiles it into what the engine
calls on every response; ``expr`` reads fields; ``urls`` and ``lifecycle`` find where a job's
status, result and cancel are.
"""
