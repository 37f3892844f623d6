"""``chainrule export``: move a run's weights to PyTorch (``--to torch``) or back (``--from torch``).

    chainrule export --to torch RUN_DIR [--out FILE.pt]
        RUN_DIR/checkpoint.crk's model state dict -> FILE.pt (default RUN_DIR/model.pt), written
        with torch.save, and the lines that load it into the equivalent torch.nn.Sequential.

    chainrule export --from torch FILE.pt --like RUN_DIR --out NEW_RUN_DIR
        A new run folder with RUN_DIR's settings and the weights of FILE.pt, so that
        ``chainrule predict --model NEW_RUN_DIR`` predicts with them.

Why this works without any mapping of names: a chainrule state dict has PyTorch's layout ('0.weight'
of shape (out, in), '0.bias', '2.weight', ...), see chainrule.apps.interop. The model is rebuilt from the
run's config.json settings (hidden sizes, activation, dtype) with the input and output sizes of the
saved weights, and every import goes through its ``load_state_dict``, whose errors name the keys
and shapes that do not fit.

What the new run folder of ``--from torch`` holds: config.json (RUN_DIR's settings, as its
checkpoint holds them) and checkpoint.crk, which is RUN_DIR's checkpoint with the imported
weights. Both are written atomically, and a link already at either name is replaced, never written
through. Every file read is a regular file (see ``chainrule.files.open_regular``), and a PyTorch
zip's members are checked for size before any is read. What belonged to the old weights is
dropped: the optimizer's per-parameter buffers (momentum, Adam's moments; its settings stay) and
the early stopping state (it keeps a copy of the best old weights). The checkpoint's history is
RUN_DIR's, and its "imported_from" entry names the file. Metrics and plots are not copied, since
they describe the old weights.
"""

from __future__ import annotations

import argparse
import json
import os

from . import CommandError
from ..files import atomic_write

EXAMPLES = """\
examples:
  chainrule export --to torch runs/h                      writes runs/h/model.pt
  chainrule export --to torch runs/h --out h.pt --json
  chainrule export --from torch tuned.pt --like runs/h --out runs/h-tuned
  chainrule predict --model runs/h-tuned --csv new_houses.csv

The inputs the model expects are those it was trained on: standardized with the training rows'
mean and std when the run standardized them (printed by --to torch; in the --json summary).
"""

DEFAULT_FILE = "model.pt"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="write a run's weights as a PyTorch .pt file, or import one",
        description="Write a run's model weights as a PyTorch state dict (--to torch), or import "
                    "a PyTorch state dict into a copy of a run folder (--from torch).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="RUN_DIR | FILE.pt",
                        help="the run folder to export (--to), or the .pt file to import (--from)")
    direction = parser.add_mutually_exclusive_group(required=True)
    direction.add_argument("--to", choices=("torch",), help="export RUN_DIR to PyTorch")
    direction.add_argument("--from", dest="from_", choices=("torch",),
                           help="import a PyTorch state dict (needs --like and --out)")
    parser.add_argument("--like", metavar="RUN_DIR",
                        help="with --from: the run whose model has the architecture of FILE.pt")
    parser.add_argument("--out", metavar="PATH",
                        help="with --to: the .pt file (default RUN_DIR/model.pt); with --from: "
                             "the new run folder (required)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary")
    parser.set_defaults(run=run)


# ----- the run's model --------------------------------------------------------------------------

def _linear_indices(state_dict) -> list:
    """The layer indices i with an 'i.weight' entry, in order (the Linear layers of an MLP)."""
    indices = []
    for key in state_dict:
        layer, _, name = key.partition(".")
        if name == "weight" and layer.isdigit():
            indices.append(int(layer))
    return sorted(indices)


def build_run_model(checkpoint, where: str):
    """The chainrule Sequential of a run of chainrule train or chainrule seed, with its weights.

    Rebuilt as build_mlp(in, hidden, out, activation, dtype): hidden sizes, activation and dtype
    from the run's config, in and out from the shapes of the first and last saved weights.
    """
    from ..training.builders import build_mlp

    config, state_dict = checkpoint["config"], checkpoint["model"]
    data = checkpoint.get("data")
    if isinstance(data, dict) and data.get("source") == "images":  # chainrule train --images
        from ..apps.images import build_image_model

        model = build_image_model(config, tuple(data["image_shape"]), data["classes"])
        model.load_state_dict(state_dict)
        return model
    indices = _linear_indices(state_dict) if isinstance(state_dict, dict) else []
    if not all(key in config for key in ("hidden", "activation", "dtype")) or not indices:
        raise CommandError(f"{where} was not written by chainrule train or chainrule seed: its "
                           "config does not describe a Linear/activation network.")
    first = state_dict[f"{indices[0]}.weight"]
    last = state_dict[f"{indices[-1]}.weight"]
    model = build_mlp(first.shape[1], config["hidden"], last.shape[0], config["activation"],
                      config["dtype"])
    model.load_state_dict(state_dict)
    return model


def torch_sequential_code(model) -> str:
    """``nn.Sequential(nn.Linear(2, 10), nn.Sigmoid(), nn.Linear(10, 1))`` for ``model``, with
    ``.double()`` for a float64 model; each layer as PyTorch's repr writes it (without torch)."""
    from .. import nn

    layers = []
    for layer in model.children():
        if type(layer) is nn.Linear:
            bias = "" if layer.bias is not None else ", bias=False"
            layers.append(f"nn.Linear({layer.in_features}, {layer.out_features}{bias})")
        else:
            settings = layer.extra_repr()
            layers.append(f"nn.{type(layer).__name__}({settings})")
    code = f"nn.Sequential({', '.join(layers)})"
    dtypes = {param._data.dtype.name for param in model.parameters()}
    return code + ".double()" if dtypes == {"float64"} else code


def _standardizer(checkpoint, key="standardizer"):
    """{'mean': [...], 'std': [...]} of the run's input scaling (or with key
    "target_standardizer", its target's), or None."""
    data = checkpoint.get("data")
    scaler = data.get(key) if isinstance(data, dict) else None
    if not scaler:
        return None
    return {"mean": [float(v) for v in scaler["mean"]], "std": [float(v) for v in scaler["std"]]}


# ----- --to torch -------------------------------------------------------------------------------

def _save_torch_atomically(torch, state_dict, path: str) -> None:
    """torch.save into a temporary file beside ``path``, then os.replace (all or nothing)."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"--out {path} is a folder; give a file name such as model.pt.")
    with atomic_write(path, "wb", what="--out") as handle:
        torch.save(state_dict, handle)


def export_to_torch(run_dir, out=None) -> dict:
    """Write the model of ``run_dir`` as a PyTorch state dict; return the summary."""
    from ..apps.interop import to_torch_state_dict
    from ..training.runs import load_checkpoint
    from ..apps.torch_twin import require_torch

    torch = require_torch()
    checkpoint = load_checkpoint(run_dir, command=("train", "seed"))
    model = build_run_model(checkpoint, run_dir)
    path = out if out is not None else os.path.join(run_dir, DEFAULT_FILE)
    state_dict = to_torch_state_dict(model.state_dict())
    _save_torch_atomically(torch, state_dict, path)
    data = checkpoint.get("data") if isinstance(checkpoint.get("data"), dict) else {}
    code = torch_sequential_code(model)
    return {
        "run_dir": run_dir, "out": path,
        "keys": {key: list(value.shape) for key, value in state_dict.items()},
        "dtype": checkpoint["config"]["dtype"],
        "torch_model": code,
        "features": data.get("features"),
        "standardizer": _standardizer(checkpoint),
        "target_standardizer": _standardizer(checkpoint, "target_standardizer"),
        "image_shape": data.get("image_shape"),
        "channel_standardizer": _standardizer(checkpoint, "channel_standardizer"),
        "snippet": ["import torch", "from torch import nn", f"model = {code}",
                    f"model.load_state_dict(torch.load({path!r}, weights_only=True))"],
    }


def _print_export(summary) -> None:
    shapes = ", ".join(f"{key} {tuple(shape)}" for key, shape in summary["keys"].items())
    print(f"wrote {summary['out']}: the {summary['dtype']} state dict of {summary['run_dir']} "
          f"({shapes})")
    print("load it into the equivalent PyTorch model with:")
    for line in summary["snippet"]:
        print(f"    {line}")
    scaler = summary["standardizer"]
    if scaler is not None:
        names = summary["features"] or [f"x{i}" for i in range(len(scaler["mean"]))]
        print(f"the model expects standardized inputs x = (raw - mean) / std, per column "
              f"{', '.join(names)}:")
        print(f"    mean = {scaler['mean']}")
        print(f"    std  = {scaler['std']}")
    if summary.get("image_shape"):
        shape = ", ".join(map(str, summary["image_shape"]))
        scaler = summary["channel_standardizer"]
        if scaler is None:
            print(f"the model expects images of shape (N, {shape}), unscaled")
        else:
            print(f"the model expects images of shape (N, {shape}), each channel c standardized "
                  "x[:, c] = (raw[:, c] - mean[c]) / std[c]:")
            print(f"    mean = {scaler['mean']}")
            print(f"    std  = {scaler['std']}")
    scaler = summary["target_standardizer"]
    if scaler is not None:
        print(f"and it predicts the standardized target: prediction = output * "
              f"{scaler['std'][0]!r} + {scaler['mean'][0]!r}")


# ----- --from torch -----------------------------------------------------------------------------

def import_from_torch(file, like, out) -> dict:
    """A new run folder ``out``: ``like``'s settings with the weights of the PyTorch file."""
    from ..apps.interop import load_torch_file
    from ..training.runs import (
        CHECKPOINT, CONFIG, check_new_run_dir, load_checkpoint, save_checkpoint, write_json,
    )

    checkpoint = load_checkpoint(like, command=("train", "seed"))
    model = build_run_model(checkpoint, like)
    check_new_run_dir(out, resumable=False)
    imported = load_torch_file(file)
    try:
        model.load_state_dict(imported)
    except (ValueError, TypeError) as err:
        raise CommandError(f"{file} does not fit the model of {like}: {err}") from None
    cast = sorted({f"{value.dtype} -> {checkpoint['config']['dtype']}"
                   for value in imported.values()
                   if value.dtype.name != checkpoint["config"]["dtype"]})
    new = dict(checkpoint)
    new["model"] = model.state_dict()
    new["optimizer"] = {**checkpoint["optimizer"], "state": {}}
    new["early_stopping"] = None
    new["imported_from"] = {"file": os.path.abspath(file), "format": "torch"}
    os.makedirs(out, exist_ok=True)
    # config.json: the settings as the checkpoint holds them (checked when it was loaded), written
    # atomically like every file of a run (a link already at that name is replaced, not followed)
    files = [os.path.join(out, CONFIG), os.path.join(out, CHECKPOINT)]
    write_json(files[0], checkpoint["config"])
    save_checkpoint(files[1], new)
    data = checkpoint.get("data") if isinstance(checkpoint.get("data"), dict) else {}
    return {"file": file, "like": like, "run_dir": out, "files": files,
            "keys": {key: list(value.shape) for key, value in imported.items()},
            "cast": cast, "features": data.get("features"), "image_shape": data.get("image_shape"),
            "target_standardizer": _standardizer(checkpoint, "target_standardizer")}


def _print_import(summary) -> None:
    print(f"imported {summary['file']} ({len(summary['keys'])} tensors) into the new run folder "
          f"{summary['run_dir']}, with the settings of {summary['like']}")
    for cast in summary["cast"]:
        print(f"note: values were cast ({cast}) to the run's dtype")
    if summary.get("target_standardizer"):
        scaler = summary["target_standardizer"]
        print(f"note: {summary['like']} learned its target standardized, so predict takes these "
              f"weights' outputs as such: prediction = output * {scaler['std'][0]!r} + "
              f"{scaler['mean'][0]!r}")
    if summary["features"]:  # a run of chainrule train, which predict can use
        print(f"predict with: chainrule predict --model {summary['run_dir']} --csv FILE")
    elif summary.get("image_shape"):
        print(f"predict with: chainrule predict --model {summary['run_dir']} --images SOURCE")


# ----- the command ------------------------------------------------------------------------------

def run(args) -> int:
    if args.to is not None:
        if args.like is not None:
            raise CommandError("--like applies to --from torch only; --to torch exports the "
                               "run folder it is given.")
        summary = export_to_torch(args.source, args.out)
        printer = _print_export
    else:
        if args.like is None or args.out is None:
            raise CommandError("--from torch needs --like RUN_DIR (a run with the same "
                               "architecture) and --out NEW_RUN_DIR.")
        summary = import_from_torch(args.source, args.like, args.out)
        printer = _print_import
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        printer(summary)
    return 0
