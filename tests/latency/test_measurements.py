"""Reading and checking whole networks timed end to end: every refusal names the row as written."""

from __future__ import annotations

import pytest

import searchspaces
from nas.errors import InvalidField
from nas.latency.measurements import MAX_ROWS, MeasurementError, check_measurements, read_csv

SPACE = "nasbench201"
A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
B = "|none~0|+|avg_pool_3x3~0|skip_connect~1|+|none~0|none~1|nor_conv_1x1~2|"
C = "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"


def refusal(call, *args, **kwargs) -> MeasurementError:
    with pytest.raises(MeasurementError) as caught:
        call(*args, **kwargs)
    assert isinstance(caught.value, InvalidField) and caught.value.kind == "measurement"
    for problem in caught.value.problems:
        assert str(problem) in str(caught.value)
    return caught.value


def problems_of(call, *args, **kwargs) -> list[str]:
    return [str(problem) for problem in refusal(call, *args, **kwargs).problems]


def fields_of(call, *args, **kwargs) -> list[str]:
    return [problem.field for problem in refusal(call, *args, **kwargs).problems]


def test_read_csv_labels_rows_by_line_and_ignores_extra_columns_and_blank_lines():
    text = f"device,arch,ms,note\npi,{A},3.5,first\n\npi,{B},1.25,\n"
    assert read_csv(text) == [("line 2", A, 3.5), ("line 4", B, 1.25)]
    assert read_csv(f"\ufeffArch , MS\r\n{A},2\r\n".encode()) == [("line 2", A, 2.0)]  # a spreadsheet's BOM and CRLF


def test_read_csv_reads_quoted_archs_with_commas():
    mbv3 = searchspaces.get("mobilenetv3").published["MobileNetV3-Large"]
    assert "," in mbv3
    assert read_csv(f'arch,ms\n"{mbv3}",12.5\n') == [("line 2", mbv3, 12.5)]


def test_read_csv_lists_every_bad_row_by_line():
    text = f"arch,ms\n{A},1.0\n,2.0\n{A},nan\n{B},fast\n{C},0\n{C},-1\n{B},inf\n{C}\n"
    problems = problems_of(read_csv, text, source="times.csv")
    assert problems == [
        "line 3: arch is empty",
        f"line 4 (arch {A[:40] + '...'!r}): ms must be a positive number, got 'nan'",
        f"line 5 (arch {B[:40] + '...'!r}): ms must be a number, got 'fast'",
        f"line 6 (arch {C[:40] + '...'!r}): ms must be a positive number, got '0'",
        f"line 7 (arch {C[:40] + '...'!r}): ms must be a positive number, got '-1'",
        f"line 8 (arch {B[:40] + '...'!r}): ms must be a positive number, got 'inf'",
        f"line 9 (arch {C[:40] + '...'!r}): ms is missing",
    ]
    with pytest.raises(MeasurementError, match=r"invalid times\.csv \(7 problems\)"):
        read_csv(text, source="times.csv")
    assert fields_of(read_csv, text) == ["line 3.arch", "line 4.ms", "line 5.ms", "line 6.ms", "line 7.ms",
                                         "line 8.ms", "line 9.ms"]


@pytest.mark.parametrize("text, message", [
    ("arch,latency\nx,1\n", "lacks column ms (found 'arch', 'latency')"),
    ("network;ms\nx;1\n", "lacks columns arch and ms (found 'network;ms')"),
    ("", "lacks columns arch and ms (found none)"),
])
def test_read_csv_names_a_missing_column_and_the_columns_found(text, message):
    [problem] = problems_of(read_csv, text)
    assert problem.startswith("line 1: ") and message in problem
    assert fields_of(read_csv, text) == ["line 1"]


def test_read_csv_refuses_bytes_that_are_not_utf8():
    [problem] = problems_of(read_csv, b"arch,ms\n\xff\xfe,1\n")
    assert "not UTF-8" in problem


def test_read_csv_caps_rows_and_arch_length():
    [problem] = problems_of(read_csv, "arch,ms\n" + f"{A},1\n" * (MAX_ROWS + 1))
    assert problem.startswith(f"line {MAX_ROWS + 2}: more than 10,000 rows")
    [problem] = problems_of(read_csv, "arch,ms\n" + "x" * 2001 + ",1\n")
    assert problem == "line 2: arch is 2,001 characters long, more than 2,000"


def test_check_measurements_canonicalises_and_averages_equal_repeats():
    rows = [("line 2", f"  {A} ", 2.0), ("line 3", B, 1.0), ("line 4", A, 2.01)]
    assert check_measurements(SPACE, rows) == [(A, 2.005), (B, 1.0)]


def test_check_measurements_names_each_bad_row():
    rows = [("measurements[0]", A, 2.0), ("measurements[1]", A.replace("nor_conv_1x1~2", "conv_9x9~2"), 1.0),
            ("measurements[2]", B, float("nan")), ("measurements[3]", C, True), ("measurements[4]", C, "1.0"),
            ("measurements[5]", B, 0.0), ("measurements[6]", A, 2.5), ("measurements[7]", 7, 1.0)]
    problems = problems_of(check_measurements, SPACE, rows, minimum=3)
    assert "measurements[1]" in problems[0] and "bad token 'conv_9x9~2'" in problems[0]
    assert problems[1].startswith("measurements[2]") and "positive number, got 'nan'" in problems[1]
    assert problems[2].startswith("measurements[3]") and "got True" in problems[2]
    assert problems[3].startswith("measurements[4]") and "got '1.0'" in problems[3]
    assert problems[4].startswith("measurements[5]") and "got '0.0'" in problems[4]
    assert problems[5].startswith("measurements[6]") and "measurements[0]" in problems[5] and "1%" in problems[5]
    assert problems[6].startswith("measurements[7]") and "non-empty string" in problems[6]
    assert problems[7] == "needs at least 3 measured networks, got 1"
    assert len(problems) == 8


def test_rows_by_position_are_fields_of_the_list_they_are_in():
    rows = [(0, A, 2.0), (1, "|bad~0|", 1.0), (2, B, 0.0), (3, A, 4.0)]
    problems = refusal(check_measurements, SPACE, rows, minimum=3, field="measurements").problems
    assert [p.path() for p in problems] == [["measurements", 1, "arch"], ["measurements", 2, "ms"],
                                            ["measurements", 3, "ms"], ["measurements"]]
    assert str(problems[0]).startswith("measurements[1] (arch '|bad~0|'): not a network of space")
    assert "timed 4 ms, but the same network was timed 2 ms at measurements[0]" in str(problems[2])
    assert str(problems[3]) == "needs at least 3 measured networks, got 1"  # the list itself, not named


def test_check_measurements_needs_a_minimum_and_a_known_space():
    with pytest.raises(MeasurementError, match="needs at least 5 measured networks, got 2"):
        check_measurements(SPACE, [("line 2", A, 1.0), ("line 3", B, 1.0), ("line 4", A, 1.0)], minimum=5)
    with pytest.raises(searchspaces.UnknownSpaceError, match="nasbench201"):
        check_measurements("resnet", [("line 2", A, 1.0)])
