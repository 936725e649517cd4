"""One error type for bad input: ``InvalidField`` names the field as the user wrote it, and why.

Every check of what a user gives (a REST body or query, an uploaded profile, dataset or CSV, a CLI
flag's value, a stored request read back) raises it: ``InvalidField("latency_max_ms", "must be
positive")`` for one problem, ``InvalidField.many([...])`` for a document with several. A field is a
dotted path into what the user sent (``device.name``, ``entries.3.ms``); the REST API answers 422
with it as the ``loc`` (``api/errors.py``), and the CLI exits with code 2 naming the flag
(``nas/cli``). Nothing splits a message apart again to find the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from pydantic import ValidationError

import searchspaces


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field; ``field`` is empty when the input as a whole is at fault.

    ``label`` is how the message names the field where the dotted path says less than the user needs
    (a row of a CSV is ``line 4.ms``, named ``line 4 (arch '...')``; ``""``: not named at all);
    ``kind`` is the problem's own type in a 422 where it has one (pydantic's ``greater_than``),
    else the error's ``kind`` stands.
    """

    field: str
    message: str
    label: str | None = None
    kind: str | None = None

    def __str__(self) -> str:
        name = self.field if self.label is None else self.label
        return f"{name}: {self.message}" if name else self.message

    def path(self) -> list[str | int]:
        """The field as a path, list positions as integers: ``entries.3.ms`` -> ``["entries", 3, "ms"]``."""
        return [int(part) if part.isdigit() else part for part in self.field.split(".") if part]


class InvalidField(ValueError):
    """Bad input: ``problems`` (at least one) each name a field and say what is wrong with it.

    ``where`` is the part of a request the fields belong to (``body``, ``query`` or ``path``), so the
    API can point at them; ``what`` names the document in a multi-problem message ("uploaded profile");
    ``kind`` is the error's type in a 422 (a subclass names its document: ``profile``, ``dataset``).
    """

    kind = "value_error"

    def __init__(self, field: str, message: str, *, where: str = "body") -> None:
        self._set((Problem(field, message),), where, "")

    @classmethod
    def many(cls, problems: Iterable[Problem], *, what: str = "input", where: str = "body") -> InvalidField:
        problems = tuple(problems)
        if not problems:
            raise ValueError("InvalidField.many needs at least one problem")
        error = cls.__new__(cls)
        error._set(problems, where, what)
        return error

    def _set(self, problems: tuple[Problem, ...], where: str, what: str) -> None:
        self.problems, self.where, self.what = problems, where, what
        if len(problems) == 1 and not what:
            text = str(problems[0])
        else:
            count = len(problems)
            listed = "\n".join(f"- {p}" for p in problems[:MAX_LISTED])
            more = f"\n- ... and {count - MAX_LISTED} more" if count > MAX_LISTED else ""
            text = f"invalid {what or 'input'} ({count} problem{'s' * (count != 1)}):\n{listed}{more}"
        ValueError.__init__(self, text)

    @property
    def field(self) -> str:
        return self.problems[0].field

    @property
    def message(self) -> str:
        return self.problems[0].message


MAX_LISTED = 20  # problems written out in a message; all of them stay in ``problems``


def known_space(name: str, field: str = "space", *, where: str = "body") -> searchspaces.SearchSpace:
    """The search space called ``name``, or ``InvalidField`` listing the known ones."""
    if name not in searchspaces.names():
        raise InvalidField(field, f"unknown search space {name!r}; known spaces: {', '.join(searchspaces.names())}",
                           where=where)
    return searchspaces.get(name)


def from_validation(error: ValidationError, *, what: str = "input", where: str = "body") -> InvalidField:
    """A pydantic refusal as ``InvalidField``: each of its errors a problem at its field's path."""
    problems = [Problem(".".join(str(part) for part in item["loc"]), item["msg"]) for item in error.errors()]
    if len(problems) == 1 and what == "input":
        return InvalidField(problems[0].field, problems[0].message, where=where)
    return InvalidField.many(problems, what=what, where=where)
