"""Fuzzing chainrule.load: whatever the bytes, it returns data or raises CheckpointError.

Never another exception (no IndexError, KeyError, struct.error, MemoryError, RecursionError...),
never a hang and never a huge allocation: every size in the file is checked against the file's size
before it is used. Four kinds of input: random bytes; random bytes behind a valid preamble; a valid
checkpoint mutated at the byte level (overwrite, insert, delete, truncate); and a valid checkpoint
whose header is mutated (as text, or as JSON) with lengths and checksum fixed up, so the mutations
get past the checksum and reach the header's validation.
"""

import json
import math
import struct
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.serialization import FORMAT_VERSION, MAGIC, CheckpointError

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _valid_checkpoint() -> bytes:
    import os
    import tempfile

    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "seed.crk")
    cr.save({
        "model": {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.zeros(3, np.int64)},
        "optimizer": {"state": {0: {"momentum_buffer": np.ones((2,), np.float16)}},
                      "param_groups": [{"lr": 0.1, "params": [0, 1], "nesterov": False}]},
        "epoch": 3, "loss": math.nan, "name": "run ✓", "none": None,
        "scalar": np.float64(2.5), "flags": np.array([True, False]), "empty": np.zeros((0, 2)),
    }, path)
    with open(path, "rb") as f:
        raw = f.read()
    os.remove(path)
    os.rmdir(folder)
    return raw


VALID = _valid_checkpoint()
_, _, HEADER_NBYTES, _ = struct.unpack_from("<14sHQI", VALID)
HEADER = VALID[28:28 + HEADER_NBYTES]
DATA = VALID[28 + HEADER_NBYTES:]


def load_or_checkpoint_error(tmp_path, raw: bytes):
    path = tmp_path / "fuzz.crk"
    path.write_bytes(raw)
    try:
        return cr.load(path)
    except CheckpointError as err:
        assert "fuzz.crk" in str(err)  # the message names the file
        return err


def with_header(header_bytes: bytes, data: bytes = DATA, version: int = FORMAT_VERSION) -> bytes:
    """A file whose preamble is correct for ``header_bytes`` (length and CRC-32)."""
    preamble = struct.pack("<14sHQI", MAGIC, version, len(header_bytes), zlib.crc32(header_bytes))
    return preamble + header_bytes + data


def test_the_seed_checkpoint_loads(tmp_path):
    loaded = load_or_checkpoint_error(tmp_path, VALID)
    assert not isinstance(loaded, Exception)
    np.testing.assert_array_equal(loaded["model"]["w"], np.arange(12).reshape(3, 4))


@FUZZ
@given(raw=st.binary(max_size=512))
def test_random_bytes(tmp_path, raw):
    load_or_checkpoint_error(tmp_path, raw)


@FUZZ
@given(rest=st.binary(max_size=256), version=st.integers(0, 3))
def test_random_bytes_after_the_magic(tmp_path, rest, version):
    load_or_checkpoint_error(tmp_path, MAGIC + struct.pack("<H", version) + rest)


@st.composite
def byte_mutations(draw):
    raw = bytearray(VALID)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["overwrite", "insert", "delete", "truncate", "flip"]))
        at = draw(st.integers(0, max(len(raw) - 1, 0)))
        if kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            raw[at:at + len(chunk)] = chunk
        elif kind == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del raw[at:at + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del raw[at:]
        elif raw:
            raw[at] ^= 1 << draw(st.integers(0, 7))
    return bytes(raw)


@FUZZ
@given(raw=byte_mutations())
def test_mutated_checkpoint_bytes(tmp_path, raw):
    result = load_or_checkpoint_error(tmp_path, raw)
    if raw != VALID and not isinstance(result, CheckpointError):
        # Only a mutation that leaves a valid file can load (e.g. a change to padding spaces).
        assert isinstance(result, dict)


@st.composite
def header_text_mutations(draw):
    text = bytearray(HEADER)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text) - 1))
        kind = draw(st.sampled_from(["overwrite", "delete", "insert"]))
        chunk = draw(st.sampled_from([b"0", b"-1", b"9" * 30, b"[", b"]", b"{", b"}", b",", b'"',
                                      b"null", b"true", b"1e999", b"NaN", b"\\u0000", b"\xff"])
                     | st.binary(min_size=1, max_size=4))
        if kind == "overwrite":
            text[at:at + len(chunk)] = chunk
        elif kind == "insert":
            text[at:at] = chunk
        else:
            del text[at:at + len(chunk)]
    return bytes(text)


@FUZZ
@given(header=header_text_mutations())
def test_mutated_header_text_with_a_correct_checksum(tmp_path, header):
    load_or_checkpoint_error(tmp_path, with_header(header))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=8) | st.sampled_from(["array", "dict", "list", "tuple", "float", "int",
                                              "str", "bool", "none", "float32", "nan", "inf"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["type", "value", "items", "dtype", "shape", "offset",
                                       "nbytes", "crc32", "scalar"]) | st.text(max_size=4),
                      children, max_size=6),
    max_leaves=8,
)


def _paths(node, path=()):
    """Every (path, value) inside a JSON value, so one of them can be replaced."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, path + (i,))


def _replace(node, path, new):
    if not path:
        return new
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replace(node[path[0]], path[1:], new)
    return copy


HEADER_JSON = json.loads(HEADER)
HEADER_PATHS = [path for path, _ in _paths(HEADER_JSON)]


@FUZZ
@given(replacements=st.lists(st.tuples(st.sampled_from(HEADER_PATHS), json_values),
                             min_size=1, max_size=3))
def test_header_json_with_fields_replaced(tmp_path, replacements):
    header = HEADER_JSON
    for path, new in replacements:
        try:
            header = _replace(header, path, new)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    text = json.dumps(header).encode("ascii")
    result = load_or_checkpoint_error(tmp_path, with_header(text))
    assert isinstance(result, (CheckpointError, dict, list, tuple, int, float, str, np.ndarray,
                               np.generic, type(None)))


@FUZZ
@given(root=json_values, data=st.binary(max_size=64), data_nbytes=st.integers(-1, 128))
def test_random_json_headers(tmp_path, root, data, data_nbytes):
    header = {"format": "chainrule", "data_nbytes": data_nbytes, "root": root}
    load_or_checkpoint_error(tmp_path, with_header(json.dumps(header).encode("ascii"), data))
