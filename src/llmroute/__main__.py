"""``python -m llmroute``: the ``llmroute`` command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
