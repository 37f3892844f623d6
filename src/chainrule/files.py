"""Writing files so that nothing is ever half-written: ``atomic_write``.

Every file chainrule writes (checkpoints, metrics, predictions, pictures, reports) goes through it:
the data goes into a temporary file beside the target (same folder, so the final rename stays on
one filesystem), which is flushed and fsynced, then ``os.replace``d over the target, and the folder
is fsynced. A crash, an error or Ctrl-C at any moment leaves either the old file or the new one,
never a mixture, and never a stray temporary file.
"""

from __future__ import annotations

import os
import uuid

__all__ = ["atomic_write"]


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
        if os.path.isdir(self.path):
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
        except BaseException:
            self._discard()
            raise
        self._discard()
        return False

    def _discard(self):
        try:
            self.file.close()
        finally:
            try:
                os.unlink(self.temp_path)
            except FileNotFoundError:
                pass


def _fsync_folder(folder: str) -> None:
    """Make a rename inside ``folder`` durable (not possible, and not needed, on Windows)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
