"""Where a validation error is, named as the client names the field.

Pydantic's location of an error in a union body carries steps the client never wrote:
the tag of a tagged union (`("body", "open", "volume")`) and the member's class name in a
plain union (`("body", "credentials", "Mt5Credentials", "password")`). Both sets are read
from the request models themselves, so a new action, account kind or credentials model
needs no second list here. Nothing of the input is ever kept: a rejected value may be a
password.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, get_args

from pydantic import BaseModel, Tag
from pydantic.fields import FieldInfo

from functions.api.schemas.accounts import ConnectRequest, UpdateAccount
from functions.api.schemas.trades import TradeRequest


def union_tags(request: Any) -> frozenset[str]:
    """The tags of a tagged union: `Tag(...)` of each member, or the literal of the field a
    `Field(discriminator=...)` names."""
    union, *markers = get_args(request)
    discriminators = [
        m.discriminator for m in markers if isinstance(m, FieldInfo) and m.discriminator
    ]
    tags: set[str] = set()
    for member in get_args(union):
        model, *meta = get_args(member) or (member,)
        tags |= {m.tag for m in meta if isinstance(m, Tag)}
        for name in discriminators:
            if isinstance(name, str):
                tags |= set(get_args(model.model_fields[name].annotation))
    return frozenset(tags)


def member_names(model: type[BaseModel]) -> frozenset[str]:
    """The class names of the models in the plain unions (of two models or more) of
    `model`'s fields; an optional model (`X | None`) is no union to pydantic."""
    names: set[str] = set()
    for info in model.model_fields.values():
        members = [
            m for m in get_args(info.annotation) if isinstance(m, type) and issubclass(m, BaseModel)
        ]
        if len(members) > 1:
            names |= {m.__name__ for m in members}
    return frozenset(names)


#: Tags pydantic puts first in an error's location for a tagged union body.
BODY_TAGS: Final = union_tags(TradeRequest) | union_tags(ConnectRequest)
#: Member names pydantic puts in the location of a plain union field.
MEMBER_STEPS: Final = member_names(UpdateAccount)


def field_name(location: Sequence[int | str]) -> str:
    """`("body", "open", "volume")` → `volume`; query and header parameters keep their origin."""
    parts = [str(p) for p in location]
    if parts and parts[0] == "body":
        parts = parts[1:]
        if parts and parts[0] in BODY_TAGS:
            parts = parts[1:]
        parts = [p for p in parts if p not in MEMBER_STEPS]
    return ".".join(parts) or "body"


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic errors without their `input` and `ctx`: those may hold a secret."""
    return [
        {"field": field_name(error.get("loc", ())), "message": str(error.get("msg", ""))}
        for error in errors
    ]
