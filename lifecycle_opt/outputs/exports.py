"""Writing outputs: atomically (temporary file in the same folder, then rename), never
over an existing file unless asked, never over anything but a regular file, and every
failure of the machine (a full disk, a read-only mount, a folder we may not write) as
one ExportError naming the file and the cause.

Without ``force`` the finished file is put in place with a hard link, which fails when
the name exists: a second run that raced the first past the early check refuses instead
of replacing the first run's output. A folder of files (``--csv-tables``) is written as a
temporary folder renamed into place.
"""
from __future__ import annotations

__all__ = ["write_text_atomic", "write_bytes_atomic", "write_chunks_atomic", "write_stream_atomic",
           "check_writable",
           "write_folder_atomic", "distinct_outputs", "write_files_atomic"]

import errno
import os
import select
import shutil
import stat
import tempfile
import warnings
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from ..errors import ExportError


def _cause(exc: OSError) -> str:
    """The machine's reason in words: "no space left on device", "read-only file system"."""
    return (exc.strerror or str(exc)).lower()


def check_writable(path: str | Path, *, force: bool = False) -> Path:
    """Fail early, before any work, when ``path`` cannot be written: it exists (without
    ``force``), is not a regular file (a directory, a device, a FIFO, a symbolic link —
    even with ``force``), or its folder is missing or not writable."""
    if "\x00" in str(path):
        raise ExportError(f"{str(path)!r}: a file name cannot hold a NUL byte")
    path = Path(path)
    if path.is_symlink():
        raise ExportError(f"{path}: is a symbolic link; give the file it points to, or another name")
    if path.is_dir():
        raise ExportError(f"{path}: is a directory; give a file name")
    if path.exists():
        if not stat.S_ISREG(path.stat().st_mode):
            raise ExportError(f"{path}: is not a regular file (a device, a FIFO or a socket); "
                              f"give a file name, or - for standard output")
        if not force:
            raise ExportError(f"{path}: exists; pass --force to overwrite it")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        # (os.access also says no on a read-only mount, for root too)
        raise ExportError(f"{path}: folder {folder} is not writable")
    return path


def distinct_outputs(*paths) -> None:
    """ExportError when two of the given outputs (None ignored) name the same file."""
    seen: dict[str, str] = {}
    for p in paths:
        if p is None or str(p) == "-":
            continue
        key = os.path.realpath(p)
        if key in seen:
            raise ExportError(f"{p}: given for two outputs ({seen[key]} and {p}); give each its own file")
        seen[key] = str(p)


def write_bytes_atomic(path: str | Path, data: bytes, *, force: bool = False) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    Raises ExportError when the file exists and ``force`` is false, the target is not a
    regular file, the folder is missing, or the machine refuses (full disk, read-only)."""
    return write_chunks_atomic(path, (data,), force=force)


def _place(tmp: str, path: Path, force: bool) -> None:
    """Put the finished temporary file at ``path``: replacing a regular file with ``force``,
    else only where the name is still free (a hard link fails on an existing name)."""
    if force:
        check_writable(path, force=True)          # not turned into a device or a link meanwhile
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ExportError(f"{path}: appeared while this run was writing it (another run?); "
                          f"pass --force to overwrite it") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
            raise
        # a file system without hard links: the name is checked once more, then replaced
        if os.path.lexists(path):
            raise ExportError(f"{path}: appeared while this run was writing it (another run?); "
                              f"pass --force to overwrite it") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def write_chunks_atomic(path: str | Path, chunks: Iterable[bytes | str], *, force: bool = False) -> Path:
    """Stream ``chunks`` (bytes, or text written as UTF-8) to ``path`` atomically: memory
    holds one chunk at a time, and a failure (or a kill) leaves the old file; see
    :func:`write_stream_atomic`."""
    def write(fh):
        for chunk in chunks:
            fh.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
    return write_stream_atomic(path, write, force=force)


def write_stream_atomic(path: str | Path, write: Callable[[BinaryIO], None], *, force: bool = False) -> Path:
    """Call ``write(fh)`` on a hidden temporary file beside ``path`` that becomes ``path``
    only once ``write`` has returned: readers see the old file or the whole new one.

    The temporary file is removed on any failure or caught signal, and by a small
    guardian process (:func:`_guard`) when this one dies without finishing (SIGKILL, the
    out-of-memory killer). ExportError when the target cannot be written or the machine
    refuses (a full disk, a read-only mount)."""
    path = check_writable(path, force=force)
    folder = path.parent if str(path.parent) else Path(".")
    tmp = guard = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        guard = _guard(tmp)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the permissions a new file gets
        os.chmod(tmp, 0o666 & ~_umask())
        _place(tmp, path, force)
        tmp = None
    except OSError as exc:
        _remove(tmp)
        raise ExportError(f"{path}: could not be written: {_cause(exc)}") from None
    except BaseException:
        _remove(tmp)
        raise
    finally:
        _release(guard, finished=tmp is None)
    return path


def _guard(tmp: str) -> tuple[int, int] | None:
    """A child process, in a session of its own (a kill of this process group does not
    reach it), that removes ``tmp`` unless told the write finished. It is told "done" or
    "fail" through a pipe; when this process dies first, without a word (SIGKILL, the
    out-of-memory killer), it sees the pipe close or itself handed to another parent
    (processes this one forked since, such as a sweep's workers, may hold the pipe open).
    (pid, write end), or None where processes cannot fork."""
    if not hasattr(os, "fork"):
        return None
    read_end, write_end = os.pipe()
    parent = os.getpid()
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns of fork in a threaded process; the guardian runs no Python
            # code that could meet a lock another thread held, only system calls
            warnings.filterwarnings("ignore", message=".*multi-threaded.*fork", category=DeprecationWarning)
            pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:                                # the guardian: system calls only, then exit
        try:
            os.setsid()
            os.close(write_end)
            said = b""
            while len(said) < 4:
                ready, _, _ = select.select([read_end], [], [], 0.2)
                if not ready:
                    if os.getppid() != parent:
                        break
                    continue
                part = os.read(read_end, 4 - len(said))
                if not part:
                    break
                said += part
            if said != b"done":
                _remove(tmp)
        finally:
            os._exit(0)
    os.close(read_end)
    return pid, write_end


def _release(guard: tuple[int, int] | None, *, finished: bool) -> None:
    """Tell the guardian whether the write finished (it then leaves the file, else removes
    what is left of it), and reap it."""
    if guard is None:
        return
    pid, write_end = guard
    try:
        os.write(write_end, b"done" if finished else b"fail")
    except OSError:
        pass
    finally:
        os.close(write_end)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _remove(tmp: str | None) -> None:
    """Remove the temporary file ``tmp``, or the temporary folder of files (system calls
    only: the guardian runs it in a forked process)."""
    if tmp is None:
        return
    try:
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            for name in os.listdir(tmp):
                os.unlink(os.path.join(tmp, name))
            os.rmdir(tmp)
        else:
            os.unlink(tmp)
    except OSError:
        pass


def write_text_atomic(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`write_bytes_atomic`."""
    return write_bytes_atomic(path, text.encode("utf-8"), force=force)


def write_folder_atomic(folder: str | Path, files: dict[str, str], *, force: bool = False) -> list[Path]:
    """Write ``files`` ({name: text}) as the folder ``folder`` all at once: into a temporary
    folder beside it, renamed into place, so a failure leaves no folder or the old one.

    An existing folder is replaced only with ``force`` and only when it holds nothing but
    regular files of the names being written (it is then the output of an earlier run)."""
    folder = Path(folder)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ExportError(f"{folder}: is not a folder; give a folder for the tables")
    parent = folder.parent if str(folder.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"{folder}: folder {parent} does not exist")
    if folder.exists():
        found = list(folder.iterdir())
        if found and not force:
            raise ExportError(f"{folder}: exists and is not empty; pass --force to overwrite it")
        strangers = [p.name for p in found if p.name not in files or not p.is_file() or p.is_symlink()]
        if strangers:
            raise ExportError(f"{folder}: holds {strangers[0]!r}, which this run does not write; give "
                              f"an empty or new folder")
    tmp = guard = None
    try:
        tmp = tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=parent)
        guard = _guard(tmp)
        for name, text in files.items():
            Path(tmp, name).write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o777 & ~_umask())
        # Ctrl-C and SIGTERM held off for the renames: between them the old folder would
        # be out of its place and the new one not yet in it
        with _signals_held():
            if folder.exists():
                old = tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=parent)
                os.rename(folder, Path(old, "tables"))
                os.rename(tmp, folder)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, folder)
            tmp = None
    except OSError as exc:
        raise ExportError(f"{folder}: could not be written: {_cause(exc)}") from None
    finally:
        # any failure or interrupt (Ctrl-C, SIGTERM) leaves no temporary folder behind
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        _release(guard, finished=tmp is None)
    return [folder / name for name in files]


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_files_atomic(files: list[tuple[str | Path, bytes]], *, force: bool = False) -> list[Path]:
    """Write several files as one output (a fit's law, its samples and its figure): each
    to a temporary file beside it first; only when every one is written are they put in
    place, with Ctrl-C and SIGTERM held off for those few renames (and acted on after).
    A failure or an interrupt before then leaves none of them and the old files intact;
    the guardians (:func:`_guard`) remove the temporary files even after a SIGKILL."""
    paths = [check_writable(path, force=force) for path, _ in files]
    temps: list[str | None] = []
    guards = []
    try:
        for path, (_, data) in zip(paths, files):
            folder = path.parent if str(path.parent) else Path(".")
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
            temps.append(tmp)
            guards.append(_guard(tmp))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
        with _signals_held():
            for i, path in enumerate(paths):
                _place(temps[i], path, force)
                temps[i] = None
    except OSError as exc:
        where = next((p for p, t in zip(paths, temps) if t is not None), paths[-1])
        raise ExportError(f"{where}: could not be written: {_cause(exc)}") from None
    finally:
        for tmp in temps:
            _remove(tmp)
        for guard, tmp in zip(guards, temps):
            _release(guard, finished=tmp is None)
    return paths


class _signals_held:
    """Ctrl-C and SIGTERM held (blocked) inside the block, delivered when it ends."""

    def __enter__(self):
        import signal
        self.mask = None
        if hasattr(signal, "pthread_sigmask"):
            self.mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        return self

    def __exit__(self, *exc):
        import signal
        if self.mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)
        return False
