"""A pydantic ValidationError described by field names, never by the values.

What failed validation is input (a job's payload, an account's risk limits written
through the Supabase API), and whatever the worker writes to `jobs.error` is shown to
the user and kept: pydantic's own text echoes the input (`input_value='…'`). So only the
model's own field names appear; keys the model does not know are counted, not named
(a key is input too), and the model's cross-field checks keep their own sentences.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError


def describe(exc: ValidationError, model: type[BaseModel]) -> str:
    """e.g. "side is not valid; volume is missing; 1 unknown field"."""
    known = set(model.model_fields)
    problems: list[str] = []
    unknown = 0
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        loc = error["loc"]
        if error["type"] == "extra_forbidden" or (loc and str(loc[0]) not in known):
            unknown += 1
        elif not loc:  # a check of the whole model: our own sentence, about kinds of field
            problems.append(str(error["msg"]).removeprefix("Value error, "))
        elif error["type"] == "missing":
            problems.append(f"{loc[0]} is missing")
        else:
            problems.append(f"{loc[0]} is not valid")
    if unknown:
        problems.append(f"{unknown} unknown field{'s' if unknown > 1 else ''}")
    return "; ".join(dict.fromkeys(problems)) or "it cannot be read"
