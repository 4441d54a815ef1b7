"""`cnndsl run` and `cnndsl gradcheck` end to end: files in, files out, compared with PyTorch."""

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402

from ..torch_oracle import rel_err, run  # noqa: E402

UNSEEN = """network Unseen
input 3x20x20
block unit(ch) {
  residual { conv ch 3x3 pad=1 bias=false; bn; relu; conv ch 3x3 pad=1 bias=false; bn }
  relu
}
conv 8 3x3 stride=2 pad=1; bn; relu
unit(8)
x: maxpool 3x3 stride=2 pad=1 ceil=true
concat { branch { conv 4 1x1; relu } branch { avgpool 3 stride=1 pad=1 } }
conv 8 1x1
add @x @x
gap
flatten
dense 6
softmax
"""


def cnndsl_cli(*args, check=True):
    run_ = subprocess.run([sys.executable, "-m", "cnndsl", *map(str, args)], capture_output=True, text=True)
    if check:
        assert run_.returncode == 0, run_.stderr
    return run_


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_run_with_files_matches_torch(tmp_path, mode):
    net_file = tmp_path / "unseen.cnn"
    net_file.write_text(UNSEEN)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 20, 20)).astype(np.float32)
    dy = rng.standard_normal((4, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "dy.npy", dy)
    cnndsl_cli("run", net_file, "--save-weights", tmp_path / "w0.npz", "--seed", 3)
    result = cnndsl_cli("run", net_file, "--mode", mode, "--input", tmp_path / "x.npy", "--weights",
                        tmp_path / "w0.npz", "--grad-output", tmp_path / "dy.npy", "--save-grads",
                        tmp_path / "g.npz", "--output", tmp_path / "y.npy", "--json")
    timing = json.loads(result.stdout)
    assert timing["batch"] == 4 and timing["backward_s"] > 0 and timing["peak_bytes"] > 0
    net = cnndsl.load(net_file).load_weights(tmp_path / "w0.npz")
    y_ref, dx_ref, grads_ref, _ = run(net, x.astype(np.float64), dy.astype(np.float64), mode)
    assert rel_err(np.load(tmp_path / "y.npy"), y_ref) < 1e-4
    grads = np.load(tmp_path / "g.npz")
    assert set(grads.files) == set(grads_ref) | {"input"}
    assert rel_err(grads["input"], dx_ref) < 1e-4
    for key, ref in grads_ref.items():
        assert rel_err(grads[key], ref) < 1e-4, key


def test_weights_file_layout(tmp_path):
    net = cnndsl.parse(UNSEEN).init(seed=1)
    net.save_weights(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz", allow_pickle=False) as f:
        keys = list(f.files)
        assert f["conv1.weight"].shape == (8, 3, 3, 3) and f["dense1.weight"].shape == (6, 8)
        assert f["bn1.running_var"].shape == (8,) and f["conv1.weight"].dtype == np.float32
    assert keys[:6] == ["conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"]
    assert keys[-2:] == ["dense1.weight", "dense1.bias"]
    other = cnndsl.parse(UNSEEN).load_weights(tmp_path / "w.npz")
    for k, v in net.params.items():
        assert np.array_equal(other.params[k], v)


def test_weights_that_do_not_fit_list_missing_extra_and_misshaped(tmp_path):
    net = cnndsl.parse(UNSEEN).init()
    arrays = dict(net.params) | dict(net.buffers)
    del arrays["dense1.bias"]
    arrays["conv9.weight"] = np.zeros(3, np.float32)
    arrays["conv1.weight"] = np.zeros((8, 3, 5, 5), np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(cnndsl.CnnError) as info:
        net.load_weights(tmp_path / "bad.npz")
    text = str(info.value)
    assert "missing: dense1.bias" in text and "unexpected: conv9.weight" in text
    assert "conv1.weight: file (8, 3, 5, 5), network (8, 3, 3, 3)" in text


def test_pickled_or_corrupt_weights_are_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", a=np.array([{"x": 1}], dtype=object))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    net = cnndsl.parse(UNSEEN).init()
    for name in ("obj.npz", "junk.npz", "missing.npz"):
        with pytest.raises(cnndsl.CnnError):
            net.load_weights(tmp_path / name)


def test_bad_inputs_are_clear_errors():
    net = cnndsl.parse(UNSEEN).init()
    with pytest.raises(cnndsl.CnnError, match=r"shape 4×3×21×20, but the network takes N×3×20×20"):
        net.forward(np.zeros((4, 3, 21, 20), np.float32))
    with pytest.raises(cnndsl.CnnError, match="dtype int64"):
        net.forward(np.zeros((4, 3, 20, 20), np.int64))
    with pytest.raises(cnndsl.CnnError, match="the network has no weights yet"):
        cnndsl.parse(UNSEEN).forward(np.zeros((1, 3, 20, 20), np.float32))
    net.forward(np.zeros((2, 3, 20, 20), np.float32))
    with pytest.raises(cnndsl.CnnError, match="output gradient has shape"):
        net.backward(np.zeros((3, 6), np.float32))
    with pytest.raises(cnndsl.CnnError, match=r"labels must lie in 0…5"):
        net.loss(np.zeros((2, 3, 20, 20), np.float32), np.array([0, 6]))


def test_nan_names_the_layer_in_forward_and_backward():
    net = cnndsl.parse(UNSEEN).init()
    x = np.ones((2, 3, 20, 20), np.float32)
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(cnndsl.CnnError, match="the input contains NaN or Inf"):
        net.forward(x)
    net.engine.params["conv1"]["weight"][0, 0, 0, 0] = np.inf
    with pytest.raises(cnndsl.CnnError, match="NaN or Inf in the output of layer 'conv1'") as info:
        net.forward(np.ones((2, 3, 20, 20), np.float32))
    assert info.value.pos.line == 7  # the stem conv
    net.init()
    net.forward(np.ones((2, 3, 20, 20), np.float32))
    with pytest.raises(cnndsl.CnnError, match="during backward"):
        net.backward(np.full((2, 6), np.inf, np.float32))


def test_a_batch_that_does_not_fit_is_refused_with_the_estimate():
    net = cnndsl.load("vgg16").init()
    with pytest.raises(cnndsl.CnnError, match=r"(?s)at batch 100,000 needs about .* use a batch of at most"):
        # a broadcast view: 60 GB of input that takes no memory
        net.forward(np.broadcast_to(np.float32(0), (100000, 3, 224, 224)))


def test_cli_errors_and_gradcheck_exit_codes(tmp_path):
    bad = cnndsl_cli("run", "lenet5", "--input", tmp_path / "none.npy", check=False)
    assert bad.returncode == 1 and "no input file" in bad.stderr and "Traceback" not in bad.stderr
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 32, 32), np.float32))
    bad = cnndsl_cli("run", "lenet5", "--input", tmp_path / "x.npy", check=False)
    assert bad.returncode == 1 and "N×1×32×32" in bad.stderr
    ok = cnndsl_cli("gradcheck", "lenet5", "--samples", "3")
    assert "gradcheck passed" in ok.stdout
    fail = cnndsl_cli("gradcheck", "lenet5", "--samples", "2", "--tolerance", "0", check=False)
    assert fail.returncode == 1 and "FAILED" in fail.stdout


def test_backward_on_a_feature_map_uses_a_seeded_random_gradient_and_says_so(tmp_path):
    net = tmp_path / "pair.cnn"
    net.write_text("network VggPair\ninput 8x16x16\nconv 8 3x3 pad=1; relu\nconv 8 3x3 pad=1; relu\n")
    run = cnndsl_cli("run", net, "--backward", "--save-grads", tmp_path / "g.npz")
    assert "8×16×16 feature map: back-propagated a random output gradient (standard normal, seed 0)" in run.stderr
    again = cnndsl_cli("run", net, "--backward", "--save-grads", tmp_path / "h.npz")
    g, h = np.load(tmp_path / "g.npz"), np.load(tmp_path / "h.npz")
    assert np.array_equal(g["conv1.weight"], h["conv1.weight"]) and np.abs(g["input"]).sum() > 0
