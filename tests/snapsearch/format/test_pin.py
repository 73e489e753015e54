"""check_pin compares every weight file, not only their digest (issue 11, finding 2)."""

from __future__ import annotations

import pytest

from snapsearch.format.errors import ModelMismatchError
from snapsearch.format.model import HashingEncoder, check_pin, weights_digest


def test_a_pin_matching_the_encoder_passes():
    enc = HashingEncoder(16)
    check_pin(enc.pin, enc, where="test")


def test_an_edited_file_hash_with_the_old_digest_is_refused():
    enc = HashingEncoder(16)
    files = {name: "0" * 64 for name in enc.pin.weights_sha256}
    pin = enc.pin.model_copy(update={"weights_sha256": files})  # weights_digest left as it was
    with pytest.raises(ModelMismatchError) as exc:
        check_pin(pin, enc, where="snapshot X")
    assert "weights differ (hashing)" in exc.value.message
    assert "weights_digest does not match its own weights_sha256" in exc.value.message


def test_a_consistent_pin_for_other_weights_is_refused_naming_the_files():
    enc = HashingEncoder(16)
    files = dict(enc.pin.weights_sha256) | {"extra.bin": "1" * 64}
    pin = enc.pin.model_copy(
        update={"weights_sha256": files, "weights_digest": weights_digest(files)}
    )
    with pytest.raises(ModelMismatchError, match=r"weights differ \(extra.bin\)"):
        check_pin(pin, enc, where="snapshot X")


def test_an_edited_digest_alone_is_refused():
    enc = HashingEncoder(16)
    pin = enc.pin.model_copy(update={"weights_digest": "2" * 64})
    with pytest.raises(ModelMismatchError, match="weights_digest does not match"):
        check_pin(pin, enc, where="snapshot X")
