"""chainrule.save / chainrule.load: round trips, pickle refusal, errors and atomic writes."""

import json
import math
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np
import pytest

import chainrule as cr
from chainrule import serialization
from chainrule.serialization import DTYPES, FORMAT_VERSION, MAGIC, CheckpointError

ALL_DTYPES = list(DTYPES)


def assert_same(loaded, original):
    """Deep equality that also checks types, dtypes, shapes, key types, key order and nan/-0.0."""
    if isinstance(original, cr.Tensor):
        original = original.numpy()
    if isinstance(original, np.ndarray):
        assert type(loaded) is np.ndarray
        assert loaded.dtype == original.dtype.newbyteorder("=")
        assert loaded.shape == original.shape
        np.testing.assert_array_equal(loaded, original)
        return
    if isinstance(original, np.generic):
        assert type(loaded) is type(original)
        assert loaded == original or (np.isnan(loaded) and np.isnan(original))
        return
    if isinstance(original, dict):
        assert type(loaded) is dict
        assert list(loaded) == list(original)
        assert [type(k) for k in loaded] == [type(k) for k in original]
        for key in original:
            assert_same(loaded[key], original[key])
        return
    if isinstance(original, (list, tuple)):
        assert type(loaded) is (tuple if isinstance(original, tuple) else list)
        assert len(loaded) == len(original)
        for a, b in zip(loaded, original):
            assert_same(a, b)
        return
    assert type(loaded) is type(original)
    if isinstance(original, float) and math.isnan(original):
        assert math.isnan(loaded)
    elif isinstance(original, float):
        assert loaded == original and math.copysign(1, loaded) == math.copysign(1, original)
    else:
        assert loaded == original


def round_trip(obj, tmp_path, name="ckpt.crk"):
    path = tmp_path / name
    cr.save(obj, path)
    return cr.load(path)


def sample_array(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        values = rng.random(shape) > 0.5
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    else:
        values = rng.standard_normal(shape) * 100
    return np.asarray(values, dtype=dtype)


# ----- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (5,), (2, 3, 4)])
def test_round_trip_every_dtype_and_shape(tmp_path, dtype, shape):
    array = sample_array(dtype, shape)
    loaded = round_trip({"a": array}, tmp_path)
    assert_same(loaded, {"a": array})
    assert loaded["a"].flags.c_contiguous and loaded["a"].flags.writeable


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_integer_and_float_extremes_round_trip(tmp_path, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = np.array([info.min, info.max, 0, 1], dtype=dtype)
    elif dtype.kind == "f":
        info = np.finfo(dtype)
        values = np.array([np.nan, np.inf, -np.inf, -0.0, info.max, info.tiny, info.eps], dtype)
    else:
        values = np.array([True, False])
    loaded = round_trip(values, tmp_path)
    np.testing.assert_array_equal(loaded, values)
    assert np.array_equal(np.signbit(loaded), np.signbit(values))


def test_non_contiguous_and_big_endian_arrays(tmp_path):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    transposed = base.T
    strided = base[::2, ::3]
    big_endian = np.arange(6, dtype=">i4").reshape(2, 3)
    big_float = np.linspace(-1, 1, 5).astype(">f8")
    obj = {"t": transposed, "s": strided, "be": big_endian, "bf": big_float}
    loaded = round_trip(obj, tmp_path)
    assert_same(loaded, obj)
    assert loaded["be"].dtype.isnative and loaded["be"].dtype == np.int32
    np.testing.assert_array_equal(loaded["bf"], np.linspace(-1, 1, 5))


def test_numbers_strings_none_and_nesting(tmp_path):
    obj = {
        "ints": [0, -1, 2**70, True, False],
        "floats": (0.1, -0.0, 1e-310, 1.7976931348623157e308, math.nan, math.inf, -math.inf),
        "none": None,
        "unicode": "héllo wörld ✓ 数字 🙂 \x00 \ud800",
        "nested": {"a": [{"b": (1, [2.5, "x"])}], "empty": {}, "empty_list": [], "t": ()},
        "numpy_scalars": [np.float32(1.5), np.int64(-3), np.bool_(True), np.float64(np.nan)],
    }
    assert_same(round_trip(obj, tmp_path), obj)


def test_dict_key_types_and_order_are_kept(tmp_path):
    obj = {"z": 1, 3: 2, "a": 3, -1: 4, "3": 5, 10**20: 6, "": 7, "ключ": 8}
    loaded = round_trip(obj, tmp_path)
    assert list(loaded.items()) == list(obj.items())
    assert type(next(k for k in loaded if k == 3)) is int
    assert "3" in loaded and 3 in loaded


def test_non_dict_top_level_objects(tmp_path):
    for i, obj in enumerate([np.arange(3), 7, None, "text", [1, np.ones(2)], (np.zeros(()),)]):
        assert_same(round_trip(obj, tmp_path, f"top{i}.crk"), obj)


def test_tensors_and_parameters_load_back_as_arrays(tmp_path):
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (x * 2).sum()
    p = cr.nn.Parameter(np.arange(3, dtype=np.float64))
    loaded = round_trip({"x": x, "y": y, "p": p}, tmp_path)
    for name, original in (("x", x), ("y", y), ("p", p)):
        assert type(loaded[name]) is np.ndarray
        np.testing.assert_array_equal(loaded[name], original.numpy())
        assert loaded[name].dtype == original.dtype


def test_model_like_state_dict(tmp_path):
    rng = np.random.default_rng(1)
    state = {
        "0.weight": rng.standard_normal((16, 8)).astype(np.float32),
        "0.bias": rng.standard_normal(16).astype(np.float32),
        "2.weight": rng.standard_normal((4, 16)).astype(np.float32),
        "2.bias": rng.standard_normal(4).astype(np.float32),
        "bn.running_mean": np.zeros(16, np.float32),
        "bn.num_batches_tracked": np.array(12, dtype=np.int64),
    }
    assert_same(round_trip(state, tmp_path), state)


def test_optimizer_like_state_dict(tmp_path):
    state = {
        "state": {0: {"momentum_buffer": np.full((3, 2), 0.5)}, 1: {"momentum_buffer": None}},
        "param_groups": [{"lr": 0.1, "momentum": 0.9, "nesterov": False, "params": [0, 1]}],
    }
    loaded = round_trip(state, tmp_path)
    assert_same(loaded, state)
    assert list(loaded["state"]) == [0, 1]


def test_full_checkpoint_of_everything(tmp_path):
    rng = np.random.default_rng(2)
    checkpoint = {
        "model": {"w": cr.tensor(rng.standard_normal((3, 3))), "b": np.zeros(3)},
        "optimizer": {"state": {0: {"step": 5, "exp_avg": np.ones((3, 3))}}, "param_groups": [
            {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "params": [0]}]},
        "epoch": 4,
        "best_val_loss": math.inf,
        "rng_state": {"bit_generator": "PCG64", "state": {"state": 2**127 + 5, "inc": 7}},
        "notes": "run 3 ✓",
    }
    loaded = round_trip(checkpoint, tmp_path)
    expected = dict(checkpoint, model={"w": checkpoint["model"]["w"].data, "b": np.zeros(3)})
    assert_same(loaded, expected)


def test_random_generator_state_round_trips(tmp_path):
    cr.manual_seed(123)
    state = cr.get_rng_state()
    first = cr.randn(5).numpy().copy()
    cr.set_rng_state(round_trip(state, tmp_path))
    np.testing.assert_array_equal(cr.randn(5).numpy(), first)


def test_file_layout_matches_the_documented_format(tmp_path):
    path = tmp_path / "layout.crk"
    array = np.arange(5, dtype=np.int16)
    cr.save({"a": array, "n": math.nan}, path)
    raw = path.read_bytes()
    magic, version, header_nbytes, header_crc = struct.unpack_from("<14sHQI", raw)
    assert magic == MAGIC and version == FORMAT_VERSION
    header_bytes = raw[28:28 + header_nbytes]
    assert zlib.crc32(header_bytes) == header_crc
    assert (28 + header_nbytes) % 64 == 0
    header = json.loads(header_bytes)
    entry = header["root"]["items"][0][1]
    assert entry["dtype"] == "int16" and entry["shape"] == [5] and entry["nbytes"] == 10
    data_start = 28 + header_nbytes
    stored = raw[data_start + entry["offset"]:data_start + entry["offset"] + 10]
    assert stored == array.astype("<i2").tobytes()
    assert header["root"]["items"][1][1] == {"type": "float", "value": "nan"}
    assert len(raw) == data_start + header["data_nbytes"]


def test_save_accepts_str_and_pathlike_and_overwrites(tmp_path):
    path = tmp_path / "c.crk"
    cr.save({"v": 1}, str(path))
    cr.save({"v": 2}, path)
    assert cr.load(str(path)) == {"v": 2}
    assert sorted(os.listdir(tmp_path)) == ["c.crk"]


# ----- pickles and foreign files are refused --------------------------------------------------


@pytest.mark.parametrize("name", ["model.pt", "model.ckpt", "weights.npz", "ckpt.crk", "noext"])
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_is_refused_whatever_its_name(tmp_path, name, protocol):
    path = tmp_path / name
    path.write_bytes(pickle.dumps({"w": np.ones(3)}, protocol=protocol))
    with pytest.raises(CheckpointError, match=rf"{name}.*is a Python pickle \(protocol "
                                              rf"{protocol}\).*never loads pickles"):
        cr.load(path)


@pytest.mark.parametrize("protocol", [0, 1])
@pytest.mark.parametrize("obj", [{"w": [1.0, 2.0]}, [1, "a"], (None, True), 3, "text"])
def test_old_protocol_pickles_are_refused_as_pickles(tmp_path, protocol, obj):
    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    with pytest.raises(CheckpointError, match=r"old.pkl' looks like a Python pickle \(protocol 0 "
                                              r"or 1.*never loads pickles"):
        cr.load(path)


def test_npy_with_object_array_is_refused_as_pickle(tmp_path):
    path = tmp_path / "objects.pt"
    with open(path, "wb") as f:
        np.save(f, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError, match="objects.pt.*holds a pickle"):
        cr.load(path)


def test_npz_holding_pickles_is_refused(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, ok=np.ones(2), bad=np.array([object()], dtype=object))
    with pytest.raises(CheckpointError, match="arrays.npz.*zip archive.*holding a pickle"):
        cr.load(path)


def test_zip_with_pkl_member_like_torch_save_is_refused(tmp_path):
    path = tmp_path / "model.ckpt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"a": 1}))
        archive.writestr("archive/data/0", b"\0" * 16)
    with pytest.raises(CheckpointError, match="model.ckpt.*holding a pickle"):
        cr.load(path)


def test_real_torch_save_file_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(CheckpointError, match="model.pt.*holding a pickle"):
        cr.load(path)


def test_plain_npy_and_npz_are_foreign_not_pickles(tmp_path):
    np.save(tmp_path / "a.npy", np.ones(3))
    np.savez(tmp_path / "b.npz", a=np.ones(3))
    with pytest.raises(CheckpointError, match=r"a.npy' is a NumPy .npy file, not a chainrule"):
        cr.load(tmp_path / "a.npy")
    with pytest.raises(CheckpointError, match=r"b.npz' is a zip archive, not a chainrule"):
        cr.load(tmp_path / "b.npz")


def test_foreign_and_empty_files(tmp_path):
    (tmp_path / "text.txt").write_text("hello, world\n")
    (tmp_path / "empty.crk").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"text.txt' is not a chainrule checkpoint: it "
                                              r"starts with b'hello, w'"):
        cr.load(tmp_path / "text.txt")
    with pytest.raises(CheckpointError, match=r"empty.crk' is empty \(0 bytes\)"):
        cr.load(tmp_path / "empty.crk")


def test_missing_file_raises_file_not_found_naming_it(tmp_path):
    path = tmp_path / "nowhere.crk"
    with pytest.raises(FileNotFoundError, match="nowhere.crk"):
        cr.load(path)


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


# ----- damaged files: one clear error type ------------------------------------------------------


def build_file(header, data=b"", version=FORMAT_VERSION, header_bytes=None, crc=None):
    """A checkpoint assembled by hand, so each check of the loader can be reached on its own."""
    if header_bytes is None:
        header_bytes = json.dumps(header).encode("ascii")
    crc = zlib.crc32(header_bytes) if crc is None else crc
    return struct.pack("<14sHQI", MAGIC, version, len(header_bytes), crc) + header_bytes + data


def array_header(data, **changes):
    entry = {"type": "array", "dtype": "float32", "shape": [2], "offset": 0, "nbytes": 8,
             "crc32": zlib.crc32(data), "scalar": False}
    entry.update(changes)
    return {"format": "chainrule", "data_nbytes": len(data), "root": entry}


GOOD_DATA = np.array([1.0, 2.0], dtype="<f4").tobytes()


def load_bytes(tmp_path, raw, name="bad.crk"):
    path = tmp_path / name
    path.write_bytes(raw)
    return cr.load(path)


def test_hand_built_file_loads(tmp_path):
    # The helper itself builds valid files, so each test below changes exactly one thing.
    loaded = load_bytes(tmp_path, build_file(array_header(GOOD_DATA), GOOD_DATA))
    np.testing.assert_array_equal(loaded, [1.0, 2.0])


@pytest.mark.parametrize("header, data, message", [
    (array_header(GOOD_DATA, dtype="object"), GOOD_DATA, r"unknown dtype 'object'"),
    (array_header(GOOD_DATA, dtype="complex64"), GOOD_DATA, r"unknown dtype 'complex64'"),
    (array_header(GOOD_DATA, shape=[3]), GOOD_DATA, r"shape/byte-count mismatch"),
    (array_header(GOOD_DATA, shape=[-1]), GOOD_DATA, r"invalid shape \[-1\]"),
    (array_header(GOOD_DATA, shape=[2.0]), GOOD_DATA, r"invalid shape"),
    (array_header(GOOD_DATA, shape=[1] * 65, nbytes=4), GOOD_DATA, r"invalid shape"),
    (array_header(GOOD_DATA, offset=4), GOOD_DATA, r"out of range"),
    (array_header(GOOD_DATA, shape=[2**40], nbytes=2**42), GOOD_DATA, r"out of range"),
    (array_header(GOOD_DATA, offset=-8), GOOD_DATA, r"offset = -8, expected at least 0"),
    (array_header(GOOD_DATA, offset="0"), GOOD_DATA, r"offset = '0', expected an int"),
    (array_header(GOOD_DATA, crc32=1), GOOD_DATA, r"do not match their CRC-32"),
    (array_header(GOOD_DATA, scalar=True), GOOD_DATA, r"marked as a scalar but has shape"),
    (array_header(GOOD_DATA, type="frozenset"), GOOD_DATA, r"unknown type 'frozenset'"),
    (dict(array_header(GOOD_DATA), data_nbytes=16), GOOD_DATA,
     r"the file is truncated: the header describes \d+ bytes, the file has \d+"),
    (dict(array_header(GOOD_DATA), data_nbytes=4), GOOD_DATA, r"has trailing bytes"),
    ({"format": "other", "root": None}, b"", r"not a chainrule header"),
    ([1, 2], b"", r"not a chainrule header"),
    ({"format": "chainrule", "data_nbytes": 0}, b"", r"no 'root' entry"),
    ({"format": "chainrule", "data_nbytes": 0, "root": {"type": "float", "value": "NaN"}}, b"",
     r"the float at the top level has value 'NaN'"),
    ({"format": "chainrule", "data_nbytes": 0,
      "root": {"type": "dict", "items": [["a", {"type": "none"}], ["a", {"type": "none"}]]}},
     b"", r"has the key 'a' twice"),
    ({"format": "chainrule", "data_nbytes": 0,
      "root": {"type": "dict", "items": [[[1], {"type": "none"}]]}},
     b"", r"key \[1\] that is not a string or an integer"),
    ({"format": "chainrule", "data_nbytes": 0,
      "root": {"type": "list", "items": [{"type": "str", "value": 5}]}},
     b"", r"the str at \[0\] has value = 5, expected a str"),
])
def test_invalid_headers_raise_checkpoint_error(tmp_path, header, data, message):
    with pytest.raises(CheckpointError, match=r"bad.crk' is not a valid chainrule checkpoint: .*"
                                              + message):
        load_bytes(tmp_path, build_file(header, data))


def test_header_that_is_not_json(tmp_path):
    raw = build_file(None, header_bytes=b'{"format": "chainrule", "root": ')
    with pytest.raises(CheckpointError, match=r"bad.crk.*the header is not valid JSON"):
        load_bytes(tmp_path, raw)


def test_header_with_json_nan_constant_is_refused(tmp_path):
    raw = build_file(None, header_bytes=b'{"format": "chainrule", "data_nbytes": 0, '
                                        b'"root": {"type": "float", "value": NaN}}')
    with pytest.raises(CheckpointError, match=r"not valid JSON.*NaN"):
        load_bytes(tmp_path, raw)


def test_deeply_nested_header_is_refused_not_crashing(tmp_path):
    depth = 100_000
    text = ('{"type":"list","items":[' * depth + ']}' * depth).encode("ascii")
    raw = build_file(None, header_bytes=b'{"format":"chainrule","data_nbytes":0,"root":' + text
                     + b"}")
    with pytest.raises(CheckpointError, match=r"bad.crk"):
        load_bytes(tmp_path, raw)


def test_header_checksum_mismatch(tmp_path):
    raw = build_file(array_header(GOOD_DATA), GOOD_DATA, crc=12345)
    with pytest.raises(CheckpointError, match=r"header does not match its CRC-32"):
        load_bytes(tmp_path, raw)


def test_bad_magic(tmp_path):
    raw = bytearray(build_file(array_header(GOOD_DATA), GOOD_DATA))
    raw[1:10] = b"CHAINRUIE"
    with pytest.raises(CheckpointError, match=r"is not a chainrule checkpoint: it starts with"):
        load_bytes(tmp_path, bytes(raw))


def test_newer_format_version_is_refused_by_name(tmp_path):
    raw = build_file(array_header(GOOD_DATA), GOOD_DATA, version=3)
    with pytest.raises(CheckpointError, match=r"bad.crk' was written by format version 3; this "
                                              r"chainrule reads up to version 1; upgrade "
                                              r"chainrule"):
        load_bytes(tmp_path, raw)


def test_format_version_zero_is_invalid(tmp_path):
    with pytest.raises(CheckpointError, match=r"format version is 0"):
        load_bytes(tmp_path, build_file(array_header(GOOD_DATA), GOOD_DATA, version=0))


def test_every_truncation_of_a_real_checkpoint_is_reported(tmp_path):
    path = tmp_path / "full.crk"
    cr.save({"w": np.arange(10.0), "b": np.ones(3, np.float32), "step": 3}, path)
    raw = path.read_bytes()
    for length in range(len(raw)):
        with pytest.raises(CheckpointError, match="cut.crk"):
            load_bytes(tmp_path, raw[:length], name="cut.crk")


@pytest.mark.parametrize("where, message", [
    (30, r"header does not match its CRC-32"),
    (-1, r"do not match their CRC-32"),
])
def test_flipped_bit_is_reported(tmp_path, where, message):
    path = tmp_path / "flip.crk"
    cr.save({"w": np.arange(10.0)}, path)
    raw = bytearray(path.read_bytes())
    raw[where] ^= 0x10
    with pytest.raises(CheckpointError, match=message):
        load_bytes(tmp_path, bytes(raw))


def test_truncated_header_message(tmp_path):
    raw = build_file(array_header(GOOD_DATA), GOOD_DATA)
    with pytest.raises(CheckpointError, match=r"truncated header: the preamble announces \d+ "
                                              r"header bytes but only 10 follow"):
        load_bytes(tmp_path, raw[:38])


# ----- what cannot be saved ----------------------------------------------------------------------


@pytest.mark.parametrize("obj, message", [
    ({"model": {"x": {1, 2}}}, r"save: cannot store a set at \['model'\]\['x'\]"),
    ({"f": lambda x: x}, r"save: cannot store a function at \['f'\]"),
    ([1, [2, object()]], r"save: cannot store an object at \[1\]\[1\]"),
    ({"a": np.array([None, 1], dtype=object)},
     r"save: cannot store an array of dtype object at \['a'\]"),
    ({"a": np.ones(2, dtype=np.complex128)}, r"array of dtype complex128 at \['a'\]"),
    ({"a": np.array(["x"])}, r"array of dtype <U1 at \['a'\]"),
    ({"a": np.array([1], dtype="datetime64[s]")}, r"array of dtype datetime64\[s\]"),
    ({"a": 1j}, r"cannot store a complex at \['a'\]"),
    ({"a": b"bytes"}, r"cannot store a bytes at \['a'\]"),
    ({(1, 2): 0}, r"dict keys must be str or int; got a tuple key \(1, 2\) at the top level"),
    ({"s": {True: 0}}, r"dict keys must be str or int; got a bool key True at \['s'\]"),
    ({"s": {1.5: 0}}, r"got a float key 1.5 at \['s'\]"),
    ({0: {"p": frozenset()}}, r"cannot store a frozenset at \[0\]\['p'\]"),
    ({1, 2}, r"cannot store a set at the top level"),
])
def test_unsupported_objects_raise_type_error_naming_the_path(tmp_path, obj, message):
    path = tmp_path / "never.crk"
    with pytest.raises(TypeError, match=message):
        cr.save(obj, path)
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_cycles_are_refused(tmp_path):
    cyclic = {"a": []}
    cyclic["a"].append(cyclic)
    with pytest.raises(ValueError, match=r"the dict at \['a'\]\[0\] contains itself"):
        cr.save(cyclic, tmp_path / "c.crk")


def test_the_same_array_twice_is_fine(tmp_path):
    shared = np.arange(4.0)
    loaded = round_trip({"a": shared, "b": [shared, shared]}, tmp_path)
    for array in (loaded["a"], *loaded["b"]):
        np.testing.assert_array_equal(array, shared)


def test_numpy_int_keys_are_stored_as_int(tmp_path):
    loaded = round_trip({np.int64(4): "x"}, tmp_path)
    assert list(loaded) == [4] and type(next(iter(loaded))) is int


def test_bad_path_types(tmp_path):
    with pytest.raises(TypeError, match="save: path must be a str or os.PathLike. Got int"):
        cr.save({}, 3)
    with pytest.raises(TypeError, match="load: path must be a str or os.PathLike. Got list"):
        cr.load([])


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="save: the folder .*missing.* does not exist"):
        cr.save({}, tmp_path / "missing" / "c.crk")


# ----- atomic writes --------------------------------------------------------------------------------


class SimulatedCrash(OSError):
    pass


def test_crash_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.crk"
    previous = {"w": np.arange(1000.0), "epoch": 1}
    cr.save(previous, path)
    before = path.read_bytes()

    writes = []

    def write_half_then_crash(file, array):
        raw = serialization._raw_bytes(array)
        file.write(raw[: len(raw) // 2])
        file.flush()  # the partial bytes really reach the temporary file
        writes.append(len(raw) // 2)
        raise SimulatedCrash("disk full")

    monkeypatch.setattr(serialization, "_write_array_bytes", write_half_then_crash)
    with pytest.raises(SimulatedCrash, match="disk full"):
        cr.save({"w": np.zeros(1000), "epoch": 2}, path)
    assert writes == [4000]
    assert path.read_bytes() == before
    assert_same(cr.load(path), previous)
    assert os.listdir(tmp_path) == ["model.crk"]  # the temporary file is gone


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_crash_at_fsync_or_rename_keeps_previous_checkpoint(tmp_path, monkeypatch, failing):
    path = tmp_path / "model.crk"
    previous = {"w": np.arange(10.0)}
    cr.save(previous, path)

    def crash(*args):
        raise SimulatedCrash(f"{failing} failed")

    monkeypatch.setattr(serialization.os, failing, crash)
    with pytest.raises(SimulatedCrash, match=f"{failing} failed"):
        cr.save({"w": np.zeros(10)}, path)
    monkeypatch.undo()
    assert_same(cr.load(path), previous)
    assert os.listdir(tmp_path) == ["model.crk"]


def test_keyboard_interrupt_mid_write_removes_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "model.crk"

    def interrupt(file, array):
        file.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization, "_write_array_bytes", interrupt)
    with pytest.raises(KeyboardInterrupt):
        cr.save({"w": np.ones(3)}, path)
    assert os.listdir(tmp_path) == []


def test_save_writes_through_a_temp_file_in_the_same_folder(tmp_path, monkeypatch):
    path = tmp_path / "model.crk"
    seen = []
    real_replace = os.replace

    def spy_replace(source, target):
        seen.append((os.path.dirname(source), os.path.basename(source), os.fspath(target)))
        real_replace(source, target)

    monkeypatch.setattr(serialization.os, "replace", spy_replace)
    cr.save({"w": np.ones(3)}, path)
    ((folder, temp_name, target),) = seen
    assert folder == str(tmp_path) and temp_name.startswith(".model.crk.")
    assert target == str(path)
    np.testing.assert_array_equal(cr.load(path)["w"], np.ones(3))


def test_saved_file_honours_the_umask(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    path = tmp_path / "perm.crk"
    old = os.umask(0o022)
    try:
        cr.save({"a": 1}, path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_arrays_sharing_bytes_are_refused_so_a_small_file_cannot_blow_up(tmp_path):
    entry = array_header(GOOD_DATA)["root"]
    header = {"format": "chainrule", "data_nbytes": len(GOOD_DATA),
              "root": {"type": "list", "items": [entry] * 200}}
    with pytest.raises(CheckpointError, match=r"claim \d+ bytes in all, more than the 8 bytes"):
        load_bytes(tmp_path, build_file(header, GOOD_DATA))
