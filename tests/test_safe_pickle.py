"""The restricted unpickler: plain data in, anything that imports or calls refused, nothing executed."""

from __future__ import annotations

import collections
import os
import pickle

import pytest

from deem_eval.errors import DataError
from deem_eval.safe_pickle import load_plain, loads_plain

PLAIN = {"refs": [{"ref_id": 1, "sent": "a dog", "box": (1.5, 2.0), "ok": True, "none": None, "raw": b"\x00"}]}


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_round_trips_in_every_protocol(protocol):
    assert loads_plain(pickle.dumps(PLAIN, protocol=protocol)) == PLAIN


def test_python2_byte_strings_are_read_as_utf8_text():
    # PROTO 2, SHORT_BINSTRING (a Python 2 str) of the UTF-8 bytes of "héllo", STOP
    assert loads_plain(b"\x80\x02U\x06h\xc3\xa9llo.") == "héllo"


class _Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_reduce_payload_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "refs(umd).p"
    for protocol in (0, 2, 5):
        path.write_bytes(pickle.dumps([{"ref_id": 1}, _Payload(str(marker))], protocol=protocol))
        with pytest.raises(DataError) as err:
            load_plain(path)
        assert not marker.exists()
        msg = str(err.value)
        assert str(path) in msg and "tried to construct" in msg and "system" in msg


@pytest.mark.parametrize(
    "obj, what",
    [(collections.OrderedDict(a=1), "collections.OrderedDict"), (range(3), "builtins.range"),
     (pickle.PickleError, "_pickle.PickleError")],
)
def test_any_global_is_refused(obj, what):
    with pytest.raises(DataError, match=f"tried to construct {what}"):
        loads_plain(pickle.dumps(obj, protocol=4), "x.p")


def test_codecs_encode_is_admitted_only_as_the_bytes_idiom():
    # what Python 3 writes for bytes under protocol 2: _codecs.encode("ab", "latin1")
    assert loads_plain(pickle.dumps(b"ab", protocol=2)) == b"ab"
    # the same global called with another codec is refused
    hostile = b"\x80\x02c_codecs\nencode\nq\x00X\x02\x00\x00\x00abX\x06\x00\x00\x00rot_13\x86R."
    with pytest.raises(DataError, match="tried to construct _codecs.encode with arguments"):
        loads_plain(hostile)


def test_sets_and_bytearrays_are_refused_although_they_need_no_import():
    with pytest.raises(DataError, match="holds a set"):
        loads_plain(pickle.dumps([{1, 2}], protocol=4))
    with pytest.raises(DataError, match="holds a bytearray"):
        loads_plain(pickle.dumps(bytearray(b"ab"), protocol=5))


def test_truncated_empty_and_oversized_files(tmp_path):
    data = pickle.dumps(PLAIN, protocol=2)
    path = tmp_path / "refs.p"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_plain(path)
    path.write_bytes(b"")
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_plain(path)
    path.write_bytes(data)
    with pytest.raises(DataError, match="larger than the 10-byte limit"):
        load_plain(path, max_bytes=10)
    with pytest.raises(DataError, match="not found"):
        load_plain(tmp_path / "absent.p")


def test_deeply_nested_plain_data_is_walked_without_recursion_errors():
    # PROTO 2, 5000 x EMPTY_LIST, 4999 x APPEND (each list into the one below it), STOP
    blob = b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b"."
    out = loads_plain(blob)
    depth = 1
    while out:
        out, depth = out[0], depth + 1
    assert depth == 5000
