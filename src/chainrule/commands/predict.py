"""``chainrule predict``: apply a model trained by ``chainrule train`` to the rows of a CSV file.

The run folder's checkpoint holds the weights and what the data looked like in training: the
feature names (the CSV must have those columns; others are carried along), the standardizer's mean
and std (applied to the new rows exactly as in training) and the task. The output CSV has every
column of the input, its cells as they were (an id stays beside its prediction), and then:
    regression        prediction
    cross_entropy     prediction (the most likely class), p_0 ... p_{K-1} (softmax probabilities)
    bce_with_logits   prediction (0 or 1), probability (of class 1, the sigmoid of the logit)
If the CSV also has the target column, the loss on it is reported. --out may not be the input
file itself: predicting never overwrites the data it reads.

A run trained on images (chainrule train --images) predicts on images instead of CSV rows:
--images SOURCE, an .npz file (images under x or images; labels, if any, under y or labels), a
folder of .npy images (in class subfolders, or directly in the folder when unlabelled), or digits.
The images must have the shape the model was trained on; each channel is scaled as in training.
The output CSV has a column image (the image's index in the array, or its file in the folder),
label when the images have labels, then the prediction columns above.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

import numpy as np

from ..apps.tabular import load_run, predict_array
from ..files import atomic_write, open_regular
from ..training.builders import build_loss, check_number
from ..training.tasks import accuracy, prediction_columns, targets_for_task
from . import CommandError

EXAMPLES = """\
examples:
  chainrule predict --model runs/houses --csv new_houses.csv --out predictions.csv
  chainrule predict --model runs/houses --csv new_houses.csv            (CSV on stdout)
  chainrule predict --model runs/houses --csv test.csv --out p.csv --json
  chainrule predict --model runs/digits --images new_digits.npz --out p.csv
  chainrule predict --model runs/shapes --images unlabelled_folder/ --out p.csv
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="predict with a trained run on the rows of a CSV file, or on images",
        description="Predict with a model trained by 'chainrule train' on the rows of a CSV "
                    "file (or on images, for a run trained on images), scaling the inputs as "
                    "in training.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, metavar="RUN_DIR",
                        help="a run folder of chainrule train (or its checkpoint.crk)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", metavar="FILE",
                        help="rows to predict, with a header naming the feature columns")
    source.add_argument("--images", metavar="SOURCE",
                        help="images to predict, for a run trained on images: FILE.npz, a "
                             "FOLDER of .npy images, or digits")
    parser.add_argument("--out", metavar="FILE", help="where to write the predictions "
                                                      "(default: stdout)")
    parser.add_argument("--batch-size", type=int, default=4096, help="rows per forward pass")
    parser.add_argument("--json", action="store_true",
                        help="print a machine-readable summary on stdout (needs --out)")
    parser.set_defaults(run=run)


def _header(path: str) -> list:
    try:
        with open_regular(path, "r", what="--csv", newline="", encoding="utf-8-sig") as handle:
            row = next(csv.reader(handle, skipinitialspace=True), None)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise CommandError(f"{path} is a folder, not a CSV file.") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text; save it as UTF-8 CSV.") from None
    if not row:
        raise CommandError(f"{path} is empty; expected a header row of column names.")
    return [name.strip() for name in row]


def _loss(data, outputs, y, target_name) -> float:
    from .. import tensor

    if data["task"] == "classification":  # labels checked as in training: 1.5 is no class
        target, _ = targets_for_task(y, "classification", target_name)
    else:
        target = y.astype(outputs.dtype)
    return float(build_loss(data["loss"])(tensor(outputs), tensor(target)).item())


def _class_numbers(y, class_names, path, target):
    """The text labels of the ``target`` column as the class numbers training gave them."""
    index = {name: k for k, name in enumerate(class_names)}
    unknown = sorted({cell for cell in y[:, 0] if cell not in index})
    if unknown:
        raise CommandError(f"{path}, column {target!r}: {unknown[0]!r} is not one of the classes "
                           f"the model was trained on ({', '.join(class_names)}).")
    return np.array([[index[cell]] for cell in y[:, 0]], dtype=np.float64)


def _write_rows(handle, header, table, integer_columns) -> None:
    """CSV rows: each input row's cells as they were, then its predictions (the class label as
    an integer, every other number in its shortest form)."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(header)
    for cells, row in table:
        writer.writerow([*cells, *(str(int(v)) if j in integer_columns and not isinstance(v, str)
                                   else str(v) for j, v in enumerate(row))])


def _write_file(path, header, table, integer_columns) -> None:
    """Write atomically: into a temporary file beside ``path``, then os.replace."""
    with atomic_write(path, "w", newline="", what="--out") as handle:
        _write_rows(handle, header, table, integer_columns)


def _predict_images(args) -> int:
    """chainrule predict --images: one row per image."""
    from ..apps.images import load_image_run, load_images, predict_images

    model, data, _ = load_image_run(args.model)
    images = load_images(args.images, need_labels=False)
    outputs = predict_images(model, data, images.x, args.batch_size)
    names, columns = prediction_columns(data["task"], outputs)
    class_names = data.get("class_names")
    y = None
    if images.labels is not None:
        if images.class_names is not None and class_names:  # text labels: as training numbered
            labels = np.array([images.class_names[int(k)] for k in images.labels], dtype=object)
            y = _class_numbers(labels.reshape(-1, 1), class_names, args.images, "label")
        elif images.class_names is None:
            y = images.labels.reshape(-1, 1)
        else:
            raise CommandError(f"{args.images} labels its images by name ({images.class_names[0]}, "
                               f"...) but the model was trained on numbered classes; give "
                               "numeric labels, or no labels.")
    if class_names:
        names = ["prediction"] + [f"p_{name}" for name in class_names]
    label_cells = [] if images.labels is None else [
        images.class_names[int(k)] if images.class_names else f"{k:g}" for k in images.labels]
    header = ["image"] + (["label"] if label_cells else []) + names
    rows = []
    for i, row in enumerate(np.asarray(columns, dtype=np.float64)):
        cells = [images.ids[i]] + ([label_cells[i]] if label_cells else [])
        rows.append((cells, [class_names[int(row[0])], *row[1:]] if class_names else row))
    loss = _loss(data, outputs, y, "label") if y is not None else None
    hits = accuracy(data["task"], outputs, y) if y is not None else None
    score = (f"{data['loss']} loss on the {len(outputs)} labelled images of {args.images}: "
             f"{loss:.4f}" + (f", accuracy {hits:.4f}" if hits is not None else "")
             ) if y is not None else None
    integer_columns = {0} if data["task"] != "regression" else set()
    return _report(args, header, rows, integer_columns, data, loss, hits, score,
                   {"images": args.images, "image_shape": list(images.shape)})


def run(args) -> int:
    from ..apps.csvdata import load_csv, read_cells

    check_number("--batch-size", args.batch_size, 1, integer=True)
    if args.json and args.out is None:
        raise CommandError("--json prints a summary on stdout, so the predictions need --out "
                           "FILE.")
    source = args.csv if args.csv is not None else args.images
    if args.out is not None and os.path.exists(args.out) and os.path.exists(source) \
            and os.path.samefile(args.out, source):
        raise CommandError(f"--out {args.out} is the input file {source}; predictions are "
                           "written beside the data they come from, never over it: choose "
                           "another --out.")
    if args.images is not None:
        return _predict_images(args)
    model, data, _ = load_run(args.model)
    features, target = data["features"], data["target"]
    header = _header(args.csv)
    missing = [name for name in features if name not in header]
    if missing:
        raise CommandError(
            f"{args.csv} lacks the column(s) {', '.join(missing)} that the model was trained "
            f"on; it needs {', '.join(features)} and has {', '.join(header)}."
        )
    has_target = target in header and target not in features
    class_names = data.get("class_names")  # text labels (runs made before them have none)
    X, y, _ = load_csv(args.csv, target=target if has_target else None, features=features,
                       target_as_text=bool(class_names))
    if has_target and class_names:
        y = _class_numbers(y, class_names, args.csv, target)
    outputs = predict_array(model, data, X, args.batch_size)
    names, columns = prediction_columns(data["task"], outputs)
    if class_names:  # the class as its text, and p_<text> for its probability
        names = ["prediction"] + [f"p_{name}" for name in class_names]
    taken = [name for name in names if name in header]
    if taken:
        raise CommandError(
            f"{args.csv} already has the column(s) {', '.join(taken)} that predict adds (is it "
            "a predictions file?); predict from the original data, or rename them."
        )
    input_header, cells = read_cells(args.csv)
    table = list(zip(cells, np.asarray(columns, dtype=np.float64)))
    if class_names:
        table = [(cells_of_row, [class_names[int(row[0])], *row[1:]])
                 for cells_of_row, row in table]
    loss = _loss(data, outputs, y, target) if has_target else None
    hits = accuracy(data["task"], outputs, y) if has_target else None
    score = (f"{data['loss']} loss on {args.csv} (column {target!r}): {loss:.4f}"
             + (f", accuracy {hits:.4f}" if hits is not None else "")) if has_target else None

    integer_columns = {0} if data["task"] != "regression" else set()  # the predicted label
    out_header = [name.strip() for name in input_header] + names
    return _report(args, out_header, table, integer_columns, data, loss, hits, score,
                   {"csv": args.csv})


def _report(args, header, rows, integer_columns, data, loss, hits, score, source: dict) -> int:
    """Write the predictions (to --out, else stdout) and say what was written and how well it
    scored (--json: all of it as one JSON object; ``source`` names the input)."""
    if args.out is None:
        _write_rows(sys.stdout, header, rows, integer_columns)
    else:
        _write_file(args.out, header, rows, integer_columns)
    if args.json:
        print(json.dumps({
            "model": args.model, **source, "out": args.out, "rows": len(rows),
            "task": data["task"], "columns": header,
            "loss": loss, "loss_name": data["loss"] if loss is not None else None,
            "accuracy": hits,
        }, indent=2))
    elif args.out is not None:
        print(f"wrote {len(rows)} predictions to {os.path.abspath(args.out)}")
        if score is not None:
            print(score)
    elif score is not None:
        print(score, file=sys.stderr)
    return 0
