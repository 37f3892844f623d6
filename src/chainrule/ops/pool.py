"""Pooling: max and average over sliding windows, and adaptive max pooling.

Like a convolution, a pooling op reads windows of its input; unlike it, each window is reduced on
its own (no weights, no sum over channels). Backward sends each output's gradient back into its
window: all of it to the element that was the maximum (max pooling), or an equal share to every
element counted (average pooling). Where windows overlap, an element receives the sum.

The spatial options arrive normalised to pairs, as in ops/conv.py: kernel (kh, kw), stride,
dilation, padding ((top, bottom), (left, right)) and the output size (OH, OW); a 1-D input
(N, C, L) is a 2-D one of height 1. ceil_mode only makes the output one window longer, whose
window the caller pads for (bottom/right). Adaptive average pooling is a linear map along each
dim and lives with interpolation in ops/resample.py. Checks and messages: chainrule.nn.functional_conv.
"""

import numpy as np

from ..autograd import Function
from ..backend import arange_on, contiguous, is_device_array, zeros_on
from ..kernels import Elementwise
from .conv import Fold, _as_2d, col2im, im2col


def _windows(padded, kernel, stride, dilation, out_hw):
    """Yield (offset index, slice of padded) for every kernel offset (i, j): the (N, C, OH, OW) array of
    the elements each window holds at that offset."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = out_hw
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            yield i * kw + j, padded[:, :, top:top + sh * (oh - 1) + 1:sh, left:left + sw * (ow - 1) + 1:sw]


def _pad(x, padding, value):
    if any(padding[0]) or any(padding[1]):
        return np.pad(x, ((0, 0), (0, 0), padding[0], padding[1]), constant_values=value)
    return x


def max_pool_arrays(x, kernel, stride, padding, dilation, out_hw):
    """(y, offset) of max pooling x (N, C, H, W): offset is the kernel position (i * kw + j) of
    each window's maximum (the first one in row-major order on ties, as PyTorch). On the CPU one
    pass per kernel offset over the strided view of the windows: a running maximum and where it
    was; on a GPU the windows copied out once (``_max_pool_gathered``).

    A window holding NaN has NaN as its maximum, and its offset is that of its last NaN in
    row-major order, as PyTorch's kernels (they move the argmax on ``val > max or isnan(val)``),
    so the gradient goes where the NaN came from."""
    if is_device_array(x):
        return _max_pool_gathered(x, kernel, stride, padding, dilation, out_hw)
    windows = _windows(_pad(x, padding, -np.inf), kernel, stride, dilation, out_hw)
    _, first = next(windows)
    best = first.copy()
    offset = zeros_on(best, best.shape, dtype=np.intp)
    for k, candidate in windows:
        np.copyto(offset, k, where=(candidate > best) | np.isnan(candidate))
        np.maximum(best, candidate, out=best)
    return best, offset


# on a GPU (chainrule.kernels): a key over each window that is largest at the offset max pooling
# picks, so that one argmax finds it: the first maximum (key size - k at offset k of size), or in
# a window whose maximum is NaN its last NaN (key k + 1)
_fused_window_key = Elementwise(
    "max_pool_key", "w, best, k:int", "key",
    "key = where(best != best, (w != w) * (k + 1), (w == best) * (size - k))", "size")


def _max_pool_gathered(x, kernel, stride, padding, dilation, out_hw):
    """max_pool_arrays on a GPU, where its pass per kernel offset would cost five kernel launches
    each: every window copied out once (im2col's strided view), then its maximum and where it is,
    in a few operations for any kernel. The offset is argmax's (the first maximum), except in a
    window holding NaN: there the last NaN (a key and its argmax, or by argmax over the window
    read backwards)."""
    (kh, kw), (oh, ow) = kernel, out_hw
    cols = im2col(_pad(x, padding, -np.inf), kernel, stride, ((0, 0), (0, 0)), dilation, out_hw)
    n, c = x.shape[:2]
    size = kh * kw
    windows = cols.reshape(n, c, size, oh, ow)
    best = windows.max(axis=2)
    key = _fused_window_key(windows, best[:, :, None], arange_on(windows, size).reshape(-1, 1, 1),
                            size)
    if key is not None:
        return best, key.argmax(axis=2)
    offset = windows.argmax(axis=2)
    last_nan = (size - 1) - np.isnan(windows)[:, :, ::-1].argmax(axis=2)
    return best, np.where(np.isnan(best), last_nan, offset)


def argmax_index(offset, kernel, stride, padding, dilation, width):
    """Each window's maximum as a position in the flattened H * W input (return_indices)."""
    kw = kernel[1]
    oh, ow = offset.shape[-2:]
    rows = (arange_on(offset, oh) * stride[0] - padding[0][0])[:, None] + (offset // kw) * dilation[0]
    cols = (arange_on(offset, ow) * stride[1] - padding[1][0])[None, :] + (offset % kw) * dilation[1]
    return rows * width + cols


def max_pool_backward(grad_y, offset, shape, kernel, stride, padding, dilation):
    """Each window's gradient placed at its argmax offset, then the windows added back onto the
    input (col2im; for windows that tile the input without overlap, a reshape)."""
    n, c, h, w = shape
    (kh, kw), (oh, ow) = kernel, offset.shape[-2:]
    cols = zeros_on(grad_y, (n, c, oh, ow, kh * kw))
    # window m's gradient goes to its element offset[m]: flat position m * kh * kw + offset[m]
    # (one scatter; several times faster than put_along_axis on the CPU, three launches on a GPU)
    positions = arange_on(offset, 0, offset.size * kh * kw, kh * kw) + offset.reshape(-1)
    cols.reshape(-1)[positions] = grad_y.reshape(-1)
    cols = cols.reshape(n, c, oh, ow, kh, kw)
    (top, bottom), (left, right) = padding
    if tuple(stride) == (kh, kw) and tuple(dilation) == (1, 1):  # tiles: no overlap, no gaps
        tiled = cols.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh * kh, ow * kw)
        if (top, left) == (0, 0) and (oh * kh, ow * kw) == (h, w):
            return tiled
        canvas = zeros_on(grad_y, (n, c, max(h + top + bottom, oh * kh), max(w + left + right, ow * kw)))
        canvas[:, :, :oh * kh, :ow * kw] = tiled
        return contiguous(canvas[:, :, top:top + h, left:left + w])
    return contiguous(
        col2im(cols.transpose(0, 1, 4, 5, 2, 3), shape, stride, padding, dilation))


class MaxPool(Function):
    """Max pooling over 1 or 2 spatial dims (kernel, stride, padding, dilation, ceil_mode).

    forward:  y[n, c, p, q] = max over (i, j) of x_pad[n, c, p*sh + i*dh, q*sw + j*dw]
              (padding is -inf, so a padded element is never the maximum)
    backward: dL/dx[n, c, h, w] = sum of dL/dy[n, c, p, q] over the windows (p, q) whose maximum
              is x[n, c, h, w]       (the gradient is routed to the argmax; the other elements of
              a window get 0, as the max does not change when they move a little)
    """

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, out_hw):
        y, ctx.offset = max_pool_arrays(_as_2d(x), kernel, stride, padding, dilation, out_hw)
        ctx.shape = x.shape
        ctx.options = (kernel, stride, padding, dilation, out_hw)
        return y[:, :, 0] if x.ndim == 3 else y

    @staticmethod
    def backward(ctx, grad_y):
        kernel, stride, padding, dilation, _ = ctx.options
        grad_x = max_pool_backward(_as_2d(grad_y), ctx.offset, _as_2d_shape(ctx.shape), kernel,
                                   stride, padding, dilation)
        return grad_x.reshape(ctx.shape), None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        # the same routing in Tensor ops: each window's gradient placed at its argmax offset
        # (a constant one-hot mask), then col2im (Fold) adds the windows back onto the input
        kernel, stride, padding, dilation, out_hw = ctx.options
        n, c = ctx.shape[0], ctx.shape[1]
        k, positions = kernel[0] * kernel[1], out_hw[0] * out_hw[1]
        one_hot = ctx.offset.reshape(n, c, 1, positions) == arange_on(ctx.offset, k).reshape(1, 1, k, 1)
        cols = grad_y.reshape(n, c, 1, positions) * one_hot.astype(grad_y.dtype)
        grad_x = Fold.apply(cols.reshape(n, c * k, positions), ctx.shape[2:], kernel, dilation,
                            padding, stride, out_hw)
        return grad_x, None, None, None, None, None


def _as_2d_shape(shape):
    return (shape[0], shape[1], 1, shape[2]) if len(shape) == 3 else tuple(shape)


def avg_pool_divisor(size_hw, kernel, stride, padding, out_hw, count_include_pad, divisor_override):
    """The (OH, OW) array each window's sum is divided by, as PyTorch counts: with
    count_include_pad, the window's size clipped to the padded input (a ceil_mode window that
    hangs past the padding counts less); without, only the input elements it covers."""
    if divisor_override is not None:
        return np.full(out_hw, float(divisor_override))
    counts = []
    for size, k, s, pad_lo, out in zip(size_hw, kernel, stride, (padding[0][0], padding[1][0]),
                                       out_hw):
        start = np.arange(out) * s - pad_lo
        end = np.minimum(start + k, size + pad_lo)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        counts.append(end - start)
    return (counts[0][:, None] * counts[1][None, :]).astype(np.float64)


class AvgPool(Function):
    """Average pooling over 1 or 2 spatial dims (kernel, stride, padding, ceil_mode,
    count_include_pad, divisor_override).

    forward:  y[n, c, p, q] = (1 / D[p, q]) sum over (i, j) of x_pad[n, c, p*sh + i, q*sw + j]
              (x_pad pads with 0; D is the window's count, see avg_pool_divisor)
    backward: dL/dx[n, c, h, w] = sum over the windows (p, q) that contain (h, w) of
              dL/dy[n, c, p, q] / D[p, q]          (an equal share to every summed element)
    """

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, out_hw, divisor):
        x2 = _as_2d(x)
        total = zeros_on(x, x2.shape[:2] + tuple(out_hw))
        for _, window in _windows(_pad(x2, padding, 0), kernel, stride, (1, 1), out_hw):
            total += window
        ctx.shape = x.shape
        ctx.options = (kernel, stride, padding, out_hw)
        ctx.divisor = divisor = divisor.astype(x.dtype)
        y = total / divisor
        return y[:, :, 0] if x.ndim == 3 else y

    @staticmethod
    def backward(ctx, grad_y):
        kernel, stride, padding, out_hw = ctx.options
        shape = _as_2d_shape(ctx.shape)
        share = _as_2d(grad_y) / ctx.divisor
        (top, bottom), (left, right) = padding
        (kh, kw), (sh, sw) = kernel, stride
        hp = max(shape[2] + top + bottom, sh * (out_hw[0] - 1) + kh)
        wp = max(shape[3] + left + right, sw * (out_hw[1] - 1) + kw)
        canvas = zeros_on(grad_y, shape[:2] + (hp, wp))
        for _, window in _windows(canvas, kernel, stride, (1, 1), out_hw):
            window += share  # a view into canvas: adds in place
        grad_x = canvas[:, :, top:top + shape[2], left:left + shape[3]]
        return contiguous(grad_x).reshape(ctx.shape), None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        # every element of a window gets dL/dy / D: the share copied over the window, then Fold
        kernel, stride, padding, out_hw = ctx.options
        n, c = ctx.shape[0], ctx.shape[1]
        k, positions = kernel[0] * kernel[1], out_hw[0] * out_hw[1]
        share = grad_y.reshape(n, c, 1, positions) / ctx.divisor.reshape(1, 1, 1, positions)
        cols = share.expand(n, c, k, positions).reshape(n, c * k, positions)
        grad_x = Fold.apply(cols, ctx.shape[2:], kernel, (1, 1), padding, stride, out_hw)
        return grad_x, None, None, None, None, None


def adaptive_bounds(size, out):
    """PyTorch's adaptive windows along one dim: window i covers [floor(i*size/out),
    ceil((i+1)*size/out)), so the windows tile the input and may overlap by one."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def scatter_to_index(grad_y, index, shape):
    """dL/dx for values read at flat positions ``index`` of each (n, c) plane of an x of shape
    ``shape``: every gradient is added where its value came from (np.bincount sums repeats)."""
    n, c = shape[0], shape[1]
    plane = int(np.prod(shape[2:]))
    where = (arange_on(index, n * c).reshape(n, c, *[1] * (index.ndim - 2)) * plane + index).ravel()
    grad = np.bincount(where, weights=grad_y.ravel(), minlength=n * c * plane)
    return grad.astype(grad_y.dtype, copy=False).reshape(shape)


def adaptive_max_arrays(x, out_hw):
    """(y, index) of adaptive max pooling x (N, C, H, W); index: each maximum's position in the
    flattened H * W (the first maximum of a window, as PyTorch; in a window holding NaN, its last
    NaN in row-major order, as PyTorch: see max_pool_arrays)."""
    n, c, h, w = x.shape
    rows, cols = adaptive_bounds(h, out_hw[0]), adaptive_bounds(w, out_hw[1])
    index = np.empty_like(x, shape=(n, c) + tuple(out_hw), dtype=np.int64)
    for p, (h0, h1) in enumerate(rows):
        for q, (w0, w1) in enumerate(cols):
            window = x[:, :, h0:h1, w0:w1].reshape(n, c, -1)
            at = window.argmax(axis=-1)
            nan = np.isnan(window)
            last_nan = window.shape[-1] - 1 - nan[..., ::-1].argmax(axis=-1)
            at = np.where(nan.any(axis=-1), last_nan, at)
            index[:, :, p, q] = (h0 + at // (w1 - w0)) * w + w0 + at % (w1 - w0)
    flat = x.reshape(n, c, h * w)
    return np.take_along_axis(flat, index.reshape(n, c, -1), axis=2).reshape(index.shape), index


class AdaptiveMaxPool(Function):
    """Adaptive max pooling over 2 spatial dims: an output of the requested size, each element the
    maximum of its adaptive window (see adaptive_bounds).

    forward:  y[n, c, p, q] = max of x[n, c, h0(p):h1(p), w0(q):w1(q)]
    backward: dL/dx[n, c, h, w] = sum of dL/dy[n, c, p, q] over the windows whose maximum is at
              (h, w)                                 (routed to the argmax, as in MaxPool)
    """

    @staticmethod
    def forward(ctx, x, out_hw):
        y, ctx.index = adaptive_max_arrays(x, out_hw)
        ctx.shape = x.shape
        return y

    @staticmethod
    def backward(ctx, grad_y):
        return scatter_to_index(grad_y, ctx.index, ctx.shape), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        # a product with the constant one-hot matrix of the argmaxes (N, C, OH*OW, H*W)
        n, c, h, w = ctx.shape
        index = ctx.index.reshape(n, c, -1)
        one_hot = (index[..., None] == arange_on(index, h * w)).astype(grad_y.dtype)
        from ..tensor import Tensor

        return (grad_y.reshape(n, c, 1, -1) @ Tensor(one_hot)).reshape(ctx.shape), None
