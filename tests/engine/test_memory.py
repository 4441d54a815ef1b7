"""The memory estimate: hand arithmetic on small networks, refusals before any allocation, and the
estimate against the peak resident memory a real run reaches."""

import subprocess
import sys
import textwrap

import pytest

import cnndsl
from cnndsl.engine import memory


def test_inference_keeps_only_the_live_tensors():
    # 4×8×8 input → relu (256) → maxpool (64) → relu (64): at most input + relu1 alive (512 floats an image)
    net = cnndsl.parse("network T\ninput 4x8x8\nrelu\nmaxpool 2\nrelu")
    f = net.footprint(batch=10, mode="eval", backward=False, optimizer=None)
    assert f.activations == 10 * 4 * 512 and f.workspace == 0
    conv = cnndsl.parse("network T\ninput 1x8x8\nconv 4 3x3 pad=1").footprint(1, "eval", False, None)
    assert conv.weights == 4 * (4 * 9 + 4) and conv.gradients == 0 and conv.optimizer == 0
    assert conv.workspace == 9 * 64 * 4  # one image's columns: 9 taps × 64 positions, in float32


def test_a_training_step_keeps_what_backward_reads():
    net = cnndsl.parse("network T\ninput 1x8x8\nconv 4 3x3 pad=1\nrelu\nmaxpool 2")
    f = net.footprint(batch=1, mode="train", backward=True, optimizer="adam")
    # kept by forward: the input (conv reads it), relu's output (relu reads it), maxpool's indices and the
    # output: 64 + 256 + 64 + 64 = 448 floats. Walking back, with the gradients in flight:
    at_maxpool = 448 + 64 + 256         # + d(output) + d(relu output)
    at_relu = (448 - 128) + 256 + 256   # the output and indices are gone; + d(relu out) + d(conv out)
    at_conv = 64 + 256 + 64 + 2 * 9 * 64  # the input, d(conv out), d(input), the columns and their gradient
    assert f.activations + f.workspace == 4 * max(at_maxpool, at_relu, at_conv)
    assert f.gradients == f.weights and f.optimizer == 2 * f.weights


def test_a_batch_that_cannot_fit_is_refused_with_a_batch_that_does():
    net = cnndsl.load("resnet50")
    with pytest.raises(cnndsl.CnnError) as info:
        net.check_memory(100_000_000, "eval")
    assert "largest output is conv1's" in info.value.message and "use a batch of at most" in info.value.hint
    fits = int(info.value.hint.rsplit(" ", 1)[1])
    net.check_memory(fits, "eval")  # the batch it offers passes


def test_weights_that_cannot_fit_are_refused_before_they_are_made(monkeypatch):
    net = cnndsl.parse("network Big\ninput 64x224x224\nflatten\ndense 4096")
    monkeypatch.setattr(memory, "available_bytes", lambda: 8 << 30)
    with pytest.raises(cnndsl.CnnError, match="the weights alone need 52.61 GB") as info:
        net.init()
    assert "dense1" in info.value.message


def test_the_cli_refuses_before_allocating(tmp_path):
    run = subprocess.run([sys.executable, "-m", "cnndsl", "run", "resnet50", "--batch", "100000000"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "use a batch of at most" in run.stderr and "Traceback" not in run.stderr


MEASURE = textwrap.dedent("""
    import json, sys, numpy as np, cnndsl
    name, batch, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    net = cnndsl.load(name).init(0)
    x = np.random.default_rng(0).standard_normal((batch,) + net.input_shape).astype(np.float32)
    def step():
        if mode == "train":
            net.loss(x, np.zeros(batch, np.int64)); net.backward()
        else:
            net.forward(x, grad=False)
    step()  # compiles, and settles the allocator
    net.engine.release()
    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    open("/proc/self/clear_refs", "w").write("5")  # resets the peak resident size
    before = status("VmRSS")
    step()
    f = net.footprint(batch, "train" if mode == "train" else "eval", mode == "train", None)
    print(json.dumps({"rise": status("VmHWM") - before, "estimate": f.total - f.weights, "input": x.nbytes}))
""")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name, batch", [("lenet5", 256), ("alexnet", 16), ("vgg16", 2), ("googlenet", 8),
                                          ("resnet18", 8), ("resnet50", 4)])
def test_the_estimate_is_within_a_quarter_of_the_real_peak(name, batch, mode):
    import json
    env = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}  # freed blocks go back
    run = subprocess.run([sys.executable, "-c", MEASURE, name, str(batch), mode], capture_output=True, text=True,
                         timeout=600, env=__import__("os").environ | env)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    # the batch was made before the measurement began, but the estimate counts it while a layer reads it
    estimate, rise = result["estimate"], result["rise"]
    assert 0.75 <= estimate / rise and estimate / (rise + result["input"]) <= 1.25, result
