"""Convolution as im2col + one matrix product, its transpose, and unfold/fold (im2col and col2im).

The whole family rests on two array functions and one identity:

    im2col(x)   copies every receptive field of x into a column: for a kernel of kh x kw on C
                channels, cols has, per sample, one row per (channel, kernel row, kernel column)
                and one column per output position. A convolution is then one matrix product
                (batched over the samples, so y comes out in its (N, C_out, OH, OW) layout):
                    y = W_flat @ cols            W_flat: (C_out, C * kh * kw)
    col2im(c)   the adjoint of im2col: adds each column back onto the positions it was copied
                from (positions read by several windows receive the sum).

    The input gradient of a convolution is a transposed convolution, and vice versa:
        y = W cols(x)          =>   dL/dx = col2im(Wᵀ dL/dy) = conv_transpose(dL/dy, W)
        y = col2im(Wᵀ x)       =>   dL/dx = W cols(dL/dy)    = conv(dL/dy, W)
    with the same weight array, stride, padding, dilation and groups. So Conv.backward calls the
    array function that ConvTranspose.forward runs, and ConvTranspose.backward the one of Conv.

Layouts (PyTorch's): input (N, C, H, W) or (N, C, L); conv weight (C_out, C_in / groups, kh, kw);
transposed-conv weight (C_in, C_out / groups, kh, kw). A 1-D input is a 2-D one of height 1, so one
code path serves both. Inside, the spatial options are normalised to pairs: kernel (kh, kw),
stride (sh, sw), dilation (dh, dw) and padding ((top, bottom), (left, right)); padding='same' can
need one more row at the bottom than at the top. The argument checks, with their error sentences,
live in ``chainrule.nn.functional_conv``, the entry point of every op here.
"""

import numpy as np

from ..autograd import Function
from ..backend import (arange_on, contiguous, get_array_module, is_device_array, kept_on_device,
                       to_device_of, zeros_on)


def out_size(size, pad, kernel, stride, dilation):
    """Number of windows along one dim: floor((size + pad_lo + pad_hi - d(k - 1) - 1) / s) + 1."""
    return (size + pad[0] + pad[1] - dilation * (kernel - 1) - 1) // stride + 1


def _as_2d(a):
    """(N, C, L) -> (N, C, 1, L); a 4-D array as it is."""
    return a[:, :, None, :] if a.ndim == 3 else a


def im2col(x, kernel, stride, padding, dilation, out_hw=None):
    """Every receptive field of x (N, C, H, W) as a column.

    Returns cols of shape (N, C, kh, kw, OH, OW), which reshapes without a copy to one matrix
    (C * kh * kw, OH * OW) per sample, and, for groups, to (N, G, C/G * kh * kw, OH * OW):
        cols[n, c, i, j, oh, ow] = x_padded[n, c, oh * sh + i * dh, ow * sw + j * dw]
    The six-index view of x_padded that says exactly this is made by giving strides (moving one
    step in i moves dh rows of the image, one step in oh moves sh rows), then copied once: one
    array operation, where a copy per kernel offset would be kh * kw of them (25 kernel launches
    on a GPU for a 5x5 kernel), and faster on the CPU too.
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    if out_hw is None:
        out_hw = (out_size(h, padding[0], kh, sh, dh), out_size(w, padding[1], kw, sw, dw))
    oh, ow = out_hw
    if any(padding[0]) or any(padding[1]):
        x = np.pad(x, ((0, 0), (0, 0), padding[0], padding[1]))
    s_n, s_c, s_h, s_w = x.strides
    windows = get_array_module(x).lib.stride_tricks.as_strided(
        x, (n, c, kh, kw, oh, ow), (s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw))
    return contiguous(windows)


def col2im(cols, shape, stride, padding, dilation):
    """The adjoint of im2col: add each column back where it was read from.

    cols: (N, C, kh, kw, OH, OW); shape: the (N, C, H, W) of the unpadded image. Every
    x_padded[n, c, oh * sh + i * dh, ow * sw + j * dw] receives cols[n, c, i, j, oh, ow] (summed
    over the windows that overlap there); the padding is cut off at the end. On the CPU that is
    one strided addition per kernel offset; on a GPU, where each would be a kernel launch, one
    scatter-add of every element to its position (np.add.at, atomic on a GPU), which on the CPU
    would be several times slower.
    """
    n, c, kh, kw, oh, ow = cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    (top_pad, bottom_pad), (left_pad, right_pad) = padding
    h, w = shape[2], shape[3]
    hp, wp = h + top_pad + bottom_pad, w + left_pad + right_pad
    # the canvas must hold every window, also those of an output_padding reaching past it
    hp = max(hp, sh * (oh - 1) + dh * (kh - 1) + 1)
    wp = max(wp, sw * (ow - 1) + dw * (kw - 1) + 1)
    if is_device_array(cols) and cols.dtype.kind == "f" and cols.itemsize >= 4:
        # on a GPU: one scatter-add (atomic additions, float32 and float64) instead of kh * kw
        canvas = zeros_on(cols, (n * c, hp * wp))
        where = _canvas_positions(cols, (kh, kw, oh, ow), stride, dilation, wp)
        get_array_module(cols).add.at(canvas, (arange_on(cols, n * c)[:, None], where),
                                      cols.reshape(n * c, kh * kw * oh * ow))
        canvas = canvas.reshape(n, c, hp, wp)
    else:  # on the CPU one strided addition per kernel offset is several times faster
        canvas = np.zeros_like(cols, shape=(n, c, hp, wp))
        for i in range(kh):
            for j in range(kw):
                top, left = i * dh, j * dw
                window = canvas[:, :, top:top + sh * (oh - 1) + 1:sh, left:left + sw * (ow - 1) + 1:sw]
                window += cols[:, :, i, j]
    if (top_pad, left_pad, hp, wp) == (0, 0, h, w):
        return canvas
    return contiguous(canvas[:, :, top_pad:top_pad + h, left_pad:left_pad + w])


def _canvas_positions(like, sizes, stride, dilation, width):
    """For col2im on a GPU: where each column element of one (sample, channel) lands on the padded
    canvas, flattened, as a (1, kh * kw * OH * OW) integer array on the device of ``like``:
        position[i, j, oh, ow] = (oh * sh + i * dh) * width + ow * sw + j * dw
    Made once per geometry and kept (it depends on the sizes alone)."""
    def make():
        kh, kw, oh, ow = sizes
        (sh, sw), (dh, dw) = stride, dilation
        rows = np.arange(oh)[None, None, :, None] * sh + np.arange(kh)[:, None, None, None] * dh
        cols = np.arange(ow)[None, None, None, :] * sw + np.arange(kw)[None, :, None, None] * dw
        return to_device_of((rows * width + cols).reshape(1, -1), like)

    key = ("col2im", get_array_module(like), sizes, tuple(stride), tuple(dilation), width)
    return kept_on_device(key, make)


def conv_arrays(x, weight, stride, padding, dilation, groups, out_hw=None):
    """y = W cols(x), per sample and group; x (N, C_in, H, W), weight (C_out, C_in / G, kh, kw).
    Returns (y of shape (N, C_out, OH, OW), cols). One batched product: (G, C_out/G, K) times
    (N, G, K, OH * OW), already in y's layout."""
    n = x.shape[0]
    c_out, c_group, kh, kw = weight.shape
    cols = im2col(x, (kh, kw), stride, padding, dilation, out_hw)
    oh, ow = cols.shape[-2:]
    w_flat = weight.reshape(groups, c_out // groups, c_group * kh * kw)
    y = np.matmul(w_flat, cols.reshape(n, groups, c_group * kh * kw, oh * ow))
    return y.reshape(n, c_out, oh, ow), cols


def conv_transpose_arrays(x, weight, stride, padding, dilation, groups, out_hw):
    """y = col2im(Wᵀ x), per sample and group: the adjoint of conv_arrays in its input.
    x (N, C_in, H, W), weight (C_in, C_out / G, kh, kw), out_hw the (H, W) of y."""
    n, c_in, h, w = x.shape
    _, c_group, kh, kw = weight.shape
    w_flat = weight.reshape(groups, c_in // groups, c_group * kh * kw)
    cols = np.matmul(w_flat.transpose(0, 2, 1), x.reshape(n, groups, c_in // groups, h * w))
    cols = cols.reshape(n, groups * c_group, kh, kw, h, w)  # (N, G, C_out/G * K, H * W) viewed
    return col2im(cols, (n, groups * c_group) + tuple(out_hw), stride, padding, dilation)


def _weight_grad(grad_y, cols, groups, weight_shape):
    """dL/dW = sum over samples of dL/dy colsᵀ, per group (outer products summed over positions).
    grad_y: (N, C_out, OH, OW); cols: (N, C_in, kh, kw, OH, OW) as im2col made it."""
    n, c_out, oh, ow = grad_y.shape
    g = grad_y.reshape(n, groups, c_out // groups, oh * ow)
    c_flat = cols.reshape(n, groups, -1, oh * ow)
    return np.matmul(g, c_flat.transpose(0, 1, 3, 2)).sum(axis=0).reshape(weight_shape)


class Conv(Function):
    """Convolution (PyTorch's, i.e. cross-correlation) over 1 or 2 spatial dims, as im2col + GEMM.

    forward:  cols = im2col(x)                       (C_in * kh * kw, OH * OW) per sample and group
              y = W_flat @ cols + b                  W_flat: (C_out, C_in/G * kh * kw), per group
              (y[n, o, p, q] = b[o] + sum_{c, i, j} W[o, c, i, j] x_pad[n, c, p*sh + i*dh, q*sw + j*dw])
    backward: dL/dW = dL/dy @ colsᵀ                  (per group; summed over samples and positions)
              dL/dx = col2im(W_flatᵀ @ dL/dy)        = conv_transpose(dL/dy, W): the input gradient
                                                      of a convolution is a transposed convolution
              dL/db = sum over n, p, q of dL/dy[n, o, p, q]
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        one_d = x.ndim == 3
        x2, w2 = _as_2d(x), _as_2d(weight)
        y, cols = conv_arrays(x2, w2, stride, padding, dilation, groups)
        if bias is not None:
            y += bias.reshape(-1, 1, 1)
        ctx.save_for_backward(x, weight, bias)
        ctx.cols = cols
        ctx.options = (stride, padding, dilation, groups)
        return y[:, :, 0] if one_d else y

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, bias = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.options
        g2, w2 = _as_2d(grad_y), _as_2d(weight)
        needs = ctx.needs_input_grad
        grad_x = grad_w = grad_b = None
        if needs[0]:
            grad_x = conv_transpose_arrays(g2, w2, stride, padding, dilation, groups,
                                           _as_2d(x).shape[2:]).reshape(x.shape)
        if needs[1]:
            grad_w = _weight_grad(g2, ctx.cols, groups, w2.shape).reshape(weight.shape)
        if bias is not None and needs[2]:
            grad_b = g2.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        x, weight, bias = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.options
        grad_x = ConvTranspose.apply(grad_y, weight, None, stride, padding, dilation, groups,
                                     x.shape[2:])
        grad_w = _weight_grad_graph(grad_y, x, weight.shape, stride, padding, dilation, groups)
        grad_b = None if bias is None else grad_y.sum(dim=(0, *range(2, grad_y.ndim)))
        return grad_x, grad_w, grad_b, None, None, None, None


def _weight_grad_graph(grad_y, x, weight_shape, stride, padding, dilation, groups):
    """dL/dW of a convolution in Tensor ops: unfold(x) times dL/dy, summed over the batch."""
    n, c_out = grad_y.shape[0], grad_y.shape[1]
    kernel = (1, weight_shape[-1]) if len(weight_shape) == 3 else tuple(weight_shape[2:])
    cols = Unfold.apply(x, kernel, dilation, padding, stride)  # (N, C_in * K, L)
    cols = cols.reshape(n, groups, -1, cols.shape[-1])
    g = grad_y.reshape(n, groups, c_out // groups, -1)
    return (g @ cols.transpose(2, 3)).sum(dim=0).reshape(weight_shape)


class ConvTranspose(Function):
    """Transposed convolution (the adjoint of Conv in its input), over 1 or 2 spatial dims.

    forward:  cols = W_flatᵀ @ x                     W_flat: (C_in, C_out/G * kh * kw), per group
              y = col2im(cols) + b                   (each input pixel spreads a kernel-sized patch)
              output size (H - 1) s - 2 p + d (k - 1) + output_padding + 1
    backward: dL/dx = W_flat @ im2col(dL/dy)         = conv(dL/dy, W): the input gradient of a
                                                      transposed convolution is a convolution
              dL/dW = x @ im2col(dL/dy)ᵀ             (per group, summed over samples and positions)
              dL/db = sum over n and positions of dL/dy
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups, out_hw):
        one_d = x.ndim == 3
        x2, w2 = _as_2d(x), _as_2d(weight)
        out_hw = tuple(out_hw) if not one_d else (1, out_hw[-1])
        y = conv_transpose_arrays(x2, w2, stride, padding, dilation, groups, out_hw)
        y = contiguous(y)
        if bias is not None:
            y += bias.reshape(-1, 1, 1)
        ctx.save_for_backward(x, weight, bias)
        ctx.options = (stride, padding, dilation, groups)
        return y[:, :, 0] if one_d else y

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, bias = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.options
        g2, x2, w2 = _as_2d(grad_y), _as_2d(x), _as_2d(weight)
        needs = ctx.needs_input_grad
        # the windows of dL/dy that the forward's columns came from: one per input position
        cols = im2col(g2, w2.shape[2:], stride, padding, dilation, out_hw=x2.shape[2:])
        grad_x = grad_w = grad_b = None
        if needs[0]:
            n, c_in, h, w = x2.shape
            w_flat = w2.reshape(groups, c_in // groups, -1)
            grad_x = np.matmul(w_flat, cols.reshape(n, groups, -1, h * w)).reshape(x.shape)
        if needs[1]:
            grad_w = _weight_grad(x2, cols, groups, w2.shape).reshape(weight.shape)
        if bias is not None and needs[2]:
            grad_b = g2.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        x, weight, bias = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.options
        grad_x = Conv.apply(grad_y, weight, None, stride, padding, dilation, groups)
        # dL/dW[c, o, i, j] = sum x[n, c, p] unfold(dL/dy)[n, (o, i, j), p], per group
        n, c_in = x.shape[0], x.shape[1]
        kernel = (1, weight.shape[-1]) if weight.ndim == 3 else tuple(weight.shape[2:])
        cols = Unfold.apply(grad_y, kernel, dilation, padding, stride, _as_2d_shape(x.shape)[2:])
        cols = cols.reshape(n, groups, -1, cols.shape[-1])
        x_g = x.reshape(n, groups, c_in // groups, -1)
        grad_w = (x_g @ cols.transpose(2, 3)).sum(dim=0).reshape(weight.shape)
        grad_b = None if bias is None else grad_y.sum(dim=(0, *range(2, grad_y.ndim)))
        return grad_x, grad_w, grad_b, None, None, None, None, None


class Unfold(Function):
    """im2col as an op (F.unfold): every receptive field of x (N, C, H, W) as a column.

    forward:  y[n, (c, i, j), (p, q)] = x_pad[n, c, p*sh + i*dh, q*sw + j*dw]
              y: (N, C * kh * kw, OH * OW)
    backward: dL/dx = col2im(dL/dy) = fold(dL/dy)    (fold is unfold's adjoint: each element of x
              receives the sum of the gradients of every column entry that copied it)
    """

    @staticmethod
    def forward(ctx, x, kernel, dilation, padding, stride, out_hw=None):
        ctx.shape = x.shape
        x2 = _as_2d(x)
        cols = im2col(x2, kernel, stride, padding, dilation, out_hw)
        n, c, kh, kw, oh, ow = cols.shape
        ctx.options = (kernel, dilation, padding, stride, (oh, ow))
        return cols.reshape(n, c * kh * kw, oh * ow)

    @staticmethod
    def backward(ctx, grad_y):
        kernel, dilation, padding, stride, out_hw = ctx.options
        grad_x = _fold_arrays(grad_y, _as_2d_shape(ctx.shape), kernel, dilation, padding, stride,
                              out_hw)
        return grad_x.reshape(ctx.shape), None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        kernel, dilation, padding, stride, out_hw = ctx.options
        grad_x = Fold.apply(grad_y, ctx.shape[2:], kernel, dilation, padding, stride, out_hw)
        return grad_x, None, None, None, None, None


def _as_2d_shape(shape):
    return (shape[0], shape[1], 1, shape[2]) if len(shape) == 3 else tuple(shape)


def _fold_arrays(cols, shape, kernel, dilation, padding, stride, out_hw=None):
    """col2im of unfold's layout (N, C * kh * kw, L) into an image of shape (N, C, H, W)."""
    n, c = shape[0], shape[1]
    kh, kw = kernel
    oh, ow = out_hw or (out_size(shape[2], padding[0], kh, stride[0], dilation[0]),
                        out_size(shape[3], padding[1], kw, stride[1], dilation[1]))
    return col2im(cols.reshape(n, c, kh, kw, oh, ow), shape, stride, padding, dilation)


class Fold(Function):
    """col2im as an op (F.fold): the adjoint of unfold; overlapping entries are summed.

    forward:  y[n, c, h, w] = sum of x[n, (c, i, j), (p, q)] over the (i, j, p, q) with
              p*sh + i*dh - pad_top = h and q*sw + j*dw - pad_left = w
    backward: dL/dx = unfold(dL/dy)                  (each column entry reads the gradient of the
              pixel it was added to)
    """

    @staticmethod
    def forward(ctx, x, output_size, kernel, dilation, padding, stride, out_hw=None):
        n = x.shape[0]
        c = x.shape[1] // (kernel[0] * kernel[1])
        shape = _as_2d_shape((n, c, *output_size))
        ctx.options = (shape, kernel, dilation, padding, stride, out_hw)
        y = _fold_arrays(x, shape, kernel, dilation, padding, stride, out_hw)
        return y[:, :, 0] if len(output_size) == 1 else y

    @staticmethod
    def backward(ctx, grad_y):
        shape, kernel, dilation, padding, stride, out_hw = ctx.options
        cols = im2col(grad_y.reshape(shape), kernel, stride, padding, dilation, out_hw)
        n, c, kh, kw, oh, ow = cols.shape
        grad_x = cols.reshape(n, c * kh * kw, oh * ow)
        return grad_x, None, None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        shape, kernel, dilation, padding, stride, out_hw = ctx.options
        grad_x = Unfold.apply(grad_y.reshape(shape), kernel, dilation, padding, stride, out_hw)
        return grad_x, None, None, None, None, None, None
