"""The fake encoder and the model pin check (the real model is never loaded here)."""

from __future__ import annotations

import numpy as np
import pytest

from snapsearch.format.errors import ModelMismatchError
from snapsearch.format.manifest import ModelPin
from snapsearch.format.model import (
    CANARY_DECIMALS,
    CANARY_TEXT,
    CANARY_TOLERANCE,
    HashingEncoder,
    check_pin,
    make_canary,
)

TEXTS = ["10k 0402 resistor", "AMS1117-3.3 LDO regulator", "", "Resistor resistor RESISTOR"]


def with_canary_shift(pin: ModelPin, delta: float, index: int = 0) -> ModelPin:
    vec = list(pin.canary.vector)
    vec[index] += delta
    return pin.model_copy(update={"canary": pin.canary.model_copy(update={"vector": vec})})


def test_hashing_encoder_is_deterministic():
    a = HashingEncoder(64).encode(TEXTS)
    b = HashingEncoder(64).encode(TEXTS)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(HashingEncoder(64).encode(TEXTS[1:2])[0], a[1])
    assert HashingEncoder(64).pin == HashingEncoder(64).pin


def test_hashing_encoder_is_normalised_float32():
    out = HashingEncoder(64).encode(TEXTS)
    assert out.dtype == np.float32
    assert out.shape == (len(TEXTS), 64)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)


def test_hashing_encoder_is_case_insensitive_and_tells_texts_apart():
    enc = HashingEncoder(64)
    a, b, c = enc.encode(["Thick Film Resistor", "thick film resistor", "ceramic capacitor"])
    np.testing.assert_array_equal(a, b)
    assert float(a @ c) < 0.99


def test_hashing_encoder_reports_progress():
    calls: list[tuple[int, int]] = []
    HashingEncoder(8).encode(TEXTS, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (len(TEXTS), len(TEXTS))


def test_pin_describes_the_encoder():
    enc = HashingEncoder(32)
    pin = enc.pin
    assert pin.dim == 32 and pin.normalize
    assert pin.canary.text == CANARY_TEXT
    assert len(pin.canary.vector) == 32
    expected = np.round(enc.encode([CANARY_TEXT])[0].astype(np.float64), CANARY_DECIMALS)
    np.testing.assert_array_equal(np.asarray(pin.canary.vector), expected)


def test_make_canary_rounds_and_digests():
    c = make_canary(np.array([0.123456, -0.5, 1.0], dtype=np.float32))
    assert c.vector == [0.1235, -0.5, 1.0]
    assert c.decimals == CANARY_DECIMALS
    assert make_canary(np.array([0.12351, -0.5, 1.0])).digest == c.digest
    assert make_canary(np.array([0.2, -0.5, 1.0])).digest != c.digest


def test_check_pin_passes_for_the_same_encoder():
    enc = HashingEncoder(64)
    check_pin(enc.pin, enc, where="snapshot X")
    check_pin(enc.pin, HashingEncoder(64), where="snapshot X")


def test_check_pin_names_the_dim():
    with pytest.raises(ModelMismatchError) as exc:
        check_pin(HashingEncoder(64).pin, HashingEncoder(32), where="snapshot X")
    msg = exc.value.message
    assert msg.startswith("snapshot X:")
    assert "dim 64 != installed 32" in msg
    assert exc.value.fix


def test_check_pin_names_the_model_id():
    enc = HashingEncoder(64)
    other = enc.pin.model_copy(update={"model_id": "someone/else"})
    with pytest.raises(ModelMismatchError, match="model_id 'someone/else'"):
        check_pin(other, enc, where="s")


def test_check_pin_names_changed_weight_files():
    enc = HashingEncoder(64)
    files = {"hashing": "0" * 64, "extra.bin": "1" * 64}
    other = enc.pin.model_copy(update={"weights_sha256": files, "weights_digest": "x"})
    with pytest.raises(ModelMismatchError, match=r"weights differ \(extra.bin, hashing\)"):
        check_pin(other, enc, where="s")


def test_check_pin_names_the_canary_when_only_the_canary_differs():
    enc = HashingEncoder(64)
    drifted = with_canary_shift(enc.pin, CANARY_TOLERANCE * 5, index=3)
    assert drifted.fingerprint == enc.pin.fingerprint
    with pytest.raises(ModelMismatchError) as exc:
        check_pin(drifted, enc, where="snapshot X")
    msg = exc.value.message
    assert "canary" in msg
    assert "dim" not in msg and "weights" not in msg


def test_check_pin_tolerates_a_tiny_canary_difference():
    enc = HashingEncoder(64)
    check_pin(with_canary_shift(enc.pin, CANARY_TOLERANCE / 2), enc, where="s")
    check_pin(with_canary_shift(enc.pin, -CANARY_TOLERANCE / 2, index=5), enc, where="s")


def test_check_pin_refuses_a_canary_of_another_length():
    enc = HashingEncoder(64)
    short = enc.pin.canary.model_copy(update={"vector": enc.pin.canary.vector[:10]})
    with pytest.raises(ModelMismatchError, match="canary"):
        check_pin(enc.pin.model_copy(update={"canary": short}), enc, where="s")
