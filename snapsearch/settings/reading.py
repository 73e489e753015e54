"""Reading settings: from the environment and explicit overrides, every invalid value reported
in one line as its environment variable, the type it should hold and what is wrong."""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings
from pydantic_settings import SettingsError as EnvParseError

from snapsearch.format.redact import redact_text

from .declared import ENV_PREFIX, SETTINGS_CLASSES

S = TypeVar("S", bound=BaseSettings)
class SettingsError(ValueError):
    """A setting is invalid; the message names its environment variable and expected type."""


def load_settings(
    cls: type[S], overrides: Mapping[str, Any] | None = None, *,
    flag: Callable[[str], str] | None = None,
) -> S:
    """``cls`` read from the environment with ``overrides`` on top. ``flag(field)`` names the
    command-line option an override came from, for errors."""
    given = dict(overrides or {})
    unknown = unknown_variables(os.environ)
    if unknown:
        raise SettingsError("invalid settings: " + "; ".join(unknown))
    try:
        return cls(**given)
    except (ValidationError, EnvParseError) as exc:
        named = {k: flag(k) for k in given} if flag else {}
        raise SettingsError(settings_error_line(exc, cls, named)) from None


def env_name(cls: type[BaseSettings], field: str) -> str:
    return f"{cls.model_config.get('env_prefix', '')}{field.upper()}"


def declared_variables() -> dict[str, tuple[type[BaseSettings], str]]:
    """Every settings variable -> the class and field that declare it."""
    out: dict[str, tuple[type[BaseSettings], str]] = {}
    for cls in SETTINGS_CLASSES:
        for name, info in cls.model_fields.items():
            if name in cls.__annotations__ and not _is_settings(info.annotation):
                out[env_name(cls, name)] = (cls, name)
    return out


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A line for each SNAPSEARCH_* variable no setting declares (a typo is an error, not a
    silently ignored setting)."""
    declared = declared_variables()
    lines = []
    for key in sorted(k for k in environ if k.upper().startswith(ENV_PREFIX)):
        if key.upper() not in declared:
            near = difflib.get_close_matches(key.upper(), declared, n=1, cutoff=0.85)
            hint = f" (did you mean {near[0]}?)" if near else " (docs/settings.md lists them)"
            lines.append(f"unknown setting {key}{hint}")
    return lines


def settings_error_line(
    exc: ValidationError | EnvParseError, cls: type[BaseSettings],
    flags: Mapping[str, str] | None = None,
) -> str:
    """One line: each invalid setting's environment variable, expected type and problem."""
    flags = flags or {}
    if isinstance(exc, EnvParseError):  # a list/object variable that is not JSON
        m = re.search(r'field "(\w+)"', str(exc))
        field = m.group(1) if m else "?"
        info = cls.model_fields.get(field)
        expected = describe_type(info.annotation) if info else "JSON"
        return f"invalid settings: {env_name(cls, field)} should be {expected}: not valid JSON"
    owner = next((c for c in SETTINGS_CLASSES if c.__name__ == exc.title), cls)
    parts = []
    for err in exc.errors(include_url=False):
        loc = [str(x) for x in err["loc"]]
        target, info = owner, owner.model_fields.get(loc[0]) if loc else None
        nested = info.annotation if info is not None else None
        if len(loc) > 1 and isinstance(nested, type) and issubclass(nested, BaseSettings):
            target, loc = nested, loc[1:]  # nested settings: their own prefix
            info = target.model_fields.get(loc[0])
        name = env_name(target, loc[0]) if loc else ", ".join(flags.values()) or owner.__name__
        if loc and loc[0] in flags and target is owner:
            name += f" ({flags[loc[0]]})"
        where = f" at {'.'.join(loc[1:])}" if len(loc) > 1 else ""
        expected = ""
        if info is not None and err["type"] != "value_error":  # not a validator's own words
            expected = f" should be {describe_type(info.annotation)}"
        msg = str(err["msg"]).removeprefix("Value error, ")
        secret = info is not None and SecretStr in _flat(info.annotation)
        got = "" if err["type"] == "missing" or secret else f" (got {_short(err.get('input'))})"
        parts.append(f"{name}{where}{expected}: {msg}{got}")
    return "invalid settings: " + "; ".join(parts)


def public_dump(settings: BaseModel) -> dict[str, Any]:
    """The settings as JSON-able data, secret fields left out (they are read from the
    environment again where needed)."""
    secret = {n for n, f in type(settings).model_fields.items() if SecretStr in _flat(f.annotation)}
    return settings.model_dump(mode="json", exclude=secret)


def _is_settings(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseSettings)


def _flat(annotation: object) -> tuple[object, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(a for arg in get_args(annotation) for a in _flat(arg))
    return (annotation,)


_WORDS: dict[object, str] = {
    int: "an integer", float: "a number", bool: "true or false", str: "a string",
    Path: "a path", SecretStr: "a string",
}


def describe_type(annotation: object) -> str:
    """What a field holds, in words ('an integer', "one of 'a', 'b'", 'a JSON list of ...')."""
    options = [a for a in _flat(annotation) if a is not type(None)]
    if len(options) != 1:
        return " or ".join(describe_type(a) for a in options)
    t = options[0]
    if get_origin(t) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(t))
    if get_origin(t) is list:
        (item,) = get_args(t)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return "a JSON list of " + describe_type(item).removeprefix("a JSON object ")
        return f"a JSON list ({describe_type(item)} each)"
    if isinstance(t, type) and issubclass(t, BaseModel):
        return "a JSON object {" + ", ".join(t.model_fields) + "}"
    if get_origin(t) is dict:
        key, value = get_args(t)
        return f"a JSON object of {describe_type(key)} -> {describe_type(value)}"
    return _WORDS.get(t, getattr(t, "__name__", str(t)))


def _short(value: object) -> str:
    text = redact_text(repr(value))  # an invalid source URL may carry a token
    return text if len(text) <= 80 else text[:77] + "..."
