"""Every file cnndsl reads or writes for a user, in one place.

Outputs are checked before any work starts (`check_outputs`: no folder where a file should be, no
regular file where a folder should be, a writable folder, a known extension) and written atomically
(`write_atomic`: a temporary file beside the target, then a rename), so a command that fails leaves
every existing file as it was and never a half-written one. Inputs (`read_npy`, `read_npz`) turn every
way a file can be wrong — empty, truncated, another format, pickled objects, strings — into a
CnnError that names the file and says what was expected.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Iterable, Iterator

from .errors import CnnError

if TYPE_CHECKING:
    import numpy as np  # loaded by the functions that read or write arrays: `cnndsl check` needs none

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK"


# ---- outputs ---------------------------------------------------------------------------------------

def check_output(path: str | Path, what: str, suffixes: Iterable[str] | None = None) -> Path:
    """The path a command will write, checked now: raise CnnError if writing it must fail."""
    path = Path(path)
    if suffixes is not None:
        suffixes = tuple(suffixes)
        if path.suffix.lower() not in suffixes:
            raise CnnError(f"{what} {path}: the file name must end in {_either(suffixes)}")
    if path.is_dir():
        raise CnnError(f"{what} {path} is a folder; give a file name inside it")
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink():
            raise CnnError(f"{what} {path}: {parent} is a broken link")
        parent = parent.parent
    if not parent.is_dir():
        raise CnnError(f"{what} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CnnError(f"{what} {path}: the folder {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise CnnError(f"{what} {path} exists and is not writable")
    return path


def check_outputs(outputs: Iterable[tuple[str | Path | None, str, Iterable[str] | None]]) -> None:
    """Several outputs of one command: each valid, and no two the same file."""
    seen: dict[Path, str] = {}
    for path, what, suffixes in outputs:
        if path is None:
            continue
        resolved = check_output(path, what, suffixes).resolve()
        if resolved in seen:
            raise CnnError(f"{what} and {seen[resolved]} are the same file, {path}")
        seen[resolved] = what


@contextmanager
def write_atomic(path: str | Path, what: str = "output") -> Iterator[IO[bytes]]:
    """`with write_atomic(p) as f: f.write(...)`: p appears whole, or not at all (an existing p is kept)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise CnnError(f"cannot write {what} {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        # mkstemp makes the file private (0600); the output gets the mode a plain open() would give it,
        # or keeps the mode of the file it replaces
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise CnnError(f"cannot write {what} {path}: {e.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@cache
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | Path, data: bytes, what: str = "output") -> Path:
    with write_atomic(path, what) as f:
        f.write(data)
    return Path(path)


def write_text(path: str | Path, text: str, what: str = "output") -> Path:
    return write_bytes(path, text.encode(), what)


def write_json(path: str | Path, data, what: str = "output") -> Path:
    return write_text(path, json.dumps(data, indent=2) + "\n", what)


def write_npy(path: str | Path, array: np.ndarray, what: str = "output") -> Path:
    """The array under exactly this name (np.save would add `.npy` to a name without it)."""
    import numpy as np
    with write_atomic(path, what) as f:
        np.save(f, array, allow_pickle=False)
    return Path(path)


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], what: str = "output") -> Path:
    import numpy as np
    with write_atomic(path, what) as f:
        np.savez(f, **arrays)
    return Path(path)


def write_with(path: str | Path, writer: Callable[[IO[bytes]], None], what: str = "output") -> Path:
    """Any writer that takes an open binary file (matplotlib's savefig, say), atomically."""
    with write_atomic(path, what) as f:
        writer(f)
    return Path(path)


# ---- inputs ----------------------------------------------------------------------------------------

def _head(path: Path, what: str) -> bytes:
    try:
        if path.is_dir():
            raise CnnError(f"{what} {path} is a folder, not a file")
        with open(path, "rb") as f:
            return f.read(8)
    except FileNotFoundError:
        raise CnnError(f"no {what} file {path}") from None
    except OSError as e:
        raise CnnError(f"cannot read {what} {path}: {e.strerror}") from None


_FORMATS = {NPY_MAGIC: ("a single .npy array", "np.save('x.npy', array) writes one"),
            ZIP_MAGIC: ("an .npz archive of named arrays", "np.savez('w.npz', name=array, ...) writes one")}


def _sniff(path: Path, what: str, magic: bytes) -> None:
    """Refuse, by its first bytes, a file that is not of the format `magic` starts."""
    head = _head(path, what)
    if head.startswith(magic):
        return
    wanted, hint = _FORMATS[magic]
    other = next((name for m, (name, _) in _FORMATS.items() if head.startswith(m)), None)
    if other or not head:
        raise CnnError(f"{what} {path} is {other or 'empty'}; expected {wanted}", hint=hint)
    raise CnnError(f"{what} {path} is not {wanted}", hint=hint)


def read_npy(path: str | Path, what: str, kinds: str = "f") -> np.ndarray:
    """One NumPy array from a .npy file, of a dtype kind in `kinds` (f: float, i/u: integers)."""
    import numpy as np
    path = Path(path)
    _sniff(path, what, NPY_MAGIC)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise CnnError(f"{what} {path} is not a readable .npy array: {_reason(e)}") from None
    return _check_kind(array, f"{what} {path}", kinds)


def read_npz(path: str | Path, what: str, kinds: str = "fiu") -> dict[str, np.ndarray]:
    """Every array of an .npz archive, each of a dtype kind in `kinds`."""
    import numpy as np
    path = Path(path)
    _sniff(path, what, ZIP_MAGIC)
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                try:
                    arrays[key] = archive[key]
                    if not isinstance(arrays[key], np.ndarray):
                        raise ValueError("it is not a .npy member")
                except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, AttributeError) as e:
                    raise CnnError(f"{what} {path}: member '{key}' is not a readable array: {_reason(e)}") from None
    except CnnError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise CnnError(f"{what} {path} is not a readable .npz archive: {_reason(e)}") from None
    for key, array in arrays.items():
        _check_kind(array, f"{what} {path}: '{key}'", kinds)
    return arrays


_KINDS = {"f": "floating-point numbers", "i": "whole numbers", "u": "whole numbers", "b": "true/false values"}


def _check_kind(array: np.ndarray, what: str, kinds: str) -> np.ndarray:
    if array.dtype.kind not in kinds:
        wanted = " or ".join(dict.fromkeys(_KINDS[k] for k in kinds))
        raise CnnError(f"{what} holds {array.dtype} values; expected {wanted}")
    return array


def _reason(e: BaseException) -> str:
    """NumPy's reason, without its advice to unpickle (cnndsl never loads pickled objects)."""
    text = str(e) or type(e).__name__
    if "allow_pickle" in text or "pickle" in text.lower():
        return "it holds Python objects, not plain arrays"
    if isinstance(e, EOFError) or "No data left" in text:
        return "it is empty or truncated"
    return text.split("\n")[0][:200]


def _either(suffixes: tuple[str, ...]) -> str:
    return suffixes[0] if len(suffixes) == 1 else ", ".join(suffixes[:-1]) + " or " + suffixes[-1]
