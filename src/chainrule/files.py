"""Writing files so that nothing is ever half-written: ``atomic_write``.

Every file chainrule writes (checkpoints, metrics, predictions, pictures, reports) goes through it:
the data goes into a temporary file beside the target (same folder, so the final rename stays on
one filesystem), which is flushed and fsynced, then ``os.replace``d over the target, and the folder
is fsynced. A crash, an error or Ctrl-C at any moment leaves either the old file or the new one,
never a mixture. An error or Ctrl-C removes the temporary file; a process killed outright (kill -9,
the OOM killer, a power cut) while writing cannot, and leaves ``.NAME.XXXXXXXXXXXX.tmp`` (12 hex
digits) beside the target. ``stale_temporaries(folder)`` finds those by their name, so that the
next writer that owns the folder can remove them (a run folder does, when a run or resume claims
it: ``chainrule.training.claims``).

An OS error while writing (a full disk, a quota, an I/O error) names the file being written.

A symbolic link at the target is replaced by the new file (``os.replace`` renames over the link
itself), never followed: a write never lands in the file a link points to.

Every file chainrule reads from a path it did not make itself (a checkpoint, a CSV named in a saved
config, a PyTorch file, a config to copy) is opened with ``open_regular``: a path (never an integer
file descriptor) to a regular file. A FIFO, a device such as /dev/zero, a socket or a folder is
refused by ``os.stat`` before anything opens it, so nothing waits on a pipe or reads forever.
"""

from __future__ import annotations

import os
import re
import stat
import uuid

__all__ = ["atomic_write", "stale_temporaries", "TEMPORARY_NAME", "open_regular", "check_regular"]

# The name of atomic_write's temporary file for a target NAME: .NAME.<12 hex digits>.tmp
TEMPORARY_NAME = re.compile(r"\.(?P<target>.+)\.[0-9a-f]{12}\.tmp")


def check_regular(path, what: str = "file") -> str:
    """``path`` as a str if it names an existing regular file (links followed); else an error
    naming it: TypeError for a non-path (an int would be taken as a file descriptor),
    FileNotFoundError, IsADirectoryError for a folder, ValueError for a FIFO, device or socket."""
    if isinstance(path, bool) or not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{what} must be a path (a str). Got {type(path).__name__} {path!r} "
                        "instead.")
    path = os.fsdecode(path)
    try:
        info = os.stat(path)
    except ValueError:  # an embedded NUL byte
        raise ValueError(f"{what} {path!r} is not a valid path (it holds a NUL byte).") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file.") from None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"{what} {path} is a folder, not a file.")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{what} {path} is {_kind(info.st_mode)}, not a regular file; chainrule "
                         "reads only regular files.")
    return path


def open_regular(path, mode: str = "rb", what: str = "file", **kwargs):
    """``open(path, mode)`` for reading a regular file, refusing anything else (see
    ``check_regular``) before opening it. The file is opened non-blocking and checked again once
    open, so a FIFO swapped in after the check is refused too, never waited on."""
    if mode not in ("r", "rb"):
        raise ValueError(f"open_regular: mode must be 'r' or 'rb'. Got {mode!r} instead.")
    path = check_regular(path, what)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{what} {path} is {_kind(info.st_mode)}, not a regular file; "
                             "chainrule reads only regular files.")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


class atomic_write:
    """Context manager: ``with atomic_write(path, "w") as f: f.write(...)``.

    ``mode`` is "w" (text, UTF-8 by default) or "wb". ``what`` names the writer in errors (a
    missing folder, or a path that is a folder).
    """

    def __init__(self, path, mode: str = "wb", encoding: str | None = None, newline=None,
                 what: str = "write"):
        if mode not in ("w", "wb"):
            raise ValueError(f"atomic_write: mode must be 'w' or 'wb'. Got {mode!r} instead.")
        self.path = os.fspath(path)
        self.mode, self.newline, self.what = mode, newline, what
        self.encoding = encoding if encoding is not None or mode == "wb" else "utf-8"
        self.folder, name = os.path.split(os.path.abspath(self.path))
        self.temp_path = os.path.join(self.folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
        self.file = None

    def __enter__(self):
        if not os.path.isdir(self.folder):
            raise FileNotFoundError(f"{self.what}: the folder {self.folder} for {self.path} does not "
                                    "exist.")
        if os.path.isdir(self.path) and not os.path.islink(self.path):  # (a link is replaced)
            raise IsADirectoryError(f"{self.what}: {self.path} is a folder; give a file name.")
        # O_EXCL: never follow or reuse an existing file; mode 0o666 lets the umask apply as usual.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(self.temp_path, flags, 0o666)
        self.file = os.fdopen(fd, self.mode, encoding=self.encoding, newline=self.newline)
        return self.file

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.file.flush()
                os.fsync(self.file.fileno())
                self.file.close()
                os.replace(self.temp_path, self.path)
                _fsync_folder(self.folder)
                return False
        except OSError as err:
            self._discard()
            raise self._named(err) from None
        except BaseException:
            self._discard()
            raise
        self._discard()
        if exc_type is not None and issubclass(exc_type, OSError):
            named = self._named(exc)
            if named is not exc:
                raise named from None
        return False

    def _named(self, err: OSError) -> OSError:
        """``err`` with the target's path as its filename when it has none (a write or fsync
        that fails on a full disk says only "No space left on device")."""
        if err.filename is not None or not err.errno:
            return err
        return type(err)(err.errno, err.strerror, self.path)

    def _discard(self):
        try:
            self.file.close()
        finally:
            try:
                os.unlink(self.temp_path)
            except FileNotFoundError:
                pass


def stale_temporaries(folder) -> list:
    """The paths of the temporary files atomic_write left in ``folder`` when its process was
    killed while writing (named ``.NAME.XXXXXXXXXXXX.tmp``; regular files only, links never).

    Only the caller knows that no writer of its own is still at work in the folder; a run folder
    removes these once its run holds the folder's claim.
    """
    folder = os.fspath(folder)
    found = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if TEMPORARY_NAME.fullmatch(name) and os.path.isfile(path) and not os.path.islink(path):
            found.append(path)
    return found


def _fsync_folder(folder: str) -> None:
    """Make a rename inside ``folder`` durable (not possible, and not needed, on Windows)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
