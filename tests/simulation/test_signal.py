"""Signal generator: truth kinematics, reconstructed mass, forced-decay reweighting."""

import awkward as ak
import numpy as np
import pytest

from na62dump import geometry as g
from na62dump.codes import Channel
from na62dump.errors import InputError
from na62dump.physics.decay import forced_decay_weight
from na62dump.simulation import kinematics as k
from na62dump.simulation.signal import (
    CHANNELS,
    decay_products,
    generate_signal,
    sample_production_momentum,
    sample_tax_point,
)


@pytest.mark.parametrize("channel", CHANNELS)  # every final state of the registry
def test_truth_daughters_reproduce_the_parent_mass(channel):
    rng = np.random.default_rng(1)
    m = 1.5
    parent = k.four_momentum(rng.normal(0, 0.2, 300), rng.normal(0, 0.2, 300),
                             rng.uniform(20, 200, 300), m)
    d, names = decay_products(Channel.from_name(channel), parent, rng)
    assert names == Channel.from_name(channel).daughters
    np.testing.assert_allclose(k.invariant_mass(d.sum(axis=1)), m, rtol=1e-9)
    masses = [k.SPECIES[n][1] for n in names]
    # daughter masses: sqrt(E^2 - p^2) of a ~100 GeV massless photon carries ~1e-5 rounding
    np.testing.assert_allclose(k.invariant_mass(d), np.broadcast_to(masses, (300, len(names))),
                               atol=2e-5)


def _reco_mass(out, track_mass):
    two = ak.num(out["Track_px"]) == 2
    px, py, pz = (out[f"Track_{c}"][two] for c in ("px", "py", "pz"))
    e = np.sqrt(px**2 + py**2 + pz**2 + track_mass**2)
    return ak.to_numpy(np.sqrt(ak.sum(e, axis=1) ** 2 - ak.sum(px, axis=1) ** 2
                               - ak.sum(py, axis=1) ** 2 - ak.sum(pz, axis=1) ** 2))


def test_reco_mass_resolution_mumu():
    m = 0.4
    out = generate_signal("dark_photon", "brems", "mumu", m, 4000, np.random.default_rng(2))
    mass = _reco_mass(out, k.M_MU)
    assert len(mass) > 500
    rel = mass / m - 1
    core = rel[np.abs(rel) < 0.05]
    assert abs(np.median(rel)) < 0.002
    # resolution: ~0.3-1% (momentum and opening-angle resolution)
    assert 0.002 < np.std(core) < 0.015


def test_truth_branches_and_geometry():
    n = 2000
    out = generate_signal("alp", "brems", "ee", 0.2, n, np.random.default_rng(3))
    z0, z1 = g.FORCED_DECAY_Z
    assert np.all((out["Truth_decayZ"] >= np.float32(z0)) & (out["Truth_decayZ"] <= z1))
    assert np.all((out["Truth_prodZ"] >= g.TAX_Z_START) & (out["Truth_prodZ"] <= g.TAX_Z_END))
    assert abs(np.mean(out["Truth_prodY"]) - g.BEAM_POINT[1]) < 2e-4
    # decay point on the line of flight
    tx = out["Truth_px"] / out["Truth_pz"]
    x = out["Truth_prodX"] + tx * (out["Truth_decayZ"] - out["Truth_prodZ"])
    np.testing.assert_allclose(out["Truth_decayX"], x, atol=2e-5)
    assert np.all(out["Truth_model"] == 2) and np.all(out["Truth_channel"] == Channel.EE)
    # decays uniform in Z
    hist, _ = np.histogram(out["Truth_decayZ"], 4, range=g.FORCED_DECAY_Z)
    assert np.all(np.abs(hist - n / 4) < 5 * np.sqrt(n / 4))


def test_forced_decay_reweighting_reproduces_a_fixed_lifetime():
    """Weighted forced decays = a sample decaying exponentially at that lifetime."""
    m, ctau = 0.1, 0.5  # lambda_z = pz / m * ctau ~ 100-1000 m
    n = 40_000
    rng = np.random.default_rng(4)
    out = generate_signal("dark_photon", "brems", "ee", m, n, rng)
    z_range = (float(out["Truth_zMin"][0]), float(out["Truth_zMax"][0]))
    dz = out["Truth_decayZ"].astype(float) - out["Truth_prodZ"]
    w = forced_decay_weight(dz, out["Truth_pz"] / m, ctau, z_range)
    # reference: same production, exponential decay at ctau, counted where it falls
    px, py, pz = sample_production_momentum("brems", m, n, rng)
    z_prod = sample_tax_point(n, rng)[:, 2]
    z_dec = z_prod + rng.exponential(pz / m * ctau)
    edges = np.linspace(*z_range, 9)
    ref, _ = np.histogram(z_dec, edges)
    got, _ = np.histogram(out["Truth_decayZ"], edges, weights=w)
    got_err = np.sqrt(np.histogram(out["Truth_decayZ"], edges, weights=w * w)[0])
    pull = (got - ref) / np.sqrt(got_err**2 + ref)
    assert ref.sum() > 2000
    assert np.all(np.abs(pull) < 4), pull
    assert abs(np.sum(pull**2) - len(pull)) < 5 * np.sqrt(2 * len(pull))


def test_bad_parameters():
    rng = np.random.default_rng(5)
    with pytest.raises(InputError, match="mass_gev"):
        generate_signal("dark_photon", "brems", "mumu", 0.1, 10, rng)
    with pytest.raises(InputError, match="model"):
        generate_signal("axion", "brems", "ee", 0.1, 10, rng)
    with pytest.raises(InputError, match="channel"):
        generate_signal("dark_photon", "brems", "tautau", 0.1, 10, rng)
    with pytest.raises(InputError, match="mass_gev"):
        generate_signal("dark_photon", "brems", "ee", float("nan"), 10, rng)


def test_b_meson_production_knows_the_model():
    # dark scalar: B -> K_X S over the kaon states (scalar.sample); ALP: B+ -> K+ a. Same seed.
    from na62dump.physics import bmesons, scalar

    m, n = 1.9, 20_000  # the heavier kaon states leave the S less energy in the B frame
    s = sample_production_momentum("b_meson", m, n, np.random.default_rng(4), model="dark_scalar")
    ref = scalar.sample(m, n, np.random.default_rng(4))
    np.testing.assert_array_equal(s[2], ref[2])
    a = sample_production_momentum("b_meson", m, n, np.random.default_rng(4), model="alp")
    np.testing.assert_array_equal(a[2], bmesons.sample_b_to_kx(m, n, np.random.default_rng(4))[2])
    assert np.mean(s[2]) < 0.99 * np.mean(a[2])  # heavier kaons leave less to the S
    out = generate_signal("dark_scalar", "b_meson", "mumu", 0.5, 200, np.random.default_rng(2))
    assert out["Truth_pz"].shape == (200,) and np.all(out["Truth_pz"] > 0)
