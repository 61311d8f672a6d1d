"""Reading a routing document from a file: every way a file can be wrong is a ConfigError.

A file that cannot be read, is empty, is not UTF-8, is not JSON or YAML, nests too deeply or
holds a number too long to convert fails here with the file's name and what is wrong (the
line and column for syntax errors); what parses is checked by
:func:`~llmroute.config._document.check_document` and then validated, with paths.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError
from ._base import checked, config_error
from ._document import RepeatedKeys, TooLongNumber
from ._routing import RoutingConfig

__all__ = ["load_config"]

# Integers longer than this are not converted (Python refuses past 4,300 digits; every
# bound of a field is far shorter): the document check reports them with their path.
_MAX_DIGITS = 100


def load_config(path: str | Path) -> RoutingConfig:
    """Read a :class:`RoutingConfig` from a ``.json``, ``.yaml`` or ``.yml`` file.

    Every failure is a :class:`ConfigError` naming the file: a file that cannot be read
    (the ``OSError`` is its ``__cause__``), an empty one, one that is not UTF-8, a syntax
    error (with its line and column), YAML without PyYAML installed, and anything that does
    not validate (with the path inside the document).
    """
    file = Path(path)
    source = str(file)
    suffix = file.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise ConfigError(
            f"unsupported config file type {file.suffix!r}: use .json, .yaml or .yml",
            source=source,
        )
    text = _read_text(file, source)
    if not text.strip():
        raise ConfigError("the file is empty", source=source)
    data = _parse_json(text, source) if suffix == ".json" else _parse_yaml(text, source)
    if data is None:  # YAML of comments only, or a lone "null"
        raise ConfigError("the file is empty (it holds no document)", source=source)
    try:
        with checked(data):
            config: RoutingConfig = RoutingConfig.__pydantic_validator__.validate_python(data)
    except ValidationError as exc:
        raise config_error(exc, source=source, model=RoutingConfig) from None
    except ConfigError as exc:  # from the document check
        raise ConfigError(problems=exc.problems, source=source) from None
    return config


def _read_text(file: Path, source: str) -> str:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot read the file: {reason}", source=source) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            source=source,
        ) from None


def _parse_int(text: str) -> int | TooLongNumber:
    digits = len(text.lstrip("+-"))
    return TooLongNumber(digits) if digits > _MAX_DIGITS else int(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) == len(keys):
        return dict(pairs)
    counts: dict[str, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return RepeatedKeys(pairs, [key for key, count in counts.items() if count > 1])


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text, parse_int=_parse_int, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", source=source
        ) from None
    except RecursionError:
        raise ConfigError("invalid JSON: nested too deeply to read", source=source) from None


def _parse_yaml(text: str, source: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            "reading YAML needs PyYAML: pip install 'llmroute[yaml]'", source=source
        ) from None
    try:
        return yaml.load(text, Loader=_yaml_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML{where}: {reason}", source=source) from None
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply to read", source=source) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date such as 2026-13-45
        raise ConfigError(f"invalid YAML: {exc}", source=source) from None


@lru_cache(maxsize=1)
def _yaml_loader() -> Any:
    """PyYAML's SafeLoader, reading an integer too long to convert as a TooLongNumber."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
            # A key written twice is an error (PyYAML keeps the last silently); a key that
            # overrides one merged in with "<<" is not a repeat.
            seen: set[tuple[str, str]] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key_node.value!r} appears twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    def construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
        text = str(node.value).replace("_", "")
        if len(text.lstrip("+-")) > _MAX_DIGITS:
            return TooLongNumber(len(text.lstrip("+-")))
        return loader.construct_yaml_int(node)

    Loader.add_constructor("tag:yaml.org,2002:int", construct_int)
    return Loader
