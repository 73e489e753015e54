"""A pydantic ``ValidationError`` told in one sentence that says what is allowed.

``invalid_request`` turns the first problem into a 422 ``invalid_request`` with the dotted
path of the field at fault (``filters.numeric.0.min``).
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from .errors import ApiError


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (through Optional, unions and lists)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, list, tuple, Sequence):
        for arg in get_args(annotation):
            found = _unwrap_model(arg)
            if found is not None:
                return found
    return None


def _model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class that holds the field at ``loc`` (list indexes are skipped)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        current = None if info is None else _unwrap_model(info.annotation)
    return current


def _field_info(model: type[BaseModel], loc: Sequence[int | str]) -> FieldInfo | None:
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return None
    parent = _model_at(model, loc[: max(i for i, p in enumerate(loc) if isinstance(p, str))])
    return None if parent is None else parent.model_fields.get(names[-1])


def _allowed_hint(info: FieldInfo) -> str | None:
    lo = hi = min_len = max_len = None
    for m in info.metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
        min_len = getattr(m, "min_length", min_len)
        max_len = getattr(m, "max_length", max_len)
    if min_len is not None or max_len is not None:
        unit = "items" if get_origin(info.annotation) is list else "characters"
        if min_len is not None and max_len is not None:
            return f"{min_len} to {max_len} {unit}"
        return f"at least {min_len} {unit}" if min_len is not None else f"at most {max_len} {unit}"
    if lo is not None and hi is not None:
        return f"{lo} to {hi}"
    if lo is not None:
        return f"at least {lo}"
    if hi is not None:
        return f"at most {hi}"
    return None


def describe_validation_error(
    exc: ValidationError, model: type[BaseModel]
) -> tuple[str, str | None]:
    """(message, dotted field) for the first problem; the message says what is allowed."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc: tuple[int | str, ...] = tuple(first["loc"])
    field = ".".join(str(p) for p in loc) or None
    kind = first["type"]
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        allowed = ", ".join(parent.model_fields) if parent is not None else "none"
        where = f" in {'.'.join(str(p) for p in loc[:-1])}" if len(loc) > 1 else ""
        message = f"unknown field {str(loc[-1])!r}{where}; allowed fields: {allowed}"
    elif kind == "missing":
        message = f"{field} is required"
    elif field is None and kind == "value_error":  # the model's own check of the whole
        message = str(first["msg"]).removeprefix("Value error, ")
    elif field is None:
        message = f"the request body must be a JSON object: {first['msg']}"
    else:
        text = str(first["msg"]).removeprefix("Value error, ")
        message = f"{field}: {text}"
        info = _field_info(model, loc)
        hint = _allowed_hint(info) if info is not None else None
        if hint:
            message += f" (allowed: {hint})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return message, field


def invalid_request(exc: ValidationError, model: type[BaseModel]) -> ApiError:
    message, field = describe_validation_error(exc, model)
    return ApiError(422, "invalid_request", message, field=field)
