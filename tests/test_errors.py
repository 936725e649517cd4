"""The one error type for bad input: a problem's field, its path, how its message names it."""

from __future__ import annotations

import pytest

from nas.errors import InvalidField, Problem


def test_a_problem_is_named_by_its_field_unless_labelled():
    assert str(Problem("entries.3.ms", "must be positive")) == "entries.3.ms: must be positive"
    assert Problem("entries.3.ms", "must be positive").path() == ["entries", 3, "ms"]
    row = Problem("line 4.ms", "ms is missing", label="line 4 (arch 'x')")
    assert (str(row), row.path()) == ("line 4 (arch 'x'): ms is missing", ["line 4", "ms"])
    whole = Problem("measurements", "needs at least 5 measured networks, got 2", label="")
    assert (str(whole), whole.path()) == ("needs at least 5 measured networks, got 2", ["measurements"])


def test_many_lists_every_problem_with_its_label_and_kind():
    error = InvalidField.many([Problem("a", "bad"), Problem("b", "worse", label="row b", kind="greater_than")],
                              what="upload")
    assert str(error) == "invalid upload (2 problems):\n- a: bad\n- row b: worse"
    assert [p.field for p in error.problems] == ["a", "b"]
    assert (str(error.problems[1]), error.problems[1].kind) == ("row b: worse", "greater_than")
    with pytest.raises(ValueError, match="at least one problem"):
        InvalidField.many([])
