"""atomic_write: all or nothing, never a stray temporary file."""

import os

import pytest

from chainrule.files import atomic_write


def test_writes_text_and_bytes(tmp_path):
    with atomic_write(tmp_path / "a.txt", "w") as f:
        f.write("héllo\n")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    with atomic_write(tmp_path / "b.bin", "wb") as f:
        f.write(b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_an_error_midway_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="midway"):
        with atomic_write(path, "w") as f:
            f.write("half of the new")
            raise RuntimeError("midway")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_a_folder_or_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"--out: .* is a folder; give a file name"):
        with atomic_write(tmp_path, "w", what="--out"):
            pass
    with pytest.raises(FileNotFoundError, match="the folder .*nowhere.* does not exist"):
        with atomic_write(tmp_path / "nowhere" / "x.csv", "w"):
            pass
    assert os.listdir(tmp_path) == []
