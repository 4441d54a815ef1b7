"""The executor's bookkeeping across calls."""

import numpy as np
import pytest

import cnndsl


def test_a_new_backward_forward_drops_the_last_gradients_and_an_inference_forward_keeps_them():
    net = cnndsl.parse("network G\ninput 1x6x6\nconv 2 3x3\nflatten\ndense 3\nsoftmax").init(seed=0)
    x = np.random.default_rng(0).standard_normal((4, 1, 6, 6)).astype(np.float32)
    net.loss(x, np.array([0, 1, 2, 0]))
    net.backward()
    kept = net.grads
    assert set(kept) == {"conv1.weight", "conv1.bias", "dense1.weight", "dense1.bias"}
    net.forward(x, grad=False)
    assert set(net.grads) == set(kept)  # inference leaves them
    net.forward(x)  # grad=True: a new backward is coming, as after PyTorch's zero_grad(set_to_none=True)
    assert net.grads == {}
    assert np.abs(kept["dense1.weight"]).sum() > 0  # a copy the caller holds stays intact


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [7, 100_003, (1 << 12) + 3])  # one thread (an odd tail), split over the threads
def test_the_finite_check_finds_every_nan_and_inf_and_nothing_else(dtype, size, monkeypatch):
    from cnndsl.engine import executor
    from cnndsl.engine.executor import finite
    if size == (1 << 12) + 3:
        monkeypatch.setattr(executor, "MIN_PARALLEL_CHECK", 1 << 10)
    info = np.finfo(dtype)
    a = np.random.default_rng(0).standard_normal(size).astype(dtype)
    a[:4] = [info.max, -info.max, info.tiny / 2, -0.0]  # the largest, a subnormal, a negative zero
    assert finite(a) and finite(a[::3]) and finite(a.reshape(1, -1)[:, :0])
    for bad in (np.nan, np.inf, -np.inf):
        for where in (0, size // 2, size - 1):
            b = a.copy()
            b[where] = bad
            assert not finite(b) and not finite(b.reshape(1, -1)), (bad, where)
