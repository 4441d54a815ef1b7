"""`cnndsl serve` itself: the extra's message, a port in use, a host other machines reach."""

import socket
import subprocess
import sys

import pytest

from cnndsl.errors import CnnError
from cnndsl.serve import run


def test_a_missing_extra_is_named_in_one_line(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_uvicorn(name, *args, **kwargs):
        if name == "uvicorn":
            raise ImportError("No module named 'uvicorn'", name="uvicorn")
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    with pytest.raises(CnnError, match=r"needs the serve extra \(uvicorn is missing\)") as e:
        run.need_server()
    assert e.value.hint == "pip install 'cnndsl[serve]'"


def test_a_port_in_use_is_a_clear_error():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        with pytest.raises(CnnError, match=f"cannot listen on 127.0.0.1:{port}") as e:
            run.bind("127.0.0.1", port)
        assert "--port" in e.value.hint
    finally:
        busy.close()


def test_only_loopback_is_quiet():
    assert run.loopback("127.0.0.1") and run.loopback("localhost")
    assert not run.loopback("0.0.0.0")


@pytest.mark.slow  # a server in a subprocess
def test_serving_beyond_this_machine_warns(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "cnndsl", "serve", "--host", "0.0.0.0", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert "cnndsl playground on http://0.0.0.0:" in first
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "warning: serving on 0.0.0.0" in err and "Traceback" not in err
    bad = subprocess.run([sys.executable, "-m", "cnndsl", "serve", "--port", "70000"], capture_output=True, text=True)
    assert bad.returncode != 0 and "port number" in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "cnndsl", "serve", str(tmp_path / "none.cnn"), "--port", "0"],
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 1 and "no file or shipped architecture" in missing.stderr
    assert "Traceback" not in missing.stderr
