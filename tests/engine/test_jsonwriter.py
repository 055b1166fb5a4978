"""A writer made once writes exactly what ``json.dumps`` writes with the same options: the
idempotency digest hashes this text, and digests are stored."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from punchcard.engine.runtime.events import canonical_json
from punchcard.engine.runtime.jsonwriter import json_writer

_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(),
                    st.decimals(allow_nan=False, allow_infinity=False))
_VALUES = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)), max_leaves=12)


@given(st.dictionaries(st.text(max_size=6), _VALUES, max_size=6))
def test_the_digest_text_is_json_dumps_sorted_ascii_with_str_for_the_rest(body):
    assert canonical_json(body) == json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


@given(_VALUES, st.booleans(), st.booleans())
def test_a_writer_writes_what_json_dumps_writes(value, ascii, sort_keys):
    write = json_writer(str, ascii=ascii, sort_keys=sort_keys, allow_nan=True)
    assert write(value) == json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=ascii,
                                      sort_keys=sort_keys)


def test_a_writer_refuses_nan_unless_allowed_and_what_its_default_refuses():
    def refuse(value):
        raise TypeError(f"no {type(value).__name__}")

    with pytest.raises(ValueError):
        json_writer(refuse)([float("nan")])
    with pytest.raises(TypeError, match="no Decimal"):
        json_writer(refuse)({"x": Decimal(1)})
    assert json_writer(refuse, allow_nan=True)([float("inf")]) == "[Infinity]"
