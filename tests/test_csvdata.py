"""Tests for chainrule.apps.csvdata: load_csv errors name file, line, column and value; write_csv."""

import os
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.apps.csvdata import DataError, check_feature_count, check_finite, load_csv, write_csv


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def raises_data_error(path, message):
    """pytest.raises for a DataError whose message starts with the file's path."""
    return pytest.raises(DataError, match=re.escape(str(path)) + message)


# ----- load_csv: good files -----------------------------------------------------------------
def test_load_with_target(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,3\n4.5,-5e-1,6\n")
    X, y, names = load_csv(path, target="y")
    np.testing.assert_array_equal(X, [[1.0, 2.0], [4.5, -0.5]])
    np.testing.assert_array_equal(y, [[3.0], [6.0]])
    assert X.shape == (2, 2) and y.shape == (2, 1)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert names == ["a", "b"]


def test_load_without_target_returns_all_columns_and_none(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n3,4\n")
    X, y, names = load_csv(str(path))
    assert y is None
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert names == ["a", "b"]


def test_target_in_the_middle_and_feature_order(tmp_path):
    path = write(tmp_path, "a,y,b,c\n1,2,3,4\n5,6,7,8\n")
    X, y, names = load_csv(path, target="y")
    assert names == ["a", "b", "c"]
    np.testing.assert_array_equal(X, [[1, 3, 4], [5, 7, 8]])
    np.testing.assert_array_equal(y, [[2], [6]])
    X, y, names = load_csv(path, target="y", features=["c", "a"])
    assert names == ["c", "a"]
    np.testing.assert_array_equal(X, [[4, 1], [8, 5]])


def test_unused_columns_may_hold_text(tmp_path):
    path = write(tmp_path, "id,x,label,y\nfoo,1,cat,2\nbar,3,dog,4\n")
    X, y, names = load_csv(path, target="y", features=["x"])
    np.testing.assert_array_equal(X, [[1], [3]])
    np.testing.assert_array_equal(y, [[2], [4]])


def test_whitespace_bom_crlf_quotes_and_blank_lines(tmp_path):
    text = "\ufeff a , b \r\n 1 , \"2\" \r\n\r\n3,4\r\n\r\n"
    X, _, names = load_csv(write(tmp_path, text))
    assert names == ["a", "b"]
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])


def test_float32_dtype(tmp_path):
    X, y, _ = load_csv(write(tmp_path, "a,y\n0.1,2\n"), target="y", dtype=np.float32)
    assert X.dtype == np.float32 and y.dtype == np.float32
    assert X[0, 0] == np.float32(0.1)


def test_single_column_file(tmp_path):
    X, y, names = load_csv(write(tmp_path, "x\n1\n2\n3\n"))
    assert X.shape == (3, 1) and names == ["x"]


# ----- load_csv: every bad input is one DataError sentence ----------------------------------
def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path)) + ": no such file"):
        load_csv(path)


def test_folder_instead_of_file(tmp_path):
    with raises_data_error(tmp_path, " is a folder, not a CSV file"):
        load_csv(tmp_path)


def test_empty_file(tmp_path):
    path = write(tmp_path, "")
    with raises_data_error(path, " is empty; expected a header row"):
        load_csv(path)


def test_blank_lines_only_is_empty(tmp_path):
    path = write(tmp_path, "\n\n\n")
    with raises_data_error(path, " is empty"):
        load_csv(path)


def test_header_only(tmp_path):
    path = write(tmp_path, "a,b,y\n")
    with raises_data_error(path, " has a header but no data rows"):
        load_csv(path, target="y")


def test_duplicated_column_names(tmp_path):
    path = write(tmp_path, "a,b,a\n1,2,3\n")
    with raises_data_error(path, r", line 1: the column name 'a' appears twice in the header "
                                 r"\(columns 1 and 3\)"):
        load_csv(path)


def test_empty_column_name(tmp_path):
    path = write(tmp_path, "a,,c\n1,2,3\n")
    with raises_data_error(path, ", line 1: column 2 has an empty name"):
        load_csv(path)


def test_unknown_target_lists_the_columns(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n")
    with raises_data_error(path, ": there is no column 'z' for the target; "
                                 "the columns are a, b, c"):
        load_csv(path, target="z")


def test_unknown_feature_lists_the_columns(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n")
    with raises_data_error(path, ": there is no column 'q' for a feature; "
                                 "the columns are a, b, c"):
        load_csv(path, target="c", features=["a", "q"])


def test_feature_that_is_also_the_target(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n")
    with raises_data_error(path, ": the column 'b' is both the target and a feature"):
        load_csv(path, target="b", features=["a", "b"])


def test_feature_named_twice_and_no_features(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(DataError, match="the feature 'a' is named more than once"):
        load_csv(path, features=["a", "a"])
    with pytest.raises(DataError, match="'features' names no columns"):
        load_csv(path, features=[])
    only_target = write(tmp_path, "y\n1\n", name="only.csv")
    with raises_data_error(only_target, " has no feature columns besides the target 'y'"):
        load_csv(only_target, target="y")


def test_argument_types(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(TypeError, match="'features' must be a list of column names"):
        load_csv(path, features="a")
    with pytest.raises(TypeError, match="'target' must be a column name"):
        load_csv(path, target=1)


def test_non_numeric_cell_names_line_column_and_value(tmp_path):
    rows = "".join(f"{i},{i}\n" for i in range(5))  # lines 2..6
    path = write(tmp_path, "x,y\n" + rows + "abc,7\n")  # line 7
    with pytest.raises(DataError) as info:
        load_csv(path, target="y")
    assert str(info.value) == f"{path}, line 7, column 'x': 'abc' is not a number."


def test_non_numeric_cell_exact_sentence_with_relative_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "x,y\n1,2\n2,3\n3,4\n4,5\n5,6\nabc,7\n")
    with pytest.raises(DataError) as info:
        load_csv("data.csv", target="y")
    assert str(info.value) == "data.csv, line 7, column 'x': 'abc' is not a number."


def test_non_numeric_target(tmp_path):
    path = write(tmp_path, "x,y\n1,2\n2,yes\n")
    with raises_data_error(path, r", line 3, column 'y': 'yes' is not a number\."):
        load_csv(path, target="y")


def test_line_numbers_count_blank_lines_and_the_header(tmp_path):
    path = write(tmp_path, "x,y\n1,2\n\n\n2,oops\n")
    with raises_data_error(path, r", line 5, column 'y': 'oops'"):
        load_csv(path)


def test_empty_cell(tmp_path):
    path = write(tmp_path, "x,y\n1,2\n,3\n")
    with raises_data_error(path, r", line 3, column 'x': the cell is empty; expected a number"):
        load_csv(path, target="y")


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_nan_and_inf_name_line_and_column(tmp_path, value):
    path = write(tmp_path, f"a,b,y\n1,2,3\n4,{value},6\n")
    with raises_data_error(path, rf", line 3, column 'b': '{value}' is not a finite number"):
        load_csv(path, target="y")


def test_value_too_large_for_float32(tmp_path):
    path = write(tmp_path, "a,y\n1,2\n1e39,3\n")
    with raises_data_error(path, r", line 3, column 'a': '1e39' is too large for float32"):
        load_csv(path, target="y", dtype=np.float32)
    X, _, _ = load_csv(path, target="y")  # fine in float64
    assert X[1, 0] == 1e39


@pytest.mark.parametrize("row, cells", [("1,2", 2), ("1,2,3,4", 4)])
def test_row_with_wrong_number_of_cells(tmp_path, row, cells):
    path = write(tmp_path, f"a,b,c\n1,2,3\n{row}\n")
    with raises_data_error(path, rf", line 3: the row has {cells} cells but the header has "
                                 r"3 columns\."):
        load_csv(path)


def test_bad_row_in_an_unused_column_still_counts_cells(tmp_path):
    path = write(tmp_path, "id,x\nfoo,1\nbar\n")
    with raises_data_error(path, ", line 3: the row has 1 cells"):
        load_csv(path, features=["x"])


def test_long_bad_value_is_shortened(tmp_path):
    path = write(tmp_path, "x\n" + "z" * 500 + "\n")
    with pytest.raises(DataError, match=r"'z{37}\.\.\.' is not a number"):
        load_csv(path)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("a,b\n1,\xe9\n".encode("latin-1"))
    with raises_data_error(path, r" is not UTF-8 text \(byte 0xe9"):
        load_csv(path)


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


# ----- check_finite and check_feature_count -------------------------------------------------
def test_check_finite_returns_the_array_when_clean():
    array = np.ones((3, 2))
    assert check_finite(array, "x") is array


def test_check_finite_names_the_first_bad_value():
    array = np.zeros((4, 3))
    array[2, 1] = np.nan
    array[3, 0] = np.inf
    with pytest.raises(DataError, match=r"^the predictions contains 2 non-finite value\(s\) "
                                        r"\(NaN or Inf\); the first is nan at index \(2, 1\)\.$"):
        check_finite(array, "the predictions")
    with pytest.raises(DataError, match=r"the first is -inf at index 1\."):
        check_finite(np.array([1.0, -np.inf]), "y")


def test_check_finite_accepts_tensors_and_ignores_integers():
    with pytest.raises(DataError, match="loss contains 1 non-finite"):
        check_finite(cr.tensor([1.0, float("nan")]), "loss")
    ints = np.arange(3)
    assert check_finite(ints, "ints") is ints


def test_check_feature_count_with_names():
    with pytest.raises(DataError) as info:
        check_feature_count(["a", "b", "c"], ["a", "b"], "data.csv")
    assert str(info.value) == "model expects 3 features (a, b, c) but data.csv has 2 (a, b)."


def test_check_feature_count_with_counts():
    with pytest.raises(DataError, match=r"^model expects 1 feature but new\.csv has 4\.$"):
        check_feature_count(1, 4, "new.csv")


def test_check_feature_count_passes_when_equal():
    assert check_feature_count(["a", "b"], ["x", "y"], "data.csv") is None
    assert check_feature_count(3, ["p", "q", "r"], "data.csv") is None


# ----- write_csv ----------------------------------------------------------------------------
def test_write_then_load_round_trips_exactly(tmp_path):
    rows = np.random.default_rng(0).normal(size=(20, 3))
    path = tmp_path / "out.csv"
    write_csv(path, ["a", "b", "c"], rows)
    X, _, names = load_csv(path)
    assert names == ["a", "b", "c"]
    np.testing.assert_array_equal(X, rows)


def test_write_float32_shortest_text(tmp_path):
    path = tmp_path / "out.csv"
    write_csv(path, ["p"], np.array([0.1, 2.5], dtype=np.float32))
    assert path.read_bytes() == b"p\n0.1\n2.5\n"


def test_write_tensor_and_single_header_string(tmp_path):
    path = tmp_path / "out.csv"
    write_csv(path, "prediction", cr.tensor([[1.5], [2.0]]))
    X, _, names = load_csv(path)
    assert names == ["prediction"]
    np.testing.assert_array_equal(X, [[1.5], [2.0]])


def test_write_replaces_an_existing_file_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old content\n")
    write_csv(path, ["a"], np.arange(3.0))
    assert path.read_text().splitlines()[0] == "a"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_write_new_file_gets_normal_permissions(tmp_path):
    path = tmp_path / "out.csv"
    write_csv(path, ["a"], np.arange(3.0))
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_write_failure_keeps_the_old_file_and_removes_the_temp(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    path.write_text("old\n")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_csv(path, ["a"], np.arange(3.0))
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_write_errors(tmp_path):
    with pytest.raises(ValueError, match="the header has 2 names but the rows have 3 columns"):
        write_csv(tmp_path / "o.csv", ["a", "b"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"1-D or 2-D array. Got shape \(2, 2, 2\)"):
        write_csv(tmp_path / "o.csv", ["a", "b"], np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="the header must be column names"):
        write_csv(tmp_path / "o.csv", [1, 2], np.zeros((2, 2)))
    missing = tmp_path / "no_such_folder" / "o.csv"
    with pytest.raises(FileNotFoundError, match="no_such_folder.* does not exist"):
        write_csv(missing, ["a"], np.zeros(2))
    assert os.listdir(tmp_path) == []


def test_write_integers_and_booleans_as_plain_text(tmp_path):
    path = tmp_path / "out.csv"
    write_csv(path, ["label", "count"], np.array([[0, 12], [1, -3]]))
    assert path.read_bytes() == b"label,count\n0,12\n1,-3\n"
    write_csv(path, ["flag"], np.array([True, False]))
    assert path.read_bytes() == b"flag\nTrue\nFalse\n"


def test_write_quotes_header_names_that_need_it(tmp_path):
    path = tmp_path / "out.csv"
    write_csv(path, ["a,b", "c"], np.array([[1.5, 2.5]]))
    assert path.read_bytes() == b'"a,b",c\n1.5,2.5\n'


def test_a_file_with_another_separator_is_named(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a;b;z\n1;2;3\n4;5;6\n")
    with pytest.raises(DataError, match=r"no column 'z'.*separate its values with semicolons; "
                                         r"chainrule reads comma-separated files"):
        load_csv(path, target="z")
