"""Every op's kernels, one layer at a time: against torch.nn.functional (float32 vs float64) and against
float64 central differences, on odd sizes, strides, padding, dilation, groups and ceil-mode pools."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402
from cnndsl.engine.gradcheck import gradcheck  # noqa: E402

from ..torch_oracle import rel_err, run  # noqa: E402

# (statement, input shape): each becomes a one-layer network (flatten appended where the op is spatial)
CASES = [
    ("conv 5 3x3", "3x9x11"),
    ("conv 4 3x3 stride=2 pad=1", "2x10x9"),
    ("conv 6 5x3 stride=2x1 pad=2x1 dilation=1x2", "3x13x12"),
    ("conv 6 3x3 groups=3 dilation=2 pad=2", "6x8x8"),
    ("conv 8 3x3 groups=8 pad=1 bias=false", "8x7x7"),      # depthwise
    ("conv 6 3x3 groups=6 stride=2 pad=1", "6x9x8"),         # depthwise, strided (MobileNet's downsampling)
    ("conv 6 3x3 groups=6 stride=2 pad=1", "6x8x9"),         # …an odd width: the last column's own loop
    ("conv 4 5x5 groups=4 stride=2 pad=2", "4x9x11"),        # …an even column padding: phases swap parity
    ("conv 4 3x3 groups=4 stride=1x2 pad=1", "4x7x9"),       # …a column stride alone
    ("conv 4 4x2 groups=4 stride=2x1 pad=3x0 dilation=2x1", "4x9x6"),  # depthwise: odd sides, wide padding
    ("conv 5 3x3 groups=5 stride=2 pad=2 dilation=2", "5x11x10"),  # depthwise: a row's taps in one phase
    ("conv 3 5x5 groups=3 stride=3 pad=2", "3x13x11"),       # depthwise: 3 × 3 phases, a row of 3 + 2 taps
    ("conv 4 1x7 pad=0x3", "3x5x9"),
    ("conv 7 1x1 stride=2", "5x9x9"),
    ("conv 3 4x4 stride=3", "2x11x10"),                      # an even kernel
    ("conv 6 5x5 pad=2", "4x7x8"),                           # 100 taps: the weight gradient by GEMM
    ("conv 13 3x3 pad=1", "2x6x7"),                          # direct taps: a block of 8, then 5 of 8
    ("conv 12 5x5", "2x9x9"),                                # a block of 8, then 4 of 8
    ("maxpool 3x3 stride=2", "3x11x11"),                     # overlapping
    ("maxpool 3x3 stride=2 ceil=true", "2x10x10"),
    ("maxpool 2x3 stride=1x2 pad=1", "2x7x8"),
    ("avgpool 3x3 stride=2 pad=1", "2x9x9"),
    ("avgpool 3x3 stride=2 pad=1 ceil=true", "2x10x10"),
    ("avgpool 2", "3x7x7"),                                  # non-overlapping: a leftover row and column
    ("avgpool 3x2 stride=3x2", "2x7x9"),
    ("avgpool 2 ceil=true", "2x7x7"),                        # the partial last windows: the general kernel
    ("gap", "4x5x3"),
    ("gmp", "4x5x3"),
    ("globalmaxpool", "3x1x1"),
    ("relu", "3x4x5"), ("relu6", "3x4x5"), ("tanh", "3x4x5"), ("sigmoid", "3x4x5"), ("identity", "3x4x5"),
    ("leakyrelu slope=0.2", "3x4x5"),
    ("lrn size=5 alpha=1e-2 beta=0.75 k=2", "7x3x4"),
    ("lrn size=3 alpha=0.5 beta=0.6 k=1", "5x3x3"),
    ("lrn size=4 alpha=0.1 beta=0.75 k=2", "6x2x2"),        # an even window
    ("bn eps=1e-3 momentum=0.3", "4x3x5"),
    ("flatten\nbn", "3x2x2"),                                # 1-D batch norm
    ("flatten\ndense 6", "3x4x4"),
    ("flatten\ndense 5 bias=false\nsoftmax", "2x3x3"),
    ("concat { branch { conv 2 1x1 } branch {} branch { maxpool 3 stride=1 pad=1 } }", "3x5x5"),
    ("add { branch { conv 3 3x3 pad=1 } branch {} branch { relu } }", "3x5x5"),
    ("x: conv 4 3x3 pad=1\ngap\nconv 2 1x1; relu\nconv 4 1x1; sigmoid\nmul @x", "3x5x4"),  # an SE gate
    ("mul { branch { conv 3 3x3 pad=1 } branch {} branch { tanh } }", "3x5x5"),
]


def one_layer(stmt: str, shape: str):
    spatial = not any(stmt.endswith(t) for t in ("dense 6", "softmax", "flatten\nbn"))
    text = f"network K\ninput {shape}\n{stmt}\n" + ("flatten\n" if spatial else "")
    return cnndsl.parse(text, "kernel.cnn")


@pytest.mark.parametrize("tier", ["fast", "reference"])
@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("stmt, shape", CASES)
def test_against_torch(stmt, shape, mode, tier):
    net = one_layer(stmt, shape).init(seed=1)
    net.kernels = tier
    rng = np.random.default_rng(2)
    for k, v in net.buffers.items():  # non-trivial running statistics
        v[...] = rng.uniform(0.5, 1.5, v.shape) if k.endswith("var") else rng.standard_normal(v.shape)
    start = {k: v.copy() for k, v in net.buffers.items()}
    x = rng.standard_normal((3,) + net.input_shape).astype(np.float32)
    y = net.forward(x, mode=mode)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = net.backward(dy)
    for k, v in start.items():
        net.engine.state[k.rsplit(".", 1)[0]][k.rsplit(".", 1)[1]][...] = v
    y_ref, dx_ref, grads_ref, _ = run(net, x.astype(np.float64), dy.astype(np.float64), mode)
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert rel_err(y, y_ref) < 1e-5 and rel_err(dx, dx_ref) < 1e-4
    for key, ref in grads_ref.items():
        assert rel_err(net.grads[key], ref) < 1e-4, key


@pytest.mark.parametrize("tier", ["fast", "reference"])
@pytest.mark.parametrize("stmt, shape", CASES)
def test_against_finite_differences(stmt, shape, tier):
    net = one_layer(stmt, shape).init(seed=4)
    net.kernels = tier
    for check in gradcheck(net, batch=2, mode="train", samples=5):
        assert check.worst < 1e-5, (check.key, check.worst)


@pytest.mark.parametrize("stmt, shape", [("maxpool 3x3 stride=2 pad=1", (2, 6, 6)),  # spelled-out 3×3 inside
                                         ("maxpool 2", (2, 7, 8)),                   # spelled-out 2×2
                                         ("maxpool 3x3 stride=1", (2, 5, 6)),        # 3×3 at stride 1
                                         ("maxpool 2x3 stride=1x2 pad=1", (2, 5, 6))])  # the general path
def test_maxpool_ties_go_to_the_first_maximum_as_in_torch(stmt, shape):
    net = cnndsl.parse(f"network T\ninput {'x'.join(map(str, shape))}\n{stmt}\nflatten").init()
    x = np.random.default_rng(0).integers(0, 2, (2,) + shape).astype(np.float32)  # many ties
    y = net.forward(x)
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    dx = net.backward(dy)
    _, dx_ref, _, _ = run(net, x.astype(np.float64), dy.astype(np.float64))
    assert np.array_equal(dx != 0, dx_ref != 0) and np.allclose(dx, dx_ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("stmt, shape", [("maxpool 3x3 stride=2 pad=1", (3, 11, 12)),      # ResNet's stem
                                         ("maxpool 3x3 stride=1 pad=1", (4, 7, 5)),       # GoogLeNet's pool branch
                                         ("maxpool 3x3 stride=2 ceil=true", (2, 10, 9)),  # a partial last window
                                         ("maxpool 2 stride=1", (2, 5, 6)),
                                         ("maxpool 2 ceil=true", (2, 7, 7)),
                                         ("maxpool 5x4 stride=3x2 pad=2x1 ceil=true", (2, 13, 11)),  # taps past 3
                                         ("maxpool 7x7 stride=1 pad=3", (1, 8, 8)),
                                         ("maxpool 1x3 stride=1x3", (2, 4, 10))])
def test_maxpool_at_inference_without_the_argmax_matches_torch(stmt, shape):
    """Inference takes its own kernel (no argmax to keep): the same maxima, exactly, -inf inputs included."""
    net = cnndsl.parse(f"network P\ninput {'x'.join(map(str, shape))}\n{stmt}\nflatten").init()
    x = np.random.default_rng(3).standard_normal((3,) + shape).astype(np.float32)
    x[0, 0, :2] = -np.inf  # whole windows of -inf at the top of the first plane
    got = net.engine.forward(x, grad=False, check_finite=False)  # (the engine refuses -inf inputs by default)
    a = net.graph.nodes["maxpool1"]["node"].attrs
    want = torch.nn.functional.max_pool2d(torch.from_numpy(x), a["kernel"], a["stride"], a["pad"],
                                          ceil_mode=a["ceil"]).flatten(1).numpy()
    assert got.shape == want.shape and np.array_equal(got, want)
    assert np.array_equal(got, net.engine.forward(x, check_finite=False))  # and as training's kernel does


def test_inference_pooling_takes_the_kernel_without_indices(monkeypatch):
    """grad=False routes 3 × 3 pools to maxpool_values (2–3× faster): the argmax kernel is not called."""
    from cnndsl.ops import pool as pool_op
    net = cnndsl.parse("network P\ninput 3x12x12\nmaxpool 3x3 stride=2 pad=1\nflatten").init()
    x = np.random.default_rng(4).standard_normal((2, 3, 12, 12)).astype(np.float32)
    want = net.forward(x)  # kept for backward: the argmax kernel

    def argmax_kernel(*args):
        raise AssertionError("the argmax kernel ran at inference")
    monkeypatch.setattr(pool_op._pool, "maxpool_forward", argmax_kernel)
    assert np.array_equal(net.forward(x, grad=False), want)
    with pytest.raises(AssertionError, match="argmax kernel"):
        net.forward(x)  # and training's path does call it


def test_dropout_is_seeded_scaled_and_identity_at_inference():
    net = cnndsl.parse("network D\ninput 4x16x16\ndropout 0.25\nflatten").init()
    x = np.ones((8, 4, 16, 16), np.float32)
    assert np.array_equal(net.forward(x, mode="eval"), x.reshape(8, -1))
    y1 = net.forward(x, mode="train", seed=5)
    dx = net.backward(np.ones_like(y1))
    y2 = net.forward(x, mode="train", seed=5)
    assert np.array_equal(y1, y2) and not np.array_equal(y1, net.forward(x, mode="train", seed=6))
    kept = y1 != 0
    assert np.allclose(y1[kept], 1 / 0.75) and abs(kept.mean() - 0.75) < 0.02
    assert np.array_equal(dx.reshape(8, -1), y1)  # the gradient passes exactly where the mask kept


def test_fused_softmax_cross_entropy_matches_torch():
    net = cnndsl.parse("network S\ninput 3x4x4\nflatten\ndense 5\nsoftmax").init(seed=2)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 3, 4, 4)).astype(np.float32) * 30  # large logits: must stay finite
    labels = rng.integers(0, 5, 6)
    loss = net.loss(x, labels)
    dx = net.backward()
    w = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in net.params.items()}
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    z = torch.nn.functional.linear(xt.flatten(1), w["dense1.weight"], w["dense1.bias"])
    ref = torch.nn.functional.cross_entropy(z, torch.tensor(labels))
    ref.backward()
    assert abs(loss - ref.item()) < 1e-4 * max(1, abs(ref.item()))
    assert rel_err(dx, xt.grad.numpy()) < 1e-4
    assert rel_err(net.grads["dense1.weight"], w["dense1.weight"].grad.numpy()) < 1e-4


@pytest.mark.parametrize("workspace", [64, 2000])
@pytest.mark.parametrize("stmt, shape, algorithm", [
    ("conv 5 3x3 stride=2 pad=1", "3x13x11", "im2col"),           # stride 2: the phases, odd sides
    ("conv 5 3x3 stride=2 pad=1", "3x12x10", "im2col"),           # …even sides (ResNet's)
    ("conv 6 3x3 groups=3 dilation=2 pad=2", "6x9x9", "direct"),  # the padded-width grid
    ("conv 40 3x3 stride=1x2 pad=1", "3x9x9", "im2col"),          # a column stride alone: the phases
    ("conv 40 3x3 pad=1", "3x9x9", "im2col"),                     # "same" width: the shifted planes
    ("conv 40 5x3 dilation=2x1 pad=4x1", "3x9x8", "im2col"),      # …dilated, not square
    ("conv 40 3x3 pad=2x1", "3x7x9", "im2col"),                   # …taller than the input
    ("conv 40 3x5 pad=0x3", "3x7x5", "im2col"),                   # wider: the per-row loop
    ("conv 40 3x3 stride=2x3 dilation=2 pad=2", "3x10x11", "im2col"),  # strided: the phases
    ("conv 40 5x5 stride=3 pad=1", "3x11x11", "im2col"),          # phases wider than the output
    ("conv 4 1x1", "3x7x7", "pointwise"),
    ("conv 6 1x1 stride=2", "4x9x8", "pointwise"),             # a downsampling shortcut: odd, uneven sides
    ("conv 3 1x1 stride=3x2", "2x7x9", "pointwise"),
    ("conv 16 3x3 groups=16 stride=2 pad=1", "16x9x9", "depthwise")])
def test_conv_tiles_and_threads_agree_with_torch(stmt, shape, algorithm, workspace, monkeypatch):
    """Small workspaces force row bands of one image and several-image tiles; the batch of 5 splits
    unevenly over the threads."""
    from cnndsl.kernels import conv, schedule
    monkeypatch.setattr(schedule, "WORKSPACE", workspace)
    monkeypatch.setattr(schedule, "FLAT_WORKSPACE", workspace)
    monkeypatch.setattr(schedule, "MIN_COLUMNS_PER_CHUNK", 1)
    monkeypatch.setattr(schedule, "MIN_MACS", 1)  # these layers are far too small to be shared otherwise
    net = one_layer(stmt, shape).init(seed=5)
    node = net.node("conv1")
    a = node.attrs
    assert conv.algorithm(node.params["weight"], a["stride"], a["pad"], a["dilation"], a["groups"], 5,
                          node.shape[1:]) is conv.ALGORITHMS[algorithm]
    check_batch_of_five(net)


def check_batch_of_five(net, seed: int = 6, batch: int = 5) -> None:
    """Forward and backward in training mode on a batch of 5, against torch in float64."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch,) + net.input_shape).astype(np.float32)
    y = net.forward(x, mode="train")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = net.backward(dy)
    y_ref, dx_ref, grads_ref, _ = run(net, x.astype(np.float64), dy.astype(np.float64), "train")
    assert rel_err(y, y_ref) < 1e-5 and rel_err(dx, dx_ref) < 1e-4
    for key, ref in grads_ref.items():
        assert rel_err(net.grads[key], ref) < 1e-4, key


def test_backward_without_the_input_gradient_gives_the_same_weight_gradients():
    net = one_layer("conv 4 3x3 pad=1", "3x8x8").init()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    dy = np.ones_like(net.forward(x))
    net.backward(dy)
    full = {k: v.copy() for k, v in net.grads.items()}
    net.forward(x)
    assert net.engine.backward(dy, input_grad=False) is None
    for k, v in net.grads.items():
        assert np.array_equal(v, full[k])


SMALL_RESNET_WITH_AUX = """network SmallRes
input 3x12x12
conv 8 3x3 pad=1 bias=false; bn; relu
residual { conv 8 3x3 pad=1 bias=false; bn; relu; conv 8 3x3 pad=1 bias=false; bn }
relu
aux weight=0.3 { gap; flatten; dense 5 }
residual { conv 16 3x3 stride=2 pad=1; bn; relu; conv 16 3x3 pad=1; bn } shortcut { conv 16 1x1 stride=2; bn }
relu
gap
flatten
dropout 0.2
dense 5
softmax
"""


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradcheck_a_residual_network_with_an_aux_head(mode):
    """Biases before batch norm (true gradient 0), fan-out into the aux head, dropout (seeded), kinks."""
    net = cnndsl.parse(SMALL_RESNET_WITH_AUX).init(seed=2)
    checks = gradcheck(net, batch=2, mode=mode, samples=4)
    assert {c.key for c in checks} >= {"input", "conv4.bias", "shortcut.conv1.weight"}
    assert ("aux1.dense1.weight" in {c.key for c in checks}) == (mode == "train")
    assert max(c.worst for c in checks) < 1e-4
    assert sum(c.checked for c in checks) > 5 * sum(c.kinks for c in checks)


WINOGRAD = [("conv 4 3x3 pad=1", "3x9x11"),                  # odd map: the last tile row and column hang over
            ("conv 5 3x3", "2x8x7"),                         # no padding
            ("conv 3 3x3 pad=2 bias=false", "4x5x6"),        # padding wider than the kernel's reach
            ("conv 6 3x3 pad=1 groups=2", "4x6x6"),
            ("conv 2 3x3 pad=1", "3x1x1"),                   # one output, eight taps in the padding
            ("conv 4 3x3 pad=3", "3x6x5")]                   # padding past 2: the adjoint's input gradient


@pytest.mark.parametrize("module", ["winograd", "winograd4"])
@pytest.mark.parametrize("workspace", [100, 1 << 21])
@pytest.mark.parametrize("stmt, shape", WINOGRAD)
def test_winograd_agrees_with_torch_and_finite_differences(stmt, shape, workspace, module, monkeypatch):
    """The Winograd paths (normally for ≥ 16 channels, ≥ 128 tiles and maps of ≥ 8×8; F(4×4, 3×3) on maps
    ≥ 100 wide) forced onto small layers; a small workspace cuts the batch into bands of tile rows, and the
    batch of 5 splits over the threads."""
    from cnndsl.kernels import schedule
    from cnndsl.kernels.conv import winograd, winograd4
    monkeypatch.setattr(schedule, "MIN_WINOGRAD_CHANNELS", 1)
    monkeypatch.setattr(schedule, "MIN_WINOGRAD_TILES", 1)
    monkeypatch.setattr(schedule, "MIN_WINOGRAD_SIDE", 1)
    monkeypatch.setattr(schedule, "MIN_WINOGRAD4_WIDTH", 1 if module == "winograd4" else 10**9)
    monkeypatch.setattr(schedule, "MIN_COLUMNS_PER_CHUNK", 1)
    monkeypatch.setattr(schedule, "WORKSPACE", workspace)
    monkeypatch.setattr(schedule, "WINOGRAD_FORWARD_WORKSPACE", workspace)
    calls = []
    impl = {"winograd": winograd, "winograd4": winograd4}[module]
    for name in ("forward", "backward"):
        real = getattr(impl, name)
        monkeypatch.setattr(impl, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    net = one_layer(stmt, shape).init(seed=7)
    check_batch_of_five(net, seed=8)
    # under F(4×4) the input gradient is a forward convolution of its own (but for a padding over 2)
    by_forward = module == "winograd4" and max(net.node("conv1").attrs["pad"]) <= 2
    assert calls == ["forward"] + (["forward"] if by_forward else []) + ["backward"]
    for check in gradcheck(net, batch=2, mode="train", samples=5):
        assert check.worst < 1e-5, (check.key, check.worst)


@pytest.mark.parametrize("shape, filters", [((2, 64, 112, 113), 32), ((1, 3, 30, 224), 8)])
def test_winograd4_keeps_float32_rounding_small_on_wide_maps(shape, filters):
    """F(4×4, 3×3)'s constants (up to 8 and 1/24) cost about a decimal digit of rounding against F(2×2):
    measured against float64 on the shapes it is chosen for, the error stays near 1e-5 of the output's size."""
    from cnndsl.kernels.conv import winograd4
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((filters, shape[1], 3, 3)) / np.sqrt(9 * shape[1])).astype(np.float32)
    b = rng.standard_normal(filters).astype(np.float32)
    y = winograd4.forward(x, w, b, (1, 1), (1, 1), (1, 1), 1, shape[2:])
    ref = torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                     torch.from_numpy(b).double(), padding=1).numpy()
    assert np.abs(y - ref).max() < 2e-5 * np.abs(ref).max()


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("stmt, shape", WINOGRAD[:4])
def test_winograd_splits_rows_over_the_threads_when_the_batch_is_small(stmt, shape, batch, monkeypatch):
    """With fewer images than threads, each thread takes a band of tile rows of every image; the bands'
    input gradients overlap and are summed."""
    from cnndsl.kernels import schedule
    for name in ("MIN_WINOGRAD_CHANNELS", "MIN_WINOGRAD_TILES", "MIN_WINOGRAD_SIDE", "MIN_COLUMNS_PER_CHUNK"):
        monkeypatch.setattr(schedule, name, 1)
    monkeypatch.setattr(schedule, "WORKERS", 3)
    calls, bands = [], []
    real = schedule.images_or_bands

    def images_or_bands(work, n, rows, cells):
        calls.append(rows)
        mine = []
        bands.append(mine)
        return real(lambda a, e, r0, r1: mine.append((a, e, r0, r1)) or work(a, e, r0, r1), n, rows, cells)
    monkeypatch.setattr(schedule, "images_or_bands", images_or_bands)
    net = one_layer(stmt, shape).init(seed=7)
    check_batch_of_five(net, seed=8, batch=batch)
    assert len(calls) == 2  # forward and backward (F(2×2)'s adjoint: these maps are too narrow for F(4×4))
    for rows, part in zip(calls, bands):  # each the whole batch, in bands of tile rows
        assert all((a, e) == (0, batch) for a, e, _, _ in part)
        mine = sorted((r0, r1) for _, _, r0, r1 in part)
        assert len(mine) > 1 and mine[0][0] == 0 and mine[-1][1] == rows  # that cover every row once
        assert all(hi == lo for (_, hi), (lo, _) in zip(mine, mine[1:]))


@pytest.mark.parametrize("rows", [1, 2, 4, 5, 9])
@pytest.mark.parametrize("shape", [(7, 13), (300, 301)])  # 300 × 301: dW is split over the threads
def test_dense_weight_gradient_by_outer_products_or_blas_matches_float64(rows, shape):
    from cnndsl.kernels import dense
    o, i = shape
    rng = np.random.default_rng(rows)
    dy = rng.standard_normal((rows, o)).astype(np.float32)
    x = rng.standard_normal((rows, i)).astype(np.float32)
    dw = dense.weight_grad(dy, x)
    assert dw.shape == (o, i) and dw.dtype == np.float32
    assert rel_err(dw, dy.astype(np.float64).T @ x.astype(np.float64)) < 1e-6
    # a column slice of dy (not contiguous) gives the same
    wide = np.concatenate([dy, dy], axis=1)[:, :o] if rows > 1 else dy
    assert np.array_equal(dense.weight_grad(wide, x), dw)


def test_dense_weight_gradient_rows_cover_both_paths():
    from cnndsl.kernels import schedule
    assert 1 <= schedule.MAX_OUTER_ROWS < 5  # the cases above run both the outer products and BLAS


def test_float32_tanh_is_within_8_ulp_and_bounded():
    """The vectorized tanh (a rational function, clamped) against float64 on a dense sweep of ±20,
    through the zero, the clamp and the saturation; |y| ≤ 1 everywhere, NaN and ±inf kept."""
    from cnndsl.kernels.elementwise import tanh_forward
    v = np.concatenate([np.linspace(0, 1e-3, 100_001), np.linspace(1e-3, 20, 2_000_001)]).astype(np.float32)
    v = np.concatenate([v, -v])
    y = np.empty_like(v)
    tanh_forward(v, y)
    ref = np.tanh(v.astype(np.float64))
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    err = np.abs(y - ref) / ulp
    assert err.max() <= 8 and err.mean() < 1.5 and np.abs(y).max() <= 1
    assert np.array_equal(y[v == 0], v[v == 0])
    special = np.array([np.nan, np.inf, -np.inf], np.float32)
    out = np.empty_like(special)
    tanh_forward(special, out)
    assert np.isnan(out[0]) and out[1] == 1 and out[2] == -1
