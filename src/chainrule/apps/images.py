"""Image runs: a network (a small CNN, or an MLP on the flattened pixels) fitted to labelled images
(what ``chainrule train --images`` runs and ``chainrule predict --images`` applies).

    config = {...}                               # chainrule train's config.json, source "images"
    result = execute(ImageRunSpec(config), "runs/digits")
    model, data, config = load_image_run("runs/digits")
    images = load_images("new.npz", need_labels=False)
    outputs = predict_images(model, data, images.x)   # scaled as in training

Where images come from (the SOURCE of --images):
    digits       scikit-learn's 1797 handwritten digits, 8x8 grey levels 0..16, labels 0..9
    FILE.npz     the images under the key 'x' (or 'images'), the labels under 'y' (or 'labels');
                 a file with only the images is enough to predict
    FOLDER       one .npy file per image, in a subfolder per class (FOLDER/cat/001.npy: the class
                 is the subfolder's name, as torchvision's ImageFolder); or, to predict, .npy files
                 directly in FOLDER; or a pair of arrays x.npy and y.npy (or images.npy and
                 labels.npy), read as an .npz
Image shapes, PyTorch's layout: a set of images is (N, C, H, W), or (N, H, W) read as one channel
(C = 1); one image in a folder is (C, H, W) or (H, W). An array whose last dim looks like channels
(N, H, W, 3) is refused with the transpose that fixes it, never silently read as 3-pixel-wide images.

One run, in order (so a seed reproduces it and a resume rebuilds it):
    manual_seed(seed)                            (by execute)
    data:   the images as float64 (N, C, H, W) and their labels (text labels numbered in sorted
            order, folder names as numbers when all are whole numbers)
    split:  a random val_fraction of the images for validation (0: no validation)
    scale:  each channel standardized with the training images' mean and std (one number each,
            over every pixel of that channel), and for a regression loss the target too
    model:  cnn: (Conv2d 3x3 same-padding, [BatchNorm2d], activation, MaxPool2d 2) per --channels,
            Flatten, Linear...;  mlp: Flatten, then the MLP of --hidden; then init
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from ..autograd import no_grad
from ..data import Standardizer
from ..tensor import Tensor
from ..training.builders import apply_init, build_cnn, build_mlp
from ..training.lifecycle import Setup
from ..training.runs import load_checkpoint
from ..training.tasks import (
    targets_for_task, task_of,
)
from .tabular import Prepared, TrainRunSpec, confusion_drawn, draw_confusion

__all__ = ["DIGITS", "Images", "load_images", "images_sha256", "check_images_unchanged",
           "prepare_images", "build_image_model", "ImageRunSpec", "load_image_run",
           "predict_images", "describe_model"]

DIGITS = "digits"  # the SOURCE naming scikit-learn's digits
IMAGE_KEYS = ("x", "images")  # where an .npz keeps its images,
LABEL_KEYS = ("y", "labels")  # and its labels


class Images:
    """A set of images read from a SOURCE: x (N, C, H, W) float64, labels (N,) or None, ids (a
    name per image: its index, or its file's path in the folder), class_names (labels given as
    text or folder names; None for numbers) and layout, what the images were read as."""

    def __init__(self, x, labels, ids, class_names, layout, source):
        self.x, self.labels, self.ids = x, labels, ids
        self.class_names, self.layout, self.source = class_names, layout, source

    @property
    def shape(self) -> tuple:
        """(C, H, W) of one image."""
        return tuple(int(n) for n in self.x.shape[1:])


# ----- reading images ---------------------------------------------------------------------------

def _channels_last_hint(shape, per_image: bool) -> str | None:
    """The fix for an array that looks channels-last, or None: (N,) H, W, C with C 1, 3 or 4 (grey,
    RGB, RGBA) and H and W above 4 (read channels-first, it would be images 4 or fewer pixels
    wide with more than 4 channels)."""
    spatial = shape[-3:] if per_image else shape[1:]
    if len(spatial) == 3 and spatial[-1] in (1, 3, 4) and spatial[0] > 4 and spatial[1] > 4:
        axes = "x.transpose(2, 0, 1)" if per_image else "x.transpose(0, 3, 1, 2)"
        return (f"it looks channels-last ({'H, W, C' if per_image else 'N, H, W, C'}), and "
                f"chainrule, as PyTorch, reads channels first: save {axes} instead")
    return None


def _as_image_array(x, where: str, per_image=False):
    """(x as float64 (N, C, H, W) or (C, H, W), layout text) or ValueError naming the shape."""
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "biuf":
        kind = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"{where} must hold numbers (an integer or float array). Got {kind} "
                         "instead.")
    wanted = "(C, H, W) or (H, W)" if per_image else "(N, C, H, W) or (N, H, W)"
    hint = _channels_last_hint(x.shape, per_image)
    if x.ndim == (3 if per_image else 4) and hint is not None:
        raise ValueError(f"{where} has shape {x.shape}: {hint}.")
    if per_image:
        if x.ndim not in (2, 3):
            raise ValueError(f"{where} has shape {x.shape}; one image must be {wanted}.")
        layout = "(C, H, W)" if x.ndim == 3 else "(H, W): one channel"
        x = x if x.ndim == 3 else x[None]
    else:
        if x.ndim == 2:
            raise ValueError(
                f"{where} has shape {x.shape}: rows of {x.shape[1]} numbers, not images {wanted}; "
                f"reshape it (for {x.shape[1]} pixels of a square image: x.reshape(-1, "
                f"{_side(x.shape[1])}, {_side(x.shape[1])})) or train an MLP on it as a CSV file.")
        if x.ndim not in (3, 4):
            raise ValueError(f"{where} has shape {x.shape}; images must be {wanted}.")
        layout = "(N, C, H, W)" if x.ndim == 4 else "(N, H, W): one channel"
        x = x if x.ndim == 4 else x[:, None]
    if 0 in x.shape:
        raise ValueError(f"{where} has shape {x.shape}, with no images or no pixels.")
    x = x.astype(np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        first = np.argwhere(bad)[0]
        raise ValueError(f"{where} holds NaN or Inf (first at index {tuple(int(i) for i in first)}); "
                         "clean the images first.")
    return x, layout


def _side(pixels: int) -> str:
    side = int(round(pixels ** 0.5))
    return str(side) if side * side == pixels else "H, W"


def _labels(y, n: int, where: str):
    """(labels (n,), class names or None): text labels become numbers in sorted order."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{where} has shape {y.shape}; the labels must be one per image, (N,) "
                         "or (N, 1).")
    if len(y) != n:
        raise ValueError(f"{where} has {len(y)} labels for {n} images; give one label per image.")
    if y.dtype.kind in "USO":
        names = sorted({str(v) for v in y})
        index = {name: k for k, name in enumerate(names)}
        return np.array([index[str(v)] for v in y], dtype=np.float64), names
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{where} must hold numbers or text. Got dtype {y.dtype} instead.")
    return y.astype(np.float64), None


def _digits() -> Images:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("--images digits needs scikit-learn, which holds the digits: pip "
                          "install scikit-learn.") from None
    digits = load_digits()
    x = digits.images.astype(np.float64)[:, None]
    return Images(x, digits.target.astype(np.float64), [str(i) for i in range(len(x))], None,
                  "(N, H, W): one channel", DIGITS)


def _pick_key(keys, wanted, path, what):
    found = [key for key in wanted if key in keys]
    if len(found) > 1:
        raise ValueError(f"{path} has both {found[0]!r} and {found[1]!r}; keep one array of "
                         f"{what}.")
    return found[0] if found else None


def _npz(path: str, arrays, need_labels: bool) -> Images:
    keys = list(arrays)
    x_key = _pick_key(keys, IMAGE_KEYS, path, "images")
    y_key = _pick_key(keys, LABEL_KEYS, path, "labels")
    if x_key is None:
        raise ValueError(f"{path} has the arrays {', '.join(map(repr, keys)) or 'none'}; expected "
                         "the images under 'x' or 'images' (and the labels under 'y' or "
                         "'labels').")
    if y_key is None and need_labels:
        raise ValueError(f"{path} has images under {x_key!r} but no labels; training needs them "
                         "under 'y' or 'labels', one per image.")
    x, layout = _as_image_array(arrays[x_key], f"{path}: {x_key!r}")
    labels, names = (None, None) if y_key is None else _labels(arrays[y_key], len(x),
                                                                 f"{path}: {y_key!r}")
    return Images(x, labels, [str(i) for i in range(len(x))], names, layout, path)


def _load_npy(path: str):
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise ValueError(f"{path} is not a NumPy array file that can be read without pickle "
                         f"({err}).") from None


def _class_order(names):
    """Folder names in class order: as numbers when all are whole numbers, else sorted text."""
    if all(name.isdigit() for name in names):
        return sorted(names, key=int)
    return sorted(names)


def _folder(path: str, need_labels: bool) -> Images:
    entries = sorted(os.listdir(path))
    for x_name, y_name in (("x.npy", "y.npy"), ("images.npy", "labels.npy")):
        if x_name in entries:
            arrays = {x_name[:-4]: _load_npy(os.path.join(path, x_name))}
            if y_name in entries:
                arrays[y_name[:-4]] = _load_npy(os.path.join(path, y_name))
            return _npz(path, arrays, need_labels)
    classes = [name for name in entries if os.path.isdir(os.path.join(path, name))
               and not name.startswith(".")]
    loose = [name for name in entries if name.endswith(".npy")]
    if classes and loose:
        raise ValueError(f"{path} has both .npy files ({loose[0]}, ...) and subfolders "
                         f"({classes[0]}, ...); put every image in its class's subfolder.")
    if classes:
        class_names = _class_order(classes)
        files = [(k, os.path.join(name, file)) for k, name in enumerate(class_names)
                 for file in sorted(os.listdir(os.path.join(path, name))) if file.endswith(".npy")]
    elif need_labels:
        raise ValueError(f"{path} has no class subfolders; training needs labels: put each "
                         f"class's .npy images in a subfolder named after it ({path}/cat/1.npy, "
                         f"...), or give an .npz file with arrays x and y.")
    else:
        class_names, files = None, [(None, name) for name in loose]
    if not files:
        raise ValueError(f"{path} holds no .npy files; expected one image per .npy file"
                         + (" in a subfolder per class." if need_labels else "."))
    images, shape, layout = [], None, None
    for _, name in files:
        array = _load_npy(os.path.join(path, name))
        image, layout = _as_image_array(array, os.path.join(path, name), per_image=True)
        if shape is None:
            shape = image.shape
        elif image.shape != shape:
            raise ValueError(f"{os.path.join(path, name)} has shape {array.shape}, an image of "
                             f"{image_text(image.shape)}, but {os.path.join(path, files[0][1])} "
                             f"is {image_text(shape)}; every image must have the same shape.")
        images.append(image)
    labels = None if class_names is None else np.array([k for k, _ in files], dtype=np.float64)
    # folders named 0, 1, ..., K-1 are the labels themselves (numbers, as digits' labels)
    names = None if class_names is None or class_names == [str(k) for k in range(len(class_names))] \
        else class_names
    return Images(np.stack(images), labels, [name for _, name in files], names,
                  f"one image per file, {layout}", path)


def load_images(source, need_labels=True) -> Images:
    """The images (and labels) of ``source``: 'digits', an .npz file or a folder (see the module
    docstring). ValueError, naming the file and shape, for anything that is not images."""
    source = os.fspath(source)
    if source == DIGITS:
        return _digits()
    if not os.path.exists(source):
        raise FileNotFoundError(f"--images {source}: no such file or folder (give 'digits', an "
                                ".npz file or a folder of .npy files).")
    if os.path.isdir(source):
        return _folder(source, need_labels)
    if source.endswith(".npy"):
        raise ValueError(f"{source} is one .npy array; give an .npz file with the images under "
                         "'x' and the labels under 'y' (np.savez(path, x=images, y=labels)), or a "
                         "folder of .npy images.")
    try:
        arrays = np.load(source, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"{source} is not an .npz file that NumPy can read without pickle "
                         f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); "
                         "write one with np.savez(path, x=images, y=labels).") from None
    if not hasattr(arrays, "files"):
        raise ValueError(f"{source} is one NumPy array, not an .npz file; write one with "
                         "np.savez(path, x=images, y=labels).")
    with arrays:
        return _npz(source, {key: arrays[key] for key in arrays.files}, need_labels)


def images_sha256(source) -> str | None:
    """A SHA-256 of an .npz file, or of a folder's .npy files (names and bytes), to notice a
    change before a resume; None for 'digits'."""
    if source == DIGITS:
        return None
    digest = hashlib.sha256()
    if os.path.isdir(source):
        for root, dirs, files in os.walk(source):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".npy"):
                    full = os.path.join(root, name)
                    digest.update(os.path.relpath(full, source).encode())
                    with open(full, "rb") as handle:
                        digest.update(handle.read())
    else:
        with open(source, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def check_images_unchanged(config) -> None:
    """ValueError if the images a run was trained on have changed since (a resume would differ)."""
    if config.get("source") == "images" and config["images"] != DIGITS:
        if not os.path.exists(config["images"]) \
                or images_sha256(config["images"]) != config["images_sha256"]:
            raise ValueError(f"{config['images']} has changed (or gone) since the run started, so "
                             "the run cannot be continued exactly; start a new run instead.")


# ----- the run ----------------------------------------------------------------------------------

def _channel_scaler(x_train) -> Standardizer:
    """A Standardizer of the channels: one mean and std per channel over every training pixel."""
    channels = x_train.shape[1]
    return Standardizer().fit(x_train.transpose(0, 2, 3, 1).reshape(-1, channels))


def scale_images(x, state, dtype):
    """x (N, C, H, W) with each channel standardized by ``state`` ({'mean', 'std'} per channel,
    or None: unscaled), cast to dtype."""
    if state is not None:
        mean = np.asarray(state["mean"], dtype=np.float64).reshape(1, -1, 1, 1)
        std = np.asarray(state["std"], dtype=np.float64).reshape(1, -1, 1, 1)
        x = (x - mean) / std
    return np.ascontiguousarray(x, dtype=np.dtype(dtype))


def prepare_images(config) -> Prepared:
    """Read the images, split, scale and cast them (call right after manual_seed)."""
    from ..data import train_val_split

    images = load_images(config["images"])
    task = task_of(config["loss"])
    where = f"the labels of {config['images']}"
    y, classes = targets_for_task(images.labels.reshape(-1, 1), task, where)
    x = images.x
    if len(x) < 2:
        raise ValueError(f"{config['images']} has {len(x)} image(s); training needs at least 2.")
    if config["val_fraction"] > 0:
        try:
            (x_train, y_train), (x_val, y_val) = train_val_split(
                x, y, val_fraction=config["val_fraction"])
        except ValueError as err:
            empty = "validation" if "validation set empty" in str(err) else "training"
            raise ValueError(
                f"--val-fraction {config['val_fraction']:g} of {len(x)} images leaves the {empty} "
                "set empty; use more images or another --val-fraction (0: no validation)."
            ) from None
    else:
        x_train, y_train, x_val, y_val = x, y, None, None
    scaler = _channel_scaler(x_train).state_dict() if config["standardize"] else None
    target_scaler = Standardizer().fit(y_train) if config.get("standardize_target") else None
    dtype = np.dtype(config["dtype"])

    def cast(targets):
        if targets is None or task == "classification":
            return targets
        return (targets if target_scaler is None else target_scaler.transform(targets)).astype(dtype)

    return Prepared(
        X_train=scale_images(x_train, scaler, dtype), y_train=cast(y_train),
        X_val=None if x_val is None else scale_images(x_val, scaler, dtype), y_val=cast(y_val),
        image_shape=images.shape, layout=images.layout, count=len(x), task=task, classes=classes,
        class_names=images.class_names, channel_scaler=scaler, target_scaler=target_scaler,
        features=None, expression=None,
    )


def image_data_record(prepared: Prepared, config) -> dict:
    """What predict needs, stored in the checkpoint."""
    return {
        "source": "images", "image_shape": list(prepared.image_shape), "target": "label",
        "task": prepared.task, "classes": prepared.classes, "class_names": prepared.class_names,
        "loss": config["loss"], "dtype": config["dtype"],
        "channel_standardizer": prepared.channel_scaler,
        "standardizer": None,  # (the per-column scaling of tabular runs)
        "target_standardizer": (None if prepared.target_scaler is None
                                else prepared.target_scaler.state_dict()),
    }


def build_image_model(config, image_shape, classes):
    """The run's network for images of ``image_shape`` (C, H, W): the CNN of --channels, or
    Flatten and the MLP of --hidden; initialised by --init."""
    from .. import nn

    out_features = classes if classes else 1
    if config["model"] == "cnn":
        model = build_cnn(image_shape, config["channels"], out_features, config["hidden"],
                          config["activation"], config["kernel_size"], config["batch_norm"],
                          config["dtype"])
    else:
        mlp = build_mlp(int(np.prod(image_shape)), config["hidden"], out_features,
                        config["activation"], config["dtype"])
        model = nn.Sequential(nn.Flatten(), *mlp)
    apply_init(model, config["init"])
    return model


def describe_model(model) -> str:
    """'Conv2d(1->16, 3x3) ReLU MaxPool2d(2) ... Linear(128->10)', a one-line sketch."""
    from .. import nn

    parts = []
    for layer in model.children():
        if isinstance(layer, nn.Conv2d):
            parts.append(f"Conv2d({layer.in_channels}->{layer.out_channels}, "
                         f"{layer.kernel_size[0]}x{layer.kernel_size[1]})")
        elif isinstance(layer, nn.Linear):
            parts.append(f"Linear({layer.in_features}->{layer.out_features})")
        elif isinstance(layer, nn.MaxPool2d):
            parts.append(f"MaxPool2d({layer.kernel_size})")
        else:
            parts.append(type(layer).__name__)
    return " ".join(parts)


def image_text(shape) -> str:
    """'1x8x8 (C x H x W)'."""
    return f"{'x'.join(map(str, shape))} (C x H x W)"


class ImageRunSpec(TrainRunSpec):
    """A run of ``chainrule train --images`` for ``execute``: config is its config.json."""

    samples = "images"

    def prepare(self) -> tuple:
        prepared = prepare_images(self.config)
        model = build_image_model(self.config, prepared.image_shape, prepared.classes)
        return prepared, model, image_data_record(prepared, self.config)

    def describe(self, setup: Setup) -> str:
        prepared = setup.extras["prepared"]
        parameters = sum(p.numel() for p in setup.model.parameters())
        n_val = 0 if prepared.X_val is None else len(prepared.X_val)
        return (f"{prepared.count} images of {image_text(prepared.image_shape)}, read as "
                f"{prepared.layout}; {len(prepared.X_train)} train, {n_val} val; "
                f"{self.config['model']}: {describe_model(setup.model)} ({parameters} parameters)")

    def figures(self, monitored: bool) -> list:
        from . import plot

        if not plot.available():
            return []
        return (["loss_curve.png"] + (["filters.png"] if self.config["model"] == "cnn" else [])
                + (["confusion_matrix.png"] if confusion_drawn(self.config) else [])
                + (["health.png"] if monitored else []))

    def draw(self, result, setup: Setup) -> None:
        """loss_curve.png, filters.png (cnn), confusion_matrix.png (classes), health.png."""
        from . import plot

        if not plot.available():
            result.notes.append(f"no plots were drawn because matplotlib is not installed; get "
                                f"them with: {plot.INSTALL_HINT}")
            return
        run_dir, prepared = result.run_dir, setup.extras["prepared"]
        name = os.path.basename(os.path.normpath(run_dir))
        result.files.append(plot.loss_curves(
            {"": result.history}, os.path.join(run_dir, "loss_curve.png"),
            title=f"Training run {name}", ylabel=f"{self.config['loss']} loss",
            accuracy=setup.extras["accuracy"].per_epoch if "accuracy" in setup.extras else None))
        if self.config["model"] == "cnn":
            first = result.model[0]
            result.files.append(plot.conv_filters(
                first.weight.numpy(), os.path.join(run_dir, "filters.png"),
                title=f"Learned filters of the first convolution (layer 0: {first.in_channels} -> "
                      f"{first.out_channels} channels, {first.kernel_size[0]}x"
                      f"{first.kernel_size[1]})"))
        if confusion_drawn(self.config):
            result.files.append(draw_confusion(plot, run_dir, result.model, prepared,
                                               "images"))
        if result.monitor is not None and result.monitor.losses:
            result.files.append(plot.health_curves(result.monitor,
                                                   os.path.join(run_dir, "health.png")))

    def summarize(self, result, setup: Setup) -> dict:
        summary = super().summarize(result, setup)
        prepared = setup.extras["prepared"]
        del summary["features"]
        summary["images"] = {
            "source": self.config["images"], "count": prepared.count,
            "shape": list(prepared.image_shape), "layout": prepared.layout,
            "classes": prepared.classes, "class_names": prepared.class_names,
            "model": self.config["model"], "architecture": describe_model(result.model),
            "parameters": int(sum(p.numel() for p in result.model.parameters())),
        }
        summary["predict_with"] = f"chainrule predict --model {result.run_dir} --images SOURCE"
        return summary


# ----- predicting -------------------------------------------------------------------------------

def load_image_run(model_path):
    """(model, data record, config) from a run folder or checkpoint of chainrule train --images."""
    checkpoint = load_checkpoint(model_path, command="train")
    data, config = checkpoint.get("data"), checkpoint["config"]
    if not isinstance(data, dict) or data.get("source") != "images":
        raise ValueError(f"{model_path} was not trained on images (chainrule train --images); "
                         "predict on its CSV columns with --csv FILE.")
    model = build_image_model(config, tuple(data["image_shape"]), data["classes"])
    model.load_state_dict(checkpoint["model"])
    model.eval()
    return model, data, config


def predict_images(model, data, x, batch_size=4096) -> np.ndarray:
    """Model outputs (n, out) for the images x (N, C, H, W), scaled as in training; ValueError
    when their shape is not the one the model was trained on; a regression target that training
    scaled is scaled back to its own units."""
    shape = tuple(data["image_shape"])
    if tuple(x.shape[1:]) != shape:
        raise ValueError(f"the images have shape {image_text(x.shape[1:])} but the model was "
                         f"trained on {image_text(shape)}; give images of that shape.")
    x = scale_images(x, data["channel_standardizer"], data["dtype"])
    outputs = []
    with no_grad():
        for start in range(0, len(x), batch_size):
            outputs.append(model(Tensor(x[start:start + batch_size]))._data)
    outputs = np.concatenate(outputs, axis=0)
    if data.get("target_standardizer") is not None:
        scaler = Standardizer()
        scaler.load_state_dict(data["target_standardizer"])
        outputs = scaler.inverse_transform(outputs).astype(outputs.dtype, copy=False)
    return outputs
