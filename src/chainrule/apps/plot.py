"""Pictures of training runs, saved as PNG files (needs matplotlib: pip install "chainrule[plot]").

    plot.available()                                        # is matplotlib installed?
    plot.loss_curves({"adam": history_a, "sgd": history_b}, "loss.png", title="Adam vs SGD")
    plot.surface_comparison(lambda X: 5*X[:, 0]**2 + 3*X[:, 1]**2, model_fn, "surface.png")
    plot.bar_chart(["none", "clip 1"], [56.2, 3.4], "sweep.png", ylabel="val MSE")
    plot.heatmap(table, rows, columns, "grid.png", xlabel="lr", ylabel="init")
    plot.confusion_matrix(counts, "confusion.png", labels=["cat", "dog"])
    plot.conv_filters(model[0].weight.numpy(), "filters.png")

matplotlib is imported inside the functions only, and figures are drawn with matplotlib's
object API (``matplotlib.figure.Figure``, rendered by the Agg backend), never pyplot: no window
opens, no global state changes, and it works on a machine without a display. Every file is
written to a temporary name first and then renamed, so a half-written PNG is never left behind.
"""

from __future__ import annotations

import math
import os

import numpy as np
from ..files import atomic_write

__all__ = ["available", "INSTALL_HINT", "loss_curves", "surface_comparison", "bar_chart",
           "heatmap", "health_curves", "confusion_matrix", "conv_filters"]

INSTALL_HINT = 'pip install "chainrule[plot]"'


def available() -> bool:
    """Whether matplotlib can be imported (the plots need it; nothing else does)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def figure(width: float, height: float):
    """A matplotlib Figure (no pyplot: no global state, no window), laid out automatically."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"plotting needs matplotlib; install it with: {INSTALL_HINT}") from None
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def save_figure(fig, path) -> str:
    """Write the figure as PNG, atomically; returns the path."""
    path = os.fspath(path)
    with atomic_write(path, "wb", what="save_figure") as handle:
        fig.savefig(handle, format="png")
    return path


def log_scale_plain(ax) -> None:
    """Log-scale the y axis with plain tick labels ("3", "60", "0.002") instead of "6x10^1"."""
    from matplotlib import ticker

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    ax.yaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def _series(value, per_step=False):
    """(train losses, val losses or None) from a History, a dict or a plain list of numbers;
    with ``per_step`` the History's (or dict's) step_loss and no validation."""
    if per_step and (hasattr(value, "step_loss") or isinstance(value, dict)):
        steps = value.step_loss if hasattr(value, "step_loss") else value.get("step_loss", [])
        train, val = list(steps), []
    elif hasattr(value, "train_loss"):
        train, val = list(value.train_loss), list(value.val_loss)
    elif isinstance(value, dict):
        train, val = list(value.get("train_loss", [])), list(value.get("val_loss") or [])
    else:
        train, val = list(value), []
    to_float = lambda xs: [math.nan if x is None else float(x) for x in xs]
    train = to_float(train)
    val = to_float(val) if any(v is not None for v in val) else None
    return train, val


def loss_curves(histories, path, title="Loss curves", log_scale=None, ylabel="loss",
                xlabel=None, per_step=False, accuracy=None) -> str:
    """Plot loss against epoch (or, with ``per_step=True``, every optimizer step's loss against
    the step) for one or several runs; returns the path.

    ``histories`` maps a label to a History (train loss solid, validation loss dashed, both in
    the run's colour), a dict with 'train_loss'/'val_loss' lists, or a plain list of losses. A
    single History or list is accepted too. ``log_scale`` None chooses a log y-axis when the
    losses span more than a factor of 100 (and are all positive), and the y label says so.
    ``accuracy`` ({epoch: accuracy}, for a classifier) is drawn on a second axis at the right.
    """
    if not isinstance(histories, dict) or "train_loss" in histories:
        histories = {"": histories}
    if not histories:
        raise ValueError("loss_curves: there is nothing to plot (no histories given).")
    fig = figure(7.5, 4.8)
    ax = fig.add_subplot()
    everything = []
    for index, (label, history) in enumerate(histories.items()):
        train, val = _series(history, per_step)
        colour = f"C{index % 10}"
        epochs = np.arange(1, len(train) + 1)
        name = f"{label} " if label else ""
        ax.plot(epochs, train, color=colour, linestyle="-", linewidth=1 if per_step else 1.5,
                marker="o" if len(train) < 30 else None, markersize=3,
                label=f"{name}train" if val is not None else (label or "loss"))
        everything += train
        if val is not None:
            ax.plot(epochs, val, color=colour, linestyle="--", label=f"{name}validation")
            everything += val
    finite = np.array([v for v in everything if np.isfinite(v)])
    if log_scale is None:
        log_scale = finite.size > 0 and finite.min() > 0 and finite.max() / finite.min() > 100
    if log_scale and finite.size and finite.min() > 0:
        log_scale_plain(ax)
    ax.set_title(title)
    ax.set_xlabel(xlabel or ("optimizer step" if per_step else "epoch"))
    ax.set_ylabel(ylabel + (" (log scale)" if log_scale else ""))
    ax.grid(True, alpha=0.3, which="both")
    ax.xaxis.get_major_locator().set_params(integer=True)
    handles, labels = ax.get_legend_handles_labels()
    if accuracy:
        right = ax.twinx()
        epochs = sorted(accuracy)
        right.plot(epochs, [accuracy[e] for e in epochs], color="tab:green", marker="s",
                   markersize=3, linewidth=1.2, label="validation accuracy")
        right.set_ylim(0, 1.02)
        right.set_ylabel("validation accuracy")
        more_handles, more_labels = right.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    if accuracy:  # below the axes: the accuracy runs along the top, where a legend would sit
        fig.legend(handles, labels, fontsize="small", loc="outside lower center",
                   ncols=len(handles))
    else:
        ax.legend(handles, labels, fontsize="small")
    return save_figure(fig, path)


def _grid(x_range, y_range, resolution):
    xs = np.linspace(x_range[0], x_range[1], resolution)
    ys = np.linspace(y_range[0], y_range[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    return points, grid_x.shape


def surface_comparison(fn_true, fn_model, path, x_range=(-3, 3), y_range=(-3, 3),
                       resolution=101, names=("x1", "x2"), title="Target and learned surface",
                       train_points=None, value_name="value") -> str:
    """Three panels for a function of two inputs: the target, the model, and model - target.

    ``fn_true`` and ``fn_model`` take an (n, 2) array of points and return n values. The first
    two panels share one colour scale, so equal colours mean equal values; the error panel uses
    a diverging scale centred on 0. ``train_points`` (an (m, 2) array) are drawn as dots on the
    target panel, to show where the model saw data. The error panel's title gives the RMS error
    over the grid, every point weighted alike: the grid's corners, where little data lies, count
    as much as its centre, so it is larger than a validation error measured where the data is.
    ``value_name`` labels the colour bars. Returns the path.
    """
    points, shape = _grid(x_range, y_range, resolution)
    target = np.asarray(fn_true(points), dtype=np.float64).reshape(shape)
    learned = np.asarray(fn_model(points), dtype=np.float64).reshape(shape)
    error = learned - target
    low = min(np.nanmin(target), np.nanmin(learned))
    high = max(np.nanmax(target), np.nanmax(learned))
    limit = float(np.nanmax(np.abs(error))) or 1.0
    extent = (x_range[0], x_range[1], y_range[0], y_range[1])

    fig = figure(14, 4.4)
    axes = fig.subplots(1, 3)
    panels = [
        (target, "target", "viridis", low, high, value_name),
        (learned, "model", "viridis", low, high, value_name),
        (error, f"model - target: RMS {np.sqrt(np.nanmean(error ** 2)):.3g} over the whole grid\n"
                "(its corners weigh as much as the data-rich centre)", "RdBu_r", -limit, limit,
         f"model - target ({value_name})"),
    ]
    for ax, (values, label, cmap, vmin, vmax, bar_label) in zip(axes, panels):
        image = ax.imshow(values, origin="lower", extent=extent, cmap=cmap, vmin=vmin, vmax=vmax,
                          aspect="auto")
        ax.contour(values, levels=8, colors="k", linewidths=0.4, alpha=0.5, origin="lower",
                   extent=extent)
        ax.set_title(label)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        fig.colorbar(image, ax=ax, shrink=0.9, label=bar_label)
    if train_points is not None:
        train_points = np.asarray(train_points)
        axes[0].scatter(train_points[:, 0], train_points[:, 1], s=2, c="white", alpha=0.5)
        axes[0].set_xlim(x_range)
        axes[0].set_ylim(y_range)
    fig.suptitle(title)
    return save_figure(fig, path)


def bar_chart(labels, values, path, title="", ylabel="", log_scale=False, errors=None,
              reference=None, reference_label=None, annotate=True) -> str:
    """One bar per label (a sweep's rows, say), with optional error bars, a horizontal reference
    line (a target loss) and each bar's value written above it. Non-finite values (a diverged
    run) are drawn as a hatched bar at the top, marked 'nan' or 'inf'. Returns the path."""
    labels = [str(label) for label in labels]
    values = np.asarray(values, dtype=np.float64)
    if len(labels) != len(values):
        raise ValueError(f"bar_chart: {len(labels)} labels but {len(values)} values.")
    finite = values[np.isfinite(values)]
    top = finite.max() if finite.size else 1.0
    fig = figure(max(6.0, 0.55 * len(labels) + 2), 4.8)
    ax = fig.add_subplot()
    positions = np.arange(len(labels))
    heights = np.where(np.isfinite(values), values, top)
    bars = ax.bar(positions, heights, yerr=errors, color="C0", capsize=3)
    for bar, value in zip(bars, values):
        if not np.isfinite(value):
            bar.set_hatch("//")
            bar.set_facecolor("lightgrey")
        if annotate:
            ax.annotate(f"{value:.3g}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize="x-small", xytext=(0, 2),
                        textcoords="offset points")
    if reference is not None:
        ax.axhline(reference, color="C3", linestyle="--", label=reference_label)
        if reference_label:
            ax.legend(fontsize="small")
    if log_scale and finite.size and finite.min() > 0:
        log_scale_plain(ax)
    ax.set_xticks(positions, labels, rotation=45 if max(map(len, labels), default=0) > 6 else 0,
                  ha="right" if max(map(len, labels), default=0) > 6 else "center")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    return save_figure(fig, path)


def heatmap(table, row_labels, column_labels, path, title="", xlabel="", ylabel="",
            colorbar_label="", log_color=False, fmt="{:.3g}") -> str:
    """A table of numbers (rows x columns, a sweep over two settings) as coloured cells with each
    value written in its cell; ``log_color`` colours by log10 of the values. NaN/Inf cells are
    grey and marked. Returns the path."""
    table = np.asarray(table, dtype=np.float64)
    if table.shape != (len(row_labels), len(column_labels)):
        raise ValueError(
            f"heatmap: the table has shape {table.shape} but there are {len(row_labels)} row "
            f"labels and {len(column_labels)} column labels."
        )
    from matplotlib.colors import LogNorm

    finite = table[np.isfinite(table)]
    norm = None
    if log_color and finite.size and finite.min() > 0:
        norm = LogNorm(vmin=finite.min(), vmax=finite.max())
    masked = np.ma.masked_invalid(table)
    fig = figure(max(5.0, 1.1 * len(column_labels) + 3), max(3.5, 0.5 * len(row_labels) + 2))
    ax = fig.add_subplot()
    ax.set_facecolor("lightgrey")
    image = ax.imshow(masked, cmap="viridis_r", norm=norm, aspect="auto")
    bar = fig.colorbar(image, ax=ax)
    if colorbar_label:
        bar.set_label(colorbar_label)
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            value = table[i, j]
            colour = "black"
            if np.isfinite(value):  # white text on dark cells: luminance of the cell's colour
                red, green, blue, _ = image.cmap(image.norm(value))
                colour = "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"
            ax.text(j, i, fmt.format(value) if np.isfinite(value) else str(value), ha="center",
                    va="center", fontsize="small", color=colour)
    ax.set_xticks(np.arange(len(column_labels)), [str(c) for c in column_labels])
    ax.set_yticks(np.arange(len(row_labels)), [str(r) for r in row_labels])
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return save_figure(fig, path)


def health_curves(monitor, path) -> str:
    """Save a PNG of a HealthMonitor's records: the gradient norm per parameter over the checked
    steps (log scale) above the training loss per step, both against the optimizer step. Each
    warning is a dotted red line numbered above the plot, and named by that number in the legend
    below it (so no label lies over a curve or is cut off)."""
    from matplotlib.lines import Line2D

    fig = figure(8, 7)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    steps = np.asarray(monitor.checked_steps)
    for name, norms in monitor.grad_norms.items():
        values = np.asarray(norms, dtype=np.float64)
        shown = np.isfinite(values) & (values > 0)
        top.plot(steps[shown], values[shown], marker=".", markersize=3, linewidth=1, label=name)
    log_scale_plain(top)
    top.set_ylabel("gradient norm ||g|| (log scale)")
    top.set_title("gradient norm per parameter, at the checked steps")
    top.grid(True, which="major", alpha=0.3)
    if monitor.grad_norms:
        top.legend(fontsize=8, loc="best")
    losses = np.asarray(monitor.losses, dtype=np.float64)
    shown = np.isfinite(losses) & (losses > 0)
    bottom.plot(np.arange(losses.size)[shown], losses[shown], linewidth=1, color="black")
    log_scale_plain(bottom)
    bottom.set_xlabel("optimizer step")
    bottom.set_ylabel("training loss (log scale)")
    bottom.grid(True, which="major", alpha=0.3)
    handles, labels = [], []
    for number, (step, kind) in enumerate(monitor.warning_steps, start=1):
        for axis in (top, bottom):
            axis.axvline(step, color="tab:red", linestyle=":", linewidth=1)
        top.annotate(str(number), (step, 1.0), xycoords=("data", "axes fraction"),
                     xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                     fontsize=7, color="tab:red", annotation_clip=False)
        handles.append(Line2D([], [], color="tab:red", linestyle=":"))
        labels.append(f"{number}: {kind} (step {step})")
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(handles)),
                   fontsize=8, title="warnings (see health.txt)", title_fontsize=8)
    return save_figure(fig, path)


def confusion_matrix(counts, path, labels=None, title="Confusion matrix",
                     count_name="samples") -> str:
    """A confusion matrix as coloured cells: counts[i, j] samples of true class i predicted as
    class j (rows: truth, columns: prediction; the diagonal is right). Each cell's colour is its
    share of its row (the true class's recall, so a rare class's mistakes stand out as much as a
    common one's), its number is the count; a colour bar says so. ``labels`` name the classes
    (default 0..K-1); ``count_name`` says what is counted. Returns the path."""
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion_matrix: expected a square table of counts. Got shape "
                         f"{counts.shape} instead.")
    classes = counts.shape[0]
    labels = [str(k) for k in range(classes)] if labels is None else [str(x) for x in labels]
    if len(labels) != classes:
        raise ValueError(f"confusion_matrix: {len(labels)} labels for {classes} classes.")
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    side = min(12.0, max(4.8, 0.5 * classes + 2.8))
    fig = figure(side + 1.2, side)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    bar = fig.colorbar(image, ax=ax, shrink=0.85)
    bar.set_label("share of the true class's samples (row)")
    if classes <= 30:
        for (i, j), count in np.ndenumerate(counts):
            if count:
                colour = "white" if share[i, j] > 0.5 else "black"
                ax.text(j, i, str(count), ha="center", va="center", color=colour,
                        fontsize="small" if classes <= 12 else "xx-small")
    ax.set_xticks(np.arange(classes), labels, rotation=45 if max(map(len, labels)) > 3 else 0,
                  ha="right" if max(map(len, labels)) > 3 else "center")
    ax.set_yticks(np.arange(classes), labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{title}\n(cell: number of {count_name}; {int(counts.sum())} in all)",
                 fontsize="medium")
    return save_figure(fig, path)


def conv_filters(weight, path, title="Learned filters of the first convolution",
                 max_filters=32) -> str:
    """The kernels of a convolution's weight (out_channels, in_channels, kh, kw) as a grid of
    small images, one per filter (a row per input channel when there are several), all on one
    colour scale centred on 0 (red positive, blue negative; a colour bar gives the values), so
    the filters' strengths compare. At most ``max_filters`` filters are shown. Returns the path."""
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 4:
        raise ValueError(f"conv_filters: expected a Conv2d weight (out_channels, in_channels, "
                         f"kh, kw). Got shape {weight.shape} instead.")
    out_channels, in_channels = weight.shape[:2]
    shown = min(out_channels, max_filters)
    inputs = min(in_channels, 4)
    if inputs == 1:  # one tile per filter, in rows of up to 8
        columns = min(shown, 8)
        rows = -(-shown // columns)
        tiles = [(k // columns, k % columns, k, 0) for k in range(shown)]
    else:  # a row per input channel, a column per filter
        columns, rows = shown, inputs
        tiles = [(c, k, k, c) for c in range(inputs) for k in range(shown)]
    limit = float(np.abs(weight[:shown, :inputs]).max()) or 1.0
    fig = figure(min(16.0, 1.1 * columns + 1.8), 1.15 * rows + 1.1)
    axes = np.atleast_2d(fig.subplots(rows, columns, squeeze=False))
    for ax in axes.ravel():
        ax.set_axis_off()
    image = None
    for row, column, k, c in tiles:
        ax = axes[row, column]
        ax.set_axis_on()
        image = ax.imshow(weight[k, c], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks([])
        ax.set_yticks([])
        if row == 0 or inputs == 1:
            ax.set_title(f"filter {k}", fontsize="x-small")
        if inputs > 1 and column == 0:
            ax.set_ylabel(f"input channel {c}", fontsize="x-small")
    bar = fig.colorbar(image, ax=axes, shrink=0.8)
    bar.set_label("weight")
    more = []
    if shown < out_channels:
        more.append(f"first {shown} of {out_channels} filters")
    if inputs < in_channels:
        more.append(f"first {inputs} of {in_channels} input channels")
    fig.suptitle(title + (f" ({'; '.join(more)})" if more else ""), fontsize="medium")
    return save_figure(fig, path)
