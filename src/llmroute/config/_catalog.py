"""The model catalog (``models:``): what each model can take and what it costs.

An entry names a model or a glob of models (``claude-*``), optionally narrowed to one
provider, and gives any of: ``context_window``, ``max_output_tokens``, prices per million
tokens (``input``, ``output``, ``cached_input``, ``cache_write``), capabilities (``vision``,
``tools``, ``thinking``, ``json_schema``, ``audio``, ``pdf``) and ``free``. A field left out
is unknown (None), never false: fit checks keep a service whose figure is unknown.

Matching a service (provider, model), most specific first: an exact name narrowed to the
service's provider, an exact name, a glob narrowed to the provider, a glob; among globs of
the same kind, the one listed first. The most specific entry supplies each field it sets,
the others fill in the fields it leaves unknown, and the service's own ``model_info``
overrides them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

from pydantic import Field, field_validator, model_validator

from ..usage import Usage
from ._base import ConfigModel
from ._bounds import Price, TokenWindow
from ._glob import compile_glob

__all__ = ["CAPABILITIES", "ModelCatalog", "ModelEntry", "ModelSpec", "models_from_document"]

#: The capability fields of a :class:`ModelSpec`.
CAPABILITIES: tuple[str, ...] = ("vision", "tools", "thinking", "json_schema", "audio", "pdf")

_GLOB_CHARS = re.compile(r"[*?\[{]")
_PER_TOKEN = 1e-6  # prices are per million tokens


class ModelSpec(ConfigModel):
    """What is known of one model: every field None (unknown) unless given.

    Prices are per million tokens, in whatever currency the document uses throughout.
    ``cached_input`` is the price of prompt tokens read from the cache (``input`` when
    unknown), ``cache_write`` of prompt tokens written to it (``input`` when unknown).
    ``free``: local or prepaid, costs 0 whatever its prices say.
    """

    context_window: TokenWindow | None = None
    max_output_tokens: TokenWindow | None = None
    input: Price | None = None
    output: Price | None = None
    cached_input: Price | None = None
    cache_write: Price | None = None
    vision: bool | None = None
    tools: bool | None = None
    thinking: bool | None = None
    json_schema: bool | None = None
    audio: bool | None = None
    pdf: bool | None = None
    free: bool | None = None

    @model_validator(mode="after")
    def _window_holds_output(self) -> ModelSpec:
        window, most = self.context_window, self.max_output_tokens
        if window is not None and most is not None and window < most:
            raise ValueError(
                f"context_window ({window:,}) is smaller than max_output_tokens ({most:,})"
            )
        return self

    def known(self) -> dict[str, Any]:
        """The fields this spec sets (not None)."""
        values = self.__dict__
        return {k: values[k] for k in _SPEC_FIELDS if values.get(k) is not None}

    def over(self, base: ModelSpec) -> ModelSpec:
        """This spec's known fields over ``base``'s (a new spec; checked again)."""
        mine = self.known()
        if not mine:
            return base
        merged = {**base.known(), **mine}
        return ModelSpec.model_validate(merged)

    @cached_property
    def priced(self) -> bool:
        """Whether a cost can be computed: free, or both ``input`` and ``output`` known."""
        return bool(self.free) or (self.input is not None and self.output is not None)

    def cost(self, usage: Usage | None) -> float | None:
        """The cost of ``usage`` at this model's prices; None when a price is unknown (or
        no usage was reported), 0.0 when ``free``.

        ``usage.input_tokens`` counts every prompt token; of them ``cached_tokens`` are
        charged at ``cached_input`` and ``cache_write_tokens`` at ``cache_write``, the rest
        at ``input``; ``output_tokens`` at ``output``.
        """
        if self.free:
            return 0.0
        if usage is None or self.input is None or self.output is None:
            return None
        cached, written = usage.cached_tokens, usage.cache_write_tokens
        plain = max(0, usage.input_tokens - cached - written)
        read_price = self.input if self.cached_input is None else self.cached_input
        write_price = self.input if self.cache_write is None else self.cache_write
        total = (
            plain * self.input
            + cached * read_price
            + written * write_price
            + usage.output_tokens * self.output
        )
        return total * _PER_TOKEN

    def estimate(self, input_tokens: int, output_tokens: int) -> float | None:
        """The cost of a call of that many plain input and output tokens (None: unpriced)."""
        if self.free:
            return 0.0
        if self.input is None or self.output is None:
            return None
        return (input_tokens * self.input + output_tokens * self.output) * _PER_TOKEN

    @cached_property
    def blended(self) -> float | None:
        """The blended price per million tokens: (3 x input + output) / 4, the 3:1 mix of
        input and output tokens price comparisons use; 0 when free, None when unpriced."""
        if self.free:
            return 0.0
        if self.input is None or self.output is None:
            return None
        return (3 * self.input + self.output) / 4


_SPEC_FIELDS: tuple[str, ...] = tuple(ModelSpec.model_fields)


class ModelEntry(ModelSpec):
    """One ``models:`` entry: ``model`` (a name or a glob), ``provider`` (optional: narrows
    the entry to the services of that provider, by name or uuid), and the spec's fields."""

    model: str = Field(min_length=1)
    provider: str | None = Field(default=None, min_length=1)

    @field_validator("model")
    @classmethod
    def _glob_compiles(cls, value: str) -> str:
        if _GLOB_CHARS.search(value):
            try:
                compile_glob(value)
            except ValueError as exc:
                raise ValueError(f"invalid glob {value!r}: {exc}") from None
        return value

    @cached_property
    def is_glob(self) -> bool:
        """Whether ``model`` is a glob (has ``*``, ``?``, ``[`` or ``{``)."""
        return bool(_GLOB_CHARS.search(self.model))

    @cached_property
    def matcher(self) -> re.Pattern[str] | None:
        """The compiled glob (None for an exact name)."""
        return compile_glob(self.model) if self.is_glob else None

    def spec(self) -> ModelSpec:
        """The entry's figures alone."""
        return ModelSpec.model_validate(self.known())

    def matches(self, model: str, providers: Iterable[str]) -> bool:
        """Whether the entry applies to ``model`` of a provider known by ``providers``."""
        if self.provider is not None and self.provider not in providers:
            return False
        matcher = self.matcher
        return model == self.model if matcher is None else matcher.match(model) is not None

    @cached_property
    def rank(self) -> int:
        """0 exact + provider, 1 exact, 2 glob + provider, 3 glob (lower wins)."""
        return 2 * self.is_glob + (self.provider is None)


def models_from_document(value: Any) -> Any:
    """The ``models:`` section as a list of entries: a mapping ``{name: {fields}}`` is read
    as entries whose ``model`` is the key (a list of entries is taken as it is)."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return [_keyed(key, fields) for key, fields in value.items()]
    return value


def _keyed(key: Any, fields: Any) -> Any:
    if isinstance(fields, Mapping) and "model" not in fields:
        return {"model": key, **fields}
    return fields  # validation reports what is wrong with it


class ModelCatalog:
    """The catalog's entries, matched against services (see the module docstring)."""

    __slots__ = ("_cache", "entries")

    def __init__(self, entries: Iterable[ModelEntry] = ()) -> None:
        listed = tuple(entries)
        for entry in listed:
            if not isinstance(entry, ModelEntry):
                raise TypeError(f"a catalog holds ModelEntry objects, got {entry!r}")
        # stable: entries of one rank keep their document order
        self.entries = tuple(sorted(listed, key=lambda e: e.rank))
        self._cache: dict[tuple[str, tuple[str, ...]], ModelSpec] = {}

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, model: str, providers: Iterable[str] = ()) -> ModelSpec:
        """The spec of ``model`` served by a provider known by ``providers`` (its name and
        uuid): the matching entries merged, most specific first; all unknown when none."""
        names = tuple(providers)
        key = (model, names)
        found = self._cache.get(key)
        if found is None:
            found = ModelSpec()
            for entry in reversed(self.entries):  # least specific first, overwritten after
                if entry.matches(model, names):
                    found = entry.spec().over(found)
            self._cache[key] = found
        return found

    def __repr__(self) -> str:
        return f"ModelCatalog({len(self.entries)} entries)"
