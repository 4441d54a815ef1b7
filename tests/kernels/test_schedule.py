"""kernels/schedule.py's run_batched: every chunk runs once, results come back in order whoever ran them,
a worker that is slow to start is not waited for, errors reach the caller, and BLAS gets its threads back."""

import threading
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402
from cnndsl.kernels import schedule  # noqa: E402

from ..torch_oracle import rel_err, run  # noqa: E402


@pytest.fixture
def two_workers(monkeypatch):
    monkeypatch.setattr(schedule, "WORKERS", 2)
    schedule._pool.cache_clear()
    yield
    schedule._pool().shutdown(wait=True)
    schedule._pool.cache_clear()


def test_every_chunk_runs_once_and_results_keep_their_order(two_workers):
    ran, lock = [], threading.Lock()

    def fn(lo, hi):
        with lock:
            ran.append((lo, hi, threading.current_thread().name))
        time.sleep(0.01)  # long enough for the worker to take the second chunk
        return hi - lo, lo

    out = schedule.run_batched(fn, 9)
    assert out == [(4, 0), (5, 4)]
    assert sorted((lo, hi) for lo, hi, _ in ran) == [(0, 4), (4, 9)]
    assert len({name for *_, name in ran}) == 2  # the worker took a chunk


def test_a_busy_worker_is_not_waited_for(two_workers):
    release = threading.Event()
    schedule._pool().submit(release.wait)  # the only worker is busy for 2 s
    timer = threading.Timer(2.0, release.set)
    timer.start()
    threads = []

    def fn(lo, hi):
        threads.append(threading.current_thread())
        return lo

    start = time.perf_counter()
    assert schedule.run_batched(fn, 2) == [0, 1]
    elapsed = time.perf_counter() - start
    release.set()
    timer.cancel()
    assert threads == [threading.main_thread()] * 2 and elapsed < 1.0


def test_an_error_in_any_chunk_reaches_the_caller_and_blas_gets_its_threads_back(two_workers):
    from cnndsl.kernels.blas import _blas
    before = [lib.num_threads for lib in _blas()]

    def fn(lo, hi):
        time.sleep(0.01)
        if lo > 0:
            raise ValueError(f"chunk {lo}")
        return lo

    with pytest.raises(ValueError, match="chunk"):
        schedule.run_batched(fn, 4)
    assert [lib.num_threads for lib in _blas()] == before


def test_batch_norm_and_activations_shared_between_threads_match_torch(two_workers, monkeypatch):
    """The element-wise and per-channel kernels split as on large maps (MIN_ELEMENTS lowered)."""
    monkeypatch.setattr(schedule, "MIN_ELEMENTS", 1)
    net = cnndsl.parse("network T\ninput 6x9x9\nconv 8 3x3 pad=1; bn; relu\nmaxpool 2\nconv 4 1x1; bn; sigmoid\n"
                       "avgpool 2\nflatten\ndense 3", "threads.cnn").init(3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5,) + net.input_shape).astype(np.float32)
    start = {k: v.copy() for k, v in net.buffers.items()}
    y = net.forward(x, mode="train")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = net.backward(dy)
    for k, v in start.items():  # the oracle starts from the same running statistics
        net.engine.state[k.rsplit(".", 1)[0]][k.rsplit(".", 1)[1]][...] = v
    y_ref, dx_ref, grads_ref, _ = run(net, x.astype(np.float64), dy.astype(np.float64), "train")
    assert rel_err(y, y_ref) < 1e-5 and rel_err(dx, dx_ref) < 1e-4
    for key, ref in grads_ref.items():
        assert rel_err(net.grads[key], ref) < 1e-4, key


def test_a_convolution_shares_its_batch_only_when_its_work_pays_for_the_hand_over(monkeypatch):
    asked = []
    monkeypatch.setattr(schedule, "run_batched", lambda fn, n, worth_it=True: asked.append(worth_it) or [fn(0, n)])
    lenet_conv1_at_8 = (8, 8 * 28 * 28, 8 * 28 * 28 * 6 * 25)  # many positions, 0.9 million multiply-adds
    schedule.over_images(lambda lo, hi: None, *lenet_conv1_at_8)
    schedule.over_images(lambda lo, hi: None, 8, 8 * 28 * 28, schedule.MIN_MACS)
    schedule.over_images(lambda lo, hi: None, 8, 2 * schedule.MIN_COLUMNS_PER_CHUNK - 1, 10**9)  # narrow GEMMs
    assert asked == [False, True, False]

