"""Read numeric CSV files for training, and write predictions, with errors that say exactly where.

    X, y, names = load_csv("data.csv", target="price")     # X: (n, k) floats, y: (n, 1)
    write_csv("predictions.csv", ["prediction"], y_hat)     # atomic: a reader never sees half

The first row is the header of column names. Every problem in the file (a missing value, a word
where a number should be, NaN or Inf, a short row, an unknown column) is found before training
starts and reported as one DataError sentence naming the file, the line, the column and the value,
such as ``data.csv, line 7, column 'x': 'abc' is not a number.`` Line numbers are the file's own
(the header is line 1), so they match what an editor shows.
"""

from __future__ import annotations

import csv
import os

import numpy as np

from ..files import atomic_write, open_regular

__all__ = ["DataError", "load_csv", "read_cells", "write_csv", "check_finite",
           "check_feature_count"]


class DataError(ValueError):
    """Bad input data: the message names the file (or array), where the problem is and the value."""


def _shown(name) -> str:
    """A column name as a message shows it: quoted, and cut short past 80 characters (a name
    from a damaged config may be thousands long)."""
    text = repr(name)
    return text if len(text) <= 80 else text[:77] + "..."


def _shorten(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _read_rows(path: str):
    """(header, [(line number, row), ...]) from a CSV file; blank lines are skipped."""
    try:
        with open_regular(path, "r", what="the CSV file", newline="",
                          encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, skipinitialspace=True)
            header = None
            rows = []
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip() and header is not None
                               and len(header) > 1):
                    continue  # a blank line
                if header is None:
                    header = row
                else:
                    rows.append((reader.line_num, row))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder, not a CSV file.") from None
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path} is not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start}); "
            f"save it as UTF-8 CSV."
        ) from None
    except csv.Error as err:
        raise DataError(f"{path}: cannot read it as CSV ({err}).") from None
    return header, rows


def _check_header(path: str, header) -> list:
    names = [name.strip() for name in header]
    seen = {}
    for position, name in enumerate(names, start=1):
        if not name:
            raise DataError(f"{path}, line 1: column {position} has an empty name in the header.")
        if name in seen:
            raise DataError(
                f"{path}, line 1: the column name {name!r} appears twice in the header "
                f"(columns {seen[name]} and {position})."
            )
        seen[name] = position
    return names


def _select_columns(path: str, names: list, target, features) -> tuple:
    """(feature names, target name or None), each checked against the header."""
    available = ", ".join(names)
    if len(names) == 1:  # one column whose name holds another separator: say so
        for separator, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if separator in names[0]:
                available += (f" (one column: the file seems to separate its values with "
                              f"{name}; chainrule reads comma-separated files)")
                break
    if target is not None:
        if not isinstance(target, str):
            raise TypeError(f"load_csv: 'target' must be a column name. Got {target!r} instead.")
        if target not in names:
            raise DataError(
                f"{path}: there is no column {_shown(target)} for the target; "
                f"the columns are {available}."
            )
    if features is None:
        features = [name for name in names if name != target]
        if not features:
            raise DataError(
                f"{path} has no feature columns besides the target {target!r}; "
                f"the columns are {available}."
            )
    else:
        if isinstance(features, str):
            raise TypeError(
                f"load_csv: 'features' must be a list of column names. Got {features!r} instead."
            )
        features = list(features)
        if not features:
            raise DataError(f"load_csv: 'features' names no columns of {path}; "
                            f"the columns are {available}.")
        for name in features:
            if name not in names:
                raise DataError(
                    f"{path}: there is no column {_shown(name)} for a feature; "
                    f"the columns are {available}."
                )
            if name == target:
                raise DataError(f"{path}: the column {name!r} is both the target and a feature.")
        if len(set(features)) != len(features):
            twice = sorted({name for name in features if features.count(name) > 1})
            raise DataError(f"load_csv: the feature {twice[0]!r} is named more than once.")
    return features, target


def _parse_cell(path: str, line: int, column: str, cell: str) -> float:
    text = cell.strip()
    if not text:
        raise DataError(f"{path}, line {line}, column {column!r}: the cell is empty; "
                        f"expected a number.")
    try:
        value = float(text)
    except ValueError:
        raise DataError(
            f"{path}, line {line}, column {column!r}: {_shorten(text)!r} is not a number."
        ) from None
    if not np.isfinite(value):
        raise DataError(
            f"{path}, line {line}, column {column!r}: {text!r} is not a finite number; "
            f"remove or fill in NaN and Inf values."
        )
    return value


def read_cells(path) -> tuple:
    """(header, rows): every cell of a CSV file as text, the rows in the order and with the blank
    lines skipped exactly as ``load_csv`` reads them, so row i here is row i of its arrays."""
    header, rows = _read_rows(os.fspath(path))
    return header, [row for _, row in rows]


def load_csv(path, target=None, features=None, dtype=np.float64, target_as_text=False):
    """Load a numeric CSV file whose first row names the columns.

    Returns ``(X, y, feature_names)``: X is a float array of shape (n, k) with the ``features``
    columns (default: every column except the target) in that order, y is an (n, 1) array with
    the ``target`` column (None when no target is given), and feature_names is the list of the k
    column names. Columns that are neither target nor feature are not parsed, so they may hold
    text (an id, a label). Blank lines are skipped.

    Raises DataError (a ValueError), in one sentence naming file, line, column and value, for: an
    empty file, a header without data rows, empty or duplicated column names, an unknown target or
    feature column (listing the columns), a row with a different number of cells than the header,
    an empty or non-numeric cell, and NaN or Inf values. A missing file is a FileNotFoundError.

    ``target_as_text=True``: y is an (n, 1) array of the target cells as text (stripped), not
    parsed, for class labels such as 'setosa' (an empty cell is still refused).
    """
    path = os.fspath(path)
    header, rows = _read_rows(path)
    if header is None:
        raise DataError(f"{path} is empty; expected a header row of column names, then data rows.")
    names = _check_header(path, header)
    features, target = _select_columns(path, names, target, features)
    if not rows:
        raise DataError(f"{path} has a header but no data rows.")

    columns = [names.index(name) for name in features]
    text_target = None
    if target is not None and target_as_text:
        j = names.index(target)
        text_target = []
        for line, row in rows:
            cell = row[j].strip() if len(row) == len(names) else ""
            if len(row) == len(names) and not cell:
                raise DataError(f"{path}, line {line}, column {target!r}: the cell is empty; "
                                "expected a class label.")
            text_target.append(cell)
    elif target is not None:
        columns.append(names.index(target))
    parsed = []
    for line, row in rows:
        if len(row) != len(names):
            raise DataError(
                f"{path}, line {line}: the row has {len(row)} cells but the header has "
                f"{len(names)} columns."
            )
        try:
            parsed.append([float(row[j]) for j in columns])
        except ValueError:
            for j in columns:  # find the bad cell, for the message
                _parse_cell(path, line, names[j], row[j])
    values = np.array(parsed, dtype=np.float64)
    _check_cells(path, values, rows, names, columns, "float64")
    if np.dtype(dtype) != values.dtype:
        with np.errstate(over="ignore"):  # an overflow is reported just below, by line
            values = values.astype(dtype)
        _check_cells(path, values, rows, names, columns, np.dtype(dtype).name)

    X = np.ascontiguousarray(values[:, : len(features)])
    y = np.ascontiguousarray(values[:, len(features):]) if target is not None else None
    if text_target is not None:
        y = np.array(text_target, dtype=object).reshape(-1, 1)
    return X, y, list(features)


def _check_cells(path, values, rows, names, columns, dtype_name) -> None:
    """Raise DataError naming the line and column of the first NaN or Inf in ``values``."""
    finite = np.isfinite(values)
    if finite.all():
        return
    i, k = (int(n) for n in np.argwhere(~finite)[0])
    line, row = rows[i]
    cell = row[columns[k]].strip()
    _parse_cell(path, line, names[columns[k]], cell)  # raises for NaN and Inf in the text
    raise DataError(
        f"{path}, line {line}, column {names[columns[k]]!r}: {cell!r} is too large for "
        f"{dtype_name}."
    )


def check_finite(array, what: str):
    """Return ``array`` if all its values are finite, else raise DataError naming the first bad one.

    ``what`` names the array in the message, e.g. "the predictions" or "data.csv".
    """
    data = getattr(array, "data", array)  # a chainrule Tensor gives its data
    data = np.asarray(data)
    if data.dtype.kind in "fc":
        finite = np.isfinite(data)
        if not finite.all():
            bad = np.argwhere(~finite)
            index = tuple(int(i) for i in bad[0])
            where = f"index {index[0]}" if data.ndim == 1 else f"index {index}"
            raise DataError(
                f"{what} contains {len(bad)} non-finite value(s) (NaN or Inf); the first is "
                f"{data[index]} at {where}."
            )
    return array


def _describe(features) -> tuple:
    """(count, " (a, b, c)" or "") for a feature count or a list of feature names."""
    if isinstance(features, (int, np.integer)) and not isinstance(features, bool):
        return int(features), ""
    names = [str(name) for name in features]
    return len(names), f" ({', '.join(names)})"


def check_feature_count(expected, got, source: str) -> None:
    """Raise DataError when data has a different number of features than a model expects.

    ``expected`` and ``got`` are feature counts or lists of feature names (names make a better
    message): "model expects 3 features (a, b, c) but data.csv has 2 (a, b)."
    """
    expected_count, expected_names = _describe(expected)
    got_count, got_names = _describe(got)
    if expected_count != got_count:
        plural = "feature" if expected_count == 1 else "features"
        raise DataError(
            f"model expects {expected_count} {plural}{expected_names} but {source} has "
            f"{got_count}{got_names}."
        )


def _format_rows(rows: np.ndarray) -> list:
    """The cells as text: each number in the shortest form that reads back as the same value.

    Python's repr does this for float64 and ints; NumPy's str conversion does it for float32
    (where repr of the float64 value would print 0.1 as 0.10000000149011612).
    """
    if rows.dtype == np.float64 or rows.dtype.kind in "iu":
        return [list(map(repr, row)) for row in rows.tolist()]
    if rows.dtype.kind in "fb":
        return rows.astype(str).tolist()
    return [[str(v) for v in row] for row in rows.tolist()]


def write_csv(path, header, rows_array) -> None:
    """Write ``header`` and the rows of a 2-D array (or a 1-D array as one column) to a CSV file.

    The file is written atomically: into a temporary file in the same folder, flushed to disk,
    then moved over ``path`` with os.replace, so a reader (or a crash) never sees half a file.
    Numbers are written in their shortest exact form.
    """
    path = os.fspath(path)
    header = [header] if isinstance(header, str) else list(header)
    if not all(isinstance(name, str) for name in header):
        raise TypeError(f"write_csv: the header must be column names (strings). Got {header!r}.")
    data = getattr(rows_array, "data", rows_array)
    rows = np.asarray(data)
    if rows.ndim == 1:
        rows = rows.reshape(-1, 1)
    if rows.ndim != 2:
        raise ValueError(f"write_csv: the rows must be a 1-D or 2-D array. Got shape {rows.shape}.")
    if rows.shape[1] != len(header):
        raise ValueError(
            f"write_csv: the header has {len(header)} names but the rows have {rows.shape[1]} "
            f"columns."
        )
    with atomic_write(path, "w", newline="", what="write_csv") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(_format_rows(rows))

