"""Output shapes and parameter shapes agree with PyTorch's modules on random configurations."""

import random

import pytest

torch = pytest.importorskip("torch")

from ..conftest import net_of  # noqa: E402

CASES = random.Random(0)


def conv_cases(n=40):
    rng = random.Random(1)
    for _ in range(n):
        groups = rng.choice([1, 1, 2, 3])
        cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
        kh, kw = rng.randint(1, 5), rng.randint(1, 5)
        yield dict(cin=cin, cout=cout, k=(kh, kw), s=(rng.randint(1, 3), rng.randint(1, 3)),
                   p=(rng.randint(0, 2), rng.randint(0, 2)), d=(rng.randint(1, 2), rng.randint(1, 2)),
                   g=groups, h=rng.randint(9, 17), w=rng.randint(9, 17), bias=rng.random() < 0.5)


@pytest.mark.parametrize("c", list(conv_cases()))
def test_conv_matches_torch(c):
    stmt = (f"conv {c['cout']} {c['k'][0]}x{c['k'][1]} stride={c['s'][0]}x{c['s'][1]} pad={c['p'][0]}x{c['p'][1]} "
            f"dilation={c['d'][0]}x{c['d'][1]} groups={c['g']} bias={'true' if c['bias'] else 'false'}")
    net = net_of(stmt, f"{c['cin']}x{c['h']}x{c['w']}")
    m = torch.nn.Conv2d(c["cin"], c["cout"], c["k"], c["s"], c["p"], c["d"], c["g"], bias=c["bias"])
    y = m(torch.zeros(1, c["cin"], c["h"], c["w"]))
    data = net.graph.nodes["conv1"]["node"]
    assert data.shape == tuple(y.shape[1:])
    assert data.n_params == sum(p.numel() for p in m.parameters())
    assert data.params["weight"] == tuple(m.weight.shape)


def pool_cases(n=60):
    rng = random.Random(2)
    for _ in range(n):
        k = rng.randint(1, 5)
        yield dict(k=k, s=rng.randint(1, 4), p=rng.randint(0, k // 2), ceil=rng.random() < 0.5,
                   h=rng.randint(k, 16), op=rng.choice(["maxpool", "avgpool"]))


@pytest.mark.parametrize("c", list(pool_cases()))
def test_pool_matches_torch(c):
    stmt = f"{c['op']} {c['k']} stride={c['s']} pad={c['p']} ceil={'true' if c['ceil'] else 'false'}"
    net = net_of(stmt, f"2x{c['h']}x{c['h'] + 1}")
    cls = torch.nn.MaxPool2d if c["op"] == "maxpool" else torch.nn.AvgPool2d
    y = cls(c["k"], c["s"], c["p"], ceil_mode=c["ceil"])(torch.zeros(1, 2, c["h"], c["h"] + 1))
    assert net.graph.nodes[f"{c['op']}1"]["node"].shape == tuple(y.shape[1:])
