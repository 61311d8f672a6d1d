"""The ``llmroute`` command line (a tool layer above the library: it uses the selector and
the test doubles of :mod:`llmroute.testing`; nothing in the package imports it).

- ``llmroute check CONFIG``: validate, then warn (:func:`llmroute.config.check_config`);
- ``llmroute explain CONFIG REQUEST.json``: a selection's ``explain()``, no side effects;
- ``llmroute simulate CONFIG``: scripted traffic with faults on a fake clock.

:func:`main` runs it in process and returns the exit status.
"""

from ._main import main, parser

__all__ = ["main", "parser"]
