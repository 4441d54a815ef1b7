"""The executor's bookkeeping across calls."""

import numpy as np

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
