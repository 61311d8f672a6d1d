"""SDK clients built from the providers (the ``llmroute[openai]`` / ``llmroute[anthropic]``
extras).

:class:`ClientPool` builds, per provider, the ``openai`` or ``anthropic`` client its
``api_style`` calls for, with the provider's base URL, credential, timeout and proxy, and
``max_retries=0`` (llmroute does the retrying)::

    from llmroute.clients import ClientPool

    pool = ClientPool(config)

    def call(service, provider):
        return pool.openai(provider).chat.completions.create(model=service.model, messages=...)

    selector.execute("chat", body, call)

Each SDK is imported when the first client of its style is built; a missing one is an
ImportError naming ``pip install 'llmroute[openai]'`` (or ``[anthropic]``). Nothing else in
llmroute imports this package.
"""

from ._pool import ClientPool

__all__ = ["ClientPool"]
