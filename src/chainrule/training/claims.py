"""Claiming a run folder: one run at a time in a folder, and what a killed run left behind.

    claim = claim_run_dir("runs/houses")     # ValueError if another run holds it
    ...                                      # train, write checkpoints and metrics
    claim.release()

A run (new or resumed) claims its folder before it writes anything there and keeps the claim until
it ends. The claim is an exclusive lock (``flock``) on the file ``.run.lock`` in the folder, which
holds the owner's process id so that a refusal can name it. Taking it is one atomic step of the
operating system, so of two runs started together into one folder exactly one gets it; the other
stops with one sentence before it writes a byte. The operating system drops the lock when its
process ends in any way (kill -9 and the OOM killer included), so a killed run never leaves a folder
that cannot be resumed; a lock file left behind is simply taken over.

Once the claim is held, the temporary files that a killed writer left there
(``.checkpoint.crk.XXXXXXXXXXXX.tmp`` and the like, see ``chainrule.files.stale_temporaries``) are
removed: no writer of ours can still be at work in the folder.

Where ``fcntl`` does not exist (Windows), the claim is the lock file itself, created with O_EXCL;
a run killed outright leaves it, and the refusal then says to delete it.
"""

from __future__ import annotations

import errno
import os
import stat

from ..files import stale_temporaries

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows)
    fcntl = None

__all__ = ["LOCK", "RunClaim", "claim_run_dir", "run_dir_holder"]

LOCK = ".run.lock"


class RunClaim:
    """A held claim on a run folder; ``release()`` (or ``with``) gives it up."""

    def __init__(self, run_dir: str, fd: int, removed: list):
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, LOCK)
        self.removed = removed  # the stale temporary files removed when it was taken
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Remove the lock file and drop the lock (in that order, so a run that opens the file in
        between finds it gone and tries again). Calling it twice does nothing."""
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:  # gone already, or a folder that is not writable (then nothing to undo)
            pass
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False


def _busy(run_dir: str, pid) -> ValueError:
    who = f" (process {pid})" if pid else ""
    return ValueError(f"the run folder {run_dir!r} is in use by another chainrule run{who}; wait "
                      "for it to end, or use another folder.")


_OPEN_SAFELY = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)  # no link, no wait


def _read_pid(path: str):
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_SAFELY)
    except OSError:
        return None
    try:
        text = os.read(fd, 32).decode("ascii", "replace").strip() \
            if stat.S_ISREG(os.fstat(fd).st_mode) else ""
    except OSError:
        return None
    finally:
        os.close(fd)
    return int(text) if text.isdigit() else None


def _not_writable(run_dir: str, err: OSError) -> ValueError:
    return ValueError(f"the run folder {run_dir!r} is not writable ({err.strerror or err}); a run "
                      "saves its checkpoint and metrics there, so make it writable or copy the run "
                      "to a folder that is.")


def claim_run_dir(run_dir) -> RunClaim:
    """Claim the existing folder ``run_dir`` for this process, or raise ValueError naming the run
    that holds it (or saying the folder is not writable, which is checked here, before any
    training). Then remove the stale temporary files in it."""
    run_dir = os.fspath(run_dir)
    path = os.path.join(run_dir, LOCK)
    if fcntl is None:  # pragma: no cover  (Windows)
        fd = _claim_exclusive(run_dir, path)
    else:
        fd = _claim_flock(run_dir, path)
    try:
        if not os.access(run_dir, os.W_OK):  # (a lock file left behind opens even so)
            raise PermissionError(errno.EACCES, "permission denied", run_dir)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        removed = []
        for stale in stale_temporaries(run_dir):
            try:
                os.unlink(stale)
                removed.append(stale)
            except FileNotFoundError:
                pass
    except OSError as err:
        RunClaim(run_dir, fd, []).release()
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise _not_writable(run_dir, err) from None
        raise
    return RunClaim(run_dir, fd, removed)


def _open_lock(run_dir: str, path: str, flags: int) -> int:
    try:
        # a link planted as the lock file is never followed, a FIFO never waited on
        fd = os.open(path, flags | _OPEN_SAFELY, 0o666)
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise _not_writable(run_dir, err) from None
        if err.errno == errno.ELOOP:
            raise ValueError(f"{path} is a symbolic link; a run folder's lock must be a file of "
                             "its own.") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"{path} is not a regular file; a run folder's lock must be one (remove "
                         "it).")
    return fd


def _claim_flock(run_dir: str, path: str) -> int:
    for _ in range(100):
        fd = _open_lock(run_dir, path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise _busy(run_dir, _read_pid(path)) from None
            raise
        # The file locked must still be the one at the path: a run that ended in between removed
        # it (then locking the old file proves nothing, and the next try opens the new one).
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise RuntimeError(f"could not claim the run folder {run_dir!r}: its lock file kept changing.")


def _claim_exclusive(run_dir: str, path: str) -> int:  # pragma: no cover  (Windows)
    try:
        return _open_lock(run_dir, path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        pid = _read_pid(path)
        raise ValueError(f"the run folder {run_dir!r} is in use by another chainrule run (process "
                         f"{pid}); if no run is using it any more, delete {path}.") from None


def run_dir_holder(run_dir):
    """Whether a run holds ``run_dir`` now: its process id (or 0 when unknown), else None."""
    path = os.path.join(os.fspath(run_dir), LOCK)
    if not os.path.isfile(path):
        return None
    if fcntl is None:  # pragma: no cover  (Windows)
        return _read_pid(path) or 0
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_SAFELY)
    except OSError:
        return None
    try:
        # a shared lock is refused only while a run holds the exclusive one
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return _read_pid(path) or 0
    finally:
        os.close(fd)  # (drops the shared lock, if taken)
    return None
