"""SGD (momentum, weight decay) and Adam follow torch.optim step for step."""

import numpy as np
import pytest

from cnndsl.training.optim import Adam, SGD, step_lr

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("make, make_torch", [
    (lambda: SGD(0.1, momentum=0.9, weight_decay=1e-2),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2)),
    (lambda: SGD(0.05, momentum=0.0), lambda p: torch.optim.SGD(p, lr=0.05)),
    (lambda: Adam(1e-2, weight_decay=1e-3), lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-3)),
])
def test_optimizer_matches_torch(make, make_torch):
    rng = np.random.default_rng(0)
    params = {"a.weight": rng.standard_normal((3, 4)).astype(np.float32), "a.bias": rng.standard_normal(3).astype(np.float32)}
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt, topt = make(), make_torch(list(tparams.values()))
    for _ in range(5):
        grads = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in params.items()}
        opt.step(params, grads)
        for k, t in tparams.items():
            t.grad = torch.tensor(grads[k])
        topt.step()
    for k in params:
        assert np.allclose(params[k], tparams[k].detach().numpy(), atol=1e-6)


def test_step_schedule():
    assert [step_lr(1.0, e, 3) for e in range(7)] == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01])
    assert step_lr(0.5, 10, None) == 0.5
