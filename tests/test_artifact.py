"""The artifact format: seeded noise, printed compositions, ranking, metadata codec."""

import numpy as np
import pytest

from hea_zoo import artifact


def test_noise_is_standard_normal_and_chunk_invariant():
    z = artifact.noise(7, 50_000, 8)
    assert z.dtype == np.float32 and z.shape == (50_000, 8)
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1.0) < 0.01
    np.testing.assert_array_equal(artifact.noise(7, 100, 8, start_row=1000), z[1000:1100])
    assert not np.array_equal(artifact.noise(8, 10, 8), z[:10])
    # columns are not correlated with each other
    assert np.abs(np.corrcoef(z.T) - np.eye(8)).max() < 0.03


def test_noise_known_values_pin_the_specification():
    # The integer hash and Box-Muller of docs/DESIGN_ENGINE.md, computed by hand.
    m = 0xFFFFFFFF

    def mix(x):
        x ^= x >> 16
        x = (x * 0x21F0AAAD) & m
        x ^= x >> 15
        x = (x * 0x735A2D97) & m
        return x ^ (x >> 15)

    seed, row, col = 12345, 3, 1
    key = mix(seed ^ 0x9E3779B9)
    h = mix(key ^ row)
    a, b = mix((h + 2 * col) & m), mix((h + 2 * col + 1) & m)
    expected = np.float32(np.sqrt(-2 * np.log((a + 1) / 2**32)) * np.cos(2 * np.pi * b / 2**32))
    assert artifact.noise(seed, 4, 2)[row, col] == expected


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, True, "0"])
def test_bad_seeds_are_refused(bad):
    with pytest.raises(ValueError, match="seed"):
        artifact.noise(bad, 2, 2)


def test_printed_thousandths_sum_to_1000_and_are_fixed_points():
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.full(22, 0.3), 20_000).astype(np.float32)
    k, ok = artifact.printed_thousandths(x)
    assert ok.all() and (k.sum(axis=1) == 1000).all()
    assert ((k == 0) | (k >= 5)).all()  # nothing below the drop threshold survives
    again, _ = artifact.printed_thousandths(artifact.printed_fractions(x))
    np.testing.assert_array_equal(again, k)
    # close to the renormalized fractions: at most one thousandth off
    kept = np.where(x >= artifact.DROP_THRESHOLD - 1e-7, x, 0)
    kept = kept / kept.sum(axis=1, keepdims=True)
    assert np.abs(k / 1000 - kept).max() <= 1e-3 + 1e-9


def test_printed_rows_that_cannot_print_are_flagged():
    x = np.array([[np.nan, 1.0], [0.001, 0.002], [0.5, 0.5]])
    k, ok = artifact.printed_thousandths(x)
    assert ok.tolist() == [False, False, True]
    assert np.isnan(artifact.printed_fractions(x)[:2]).all()


def test_formula_strings():
    k = np.array([[250, 250, 500], [1000, 0, 0], [5, 0, 995]])
    assert artifact.formula_strings(k, ["Mo", "Nb", "W"]) == ["Mo0.25Nb0.25W0.5", "Mo1", "Mo0.005W0.995"]


def test_relative_errors_floor_keeps_a_zero_target_finite():
    err = artifact.relative_errors([[1.0, 2.0]], [0.0, 4.0], scale_floor=[0.5, 0.1])
    np.testing.assert_allclose(err, [[2.0, 0.5]])


def test_metadata_round_trip_and_errors():
    meta = {"elements": ["Al", "Nb"], "latent_dim": 8, "coverage": 0.9, "name": "cvae"}
    assert artifact.decode_metadata(artifact.encode_metadata(meta)) == meta
    with pytest.raises(artifact.MetadataError, match="m.onnx.*'elements'"):
        artifact.decode_metadata({"elements": "[broken"}, source="m.onnx")
    with pytest.raises(artifact.MetadataError, match="missing key.*'latent_dim'"):
        artifact.decode_metadata({}, source="m.onnx", required=["latent_dim"])
