"""Tests of the pure RollingQ maths (rollingq_mm/models/rollingq.py)."""
import math

import pytest
import torch
import torch.nn.functional as F

from rollingq_mm.models import (DegenerateAnchorError, anchor_target,
                                anchor_weights, attention_imbalance_rate,
                                modality_cosines, plane_rotation,
                                rotation_angle, svd_rotation)
from rollingq_mm.models.rollingq import (projection_target,
                                         token_normalised_air,
                                         token_normalised_share)

ROTATIONS = [plane_rotation, svd_rotation]


def random_pair(dim: int, seed: int, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(dim, generator=generator, dtype=torch.float64)
    y = torch.randn(dim, generator=generator, dtype=torch.float64)
    return x.to(dtype), y.to(dtype)


def assert_proper_rotation(rotation: torch.Tensor, atol: float = 1e-10):
    rotation = rotation.to(torch.float64)
    eye = torch.eye(rotation.shape[0], dtype=torch.float64)
    assert torch.isfinite(rotation).all()
    assert torch.allclose(rotation.T @ rotation, eye, atol=atol)
    assert torch.linalg.det(rotation).item() == pytest.approx(1.0, abs=atol)


def complement_basis(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis (C - 2, C) of the complement of span{x, y}."""
    basis = torch.linalg.qr(torch.stack([x, y], dim=1), mode='complete')[0]
    return basis[:, 2:].T


@pytest.mark.parametrize('rotate', ROTATIONS)
@pytest.mark.parametrize('dim', [2, 3, 16, 65])
@pytest.mark.parametrize('seed', [0, 1])
def test_rotation_is_proper_and_maps_x_to_y(rotate, dim, seed):
    x, y = random_pair(dim, seed)
    rotation = rotate(x, y)
    assert_proper_rotation(rotation)
    assert torch.allclose(rotation @ (x / x.norm()), y / y.norm(), atol=1e-6)


@pytest.mark.parametrize('rotate', ROTATIONS)
def test_rotation_keeps_dtype_and_is_accurate_in_float32(rotate):
    x, y = random_pair(64, 3, torch.float32)
    rotation = rotate(x, y)
    assert rotation.dtype == torch.float32
    assert torch.allclose(rotation @ F.normalize(x, dim=0),
                          F.normalize(y, dim=0), atol=1e-6)
    assert_proper_rotation(rotation, atol=1e-6)


def test_plane_rotation_fixes_the_complement_and_svd_does_not():
    x, y = random_pair(12, 5)
    others = complement_basis(x, y)
    plane_moved = (plane_rotation(x, y) @ others.T - others.T).abs().max()
    svd_moved = (svd_rotation(x, y) @ others.T - others.T).abs().max()
    assert plane_moved < 1e-12
    assert svd_moved > 0.1


def test_plane_rotation_turns_by_the_angle_between_x_and_y():
    x, y = random_pair(9, 7)
    expected = math.degrees(
        math.acos(float(F.cosine_similarity(x, y, dim=0))))
    assert rotation_angle(plane_rotation(x, y), x) == pytest.approx(
        expected, abs=1e-9)


def test_rotation_angle_of_a_quarter_turn():
    quarter = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    assert rotation_angle(quarter, torch.tensor([2.0, 0.0])) == \
        pytest.approx(90.0)
    assert rotation_angle(quarter, torch.zeros(2)) == 0.0


@pytest.mark.parametrize('rotate', ROTATIONS)
def test_composing_on_the_left_maps_first_query_to_last_target(rotate):
    generator = torch.Generator().manual_seed(11)
    query = torch.randn(10, generator=generator, dtype=torch.float64)
    total = torch.eye(10, dtype=torch.float64)
    for _ in range(4):
        target = torch.randn(10, generator=generator, dtype=torch.float64)
        total = rotate(total @ query, target) @ total
    assert_proper_rotation(total)
    assert torch.allclose(total @ query / query.norm(),
                          target / target.norm(), atol=1e-9)


def test_parallel_vectors_give_the_identity_only_with_the_plane_rotation():
    x, _ = random_pair(6, 2)
    eye = torch.eye(6, dtype=x.dtype)
    assert torch.allclose(plane_rotation(x, 3.5 * x), eye, atol=1e-12)
    # The release's SVD construction maps x to itself but still moves the
    # other directions: a "no-op" rotation that changes the query space.
    svd = svd_rotation(x, 3.5 * x)
    assert_proper_rotation(svd)
    assert torch.allclose(svd @ x, x, atol=1e-12)
    assert (svd - eye).abs().max() > 0.1


@pytest.mark.parametrize('rotate', ROTATIONS)
@pytest.mark.parametrize('zero', ['x', 'y', 'both'])
def test_zero_vectors_give_the_identity(rotate, zero):
    x, y = random_pair(5, 4)
    if zero in ('x', 'both'):
        x = torch.zeros_like(x)
    if zero in ('y', 'both'):
        y = torch.zeros_like(y)
    assert torch.equal(rotate(x, y), torch.eye(5, dtype=x.dtype))


@pytest.mark.parametrize('rotate', ROTATIONS)
def test_antiparallel_vectors_give_a_deterministic_half_turn(rotate):
    x, _ = random_pair(7, 6)
    rotation = rotate(x, -2.0 * x)
    assert_proper_rotation(rotation)
    assert torch.allclose(rotation @ x, -x, atol=1e-12)
    assert torch.equal(rotation, rotate(x, -2.0 * x))


def test_antiparallel_plane_rotation_uses_the_least_aligned_axis():
    x = torch.tensor([3.0, 0.5, -2.0, 1.0], dtype=torch.float64)
    rotation = plane_rotation(x, -x)
    # The half turn acts in span{x, e_1}: e_1's part orthogonal to x flips,
    # every direction orthogonal to both x and e_1 is fixed.
    others = complement_basis(x, torch.tensor([0.0, 1.0, 0.0, 0.0],
                                              dtype=torch.float64))
    assert torch.allclose(rotation @ others.T, others.T, atol=1e-12)


def test_nearly_antiparallel_vectors_stay_finite_and_accurate():
    x, noise = random_pair(8, 9)
    y = -x + 1e-13 * noise
    rotation = plane_rotation(x, y)
    assert_proper_rotation(rotation)
    assert torch.allclose(rotation @ (x / x.norm()), y / y.norm(), atol=1e-6)


@pytest.mark.parametrize('rotate', ROTATIONS)
def test_rotation_rejects_bad_input(rotate):
    with pytest.raises(ValueError, match='x contains NaN'):
        rotate(torch.tensor([float('nan'), 1.0]), torch.ones(2))
    with pytest.raises(ValueError, match='same shape'):
        rotate(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match=r'y must be a vector'):
        rotate(torch.ones(3), torch.ones(1, 3))


@pytest.mark.parametrize('rho', [0.0, 0.3, 1.0, 5.0])
@pytest.mark.parametrize('cosines', [(0.6, 0.1), (-0.2, 0.7), (0.3, 0.3)])
def test_two_modality_weights_equal_the_paper_formula(rho, cosines):
    cosines = torch.tensor(cosines, dtype=torch.float64)
    air = float(attention_imbalance_rate(cosines))
    weights = anchor_weights(cosines, rho)
    paper_alpha = 0.5 * (1.0 + math.tanh(-rho * air))
    assert weights[0].item() == pytest.approx(paper_alpha, abs=1e-12)
    assert weights[1].item() == pytest.approx(1.0 - paper_alpha, abs=1e-12)


def test_weights_favour_the_less_attended_modality():
    cosines = torch.tensor([0.8, 0.1, 0.4])
    weights = anchor_weights(cosines, rho=2.0)
    assert weights.sum().item() == pytest.approx(1.0)
    assert weights.argmax().item() == 1 and weights.argmin().item() == 0
    assert torch.allclose(anchor_weights(cosines, 0.0), torch.full((3, ),
                                                                   1 / 3))


def test_modality_cosines_match_a_direct_computation():
    generator = torch.Generator().manual_seed(0)
    query = torch.randn(6, generator=generator)
    mean_keys = torch.randn(4, 3, 6, generator=generator)
    cosines = modality_cosines(query, mean_keys)
    assert cosines.shape == (4, 3) and cosines.dtype == torch.float32
    for sample in range(4):
        for modality in range(3):
            key = mean_keys[sample, modality]
            expected = float(query @ key / (query.norm() * key.norm()))
            assert cosines[sample, modality].item() == pytest.approx(
                expected, abs=1e-6)


def test_zero_mean_key_has_cosine_zero_not_nan():
    cosines = modality_cosines(torch.ones(3), torch.zeros(2, 2, 3))
    assert torch.equal(cosines, torch.zeros(2, 2))


def test_air_sign_and_general_definition():
    assert attention_imbalance_rate(torch.tensor([0.7, 0.2])).item() == \
        pytest.approx(0.5)
    assert attention_imbalance_rate(torch.tensor([0.2, 0.7])).item() == \
        pytest.approx(-0.5)
    per_sample = torch.tensor([[0.9, 0.1], [0.3, 0.5], [0.6, 0.6]])
    expected = (per_sample[:, 0] - per_sample[:, 1]).mean()
    assert attention_imbalance_rate(per_sample).item() == pytest.approx(
        expected.item())
    three = torch.tensor([0.1, 0.9, -0.3])
    assert attention_imbalance_rate(three).item() == pytest.approx(1.2)
    with pytest.raises(ValueError, match='M >= 2'):
        attention_imbalance_rate(torch.tensor([0.5]))


def test_anchor_target_keeps_the_query_norm_and_points_to_the_anchor():
    generator = torch.Generator().manual_seed(1)
    query = torch.randn(8, generator=generator, dtype=torch.float64)
    means = torch.randn(2, 8, generator=generator, dtype=torch.float64) * \
        torch.tensor([[10.0], [0.1]], dtype=torch.float64)
    target = anchor_target(query, means, torch.tensor([0.5, 0.5]).double())
    assert target.norm().item() == pytest.approx(query.norm().item())
    # Equal weights: the bisector of the unit mean keys, whatever their norms.
    cos_a = F.cosine_similarity(target, means[0], dim=0)
    cos_v = F.cosine_similarity(target, means[1], dim=0)
    assert cos_a.item() == pytest.approx(cos_v.item(), abs=1e-12)
    heavy = anchor_target(query, means, torch.tensor([0.9, 0.1]).double())
    assert F.cosine_similarity(heavy, means[0], dim=0) > cos_a


def test_anchor_target_rejects_degenerate_statistics():
    means = torch.eye(3)[:2]
    weights = torch.tensor([0.5, 0.5])
    with pytest.raises(DegenerateAnchorError, match='query has norm'):
        anchor_target(torch.zeros(3), means, weights)
    with pytest.raises(DegenerateAnchorError, match='zero mean key'):
        anchor_target(torch.ones(3), torch.stack([means[0], torch.zeros(3)]),
                      weights)
    with pytest.raises(DegenerateAnchorError, match='cancel'):
        anchor_target(torch.ones(3), torch.stack([means[0], -means[0]]),
                      weights)
    with pytest.raises(ValueError, match='modality_means'):
        anchor_target(torch.ones(3), torch.ones(2, 4), weights)


def acos_degrees(u: torch.Tensor, v: torch.Tensor) -> float:
    """Angle between u and v in degrees, from acos of their cosine."""
    cos = float(u @ v / (u.norm() * v.norm()))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


@pytest.mark.parametrize('fraction', [0.1, 0.5, 0.75])
@pytest.mark.parametrize('dim', [2, 3, 16])
def test_fractional_plane_rotation_turns_x_by_f_theta_towards_y(
        fraction, dim):
    x, y = random_pair(dim, 11)
    theta = acos_degrees(x, y)
    rotation = plane_rotation(x, y, fraction=fraction)
    moved = rotation @ x
    assert acos_degrees(x, moved) == pytest.approx(fraction * theta,
                                                   abs=1e-9)
    assert acos_degrees(moved, y) == pytest.approx((1 - fraction) * theta,
                                                   abs=1e-9)
    assert moved.norm().item() == pytest.approx(x.norm().item(), rel=1e-12)
    assert_proper_rotation(rotation, atol=1e-12)


def test_fractional_plane_rotation_fixes_the_complement():
    x, y = random_pair(12, 5)
    others = complement_basis(x, y)
    rotation = plane_rotation(x, y, fraction=0.3)
    assert (rotation @ others.T - others.T).abs().max() < 1e-12


def test_fraction_one_is_the_full_rotation_exactly():
    for dim, seed in ((3, 0), (16, 1), (65, 2)):
        x, y = random_pair(dim, seed)
        assert torch.equal(plane_rotation(x, y, fraction=1.0),
                           plane_rotation(x, y))
        assert torch.equal(plane_rotation(x, y, fraction=1),
                           plane_rotation(x, y))


@pytest.mark.parametrize('antiparallel', [False, True])
def test_two_half_plane_rotations_compose_to_the_full_one(antiparallel):
    x, y = random_pair(10, 4)
    if antiparallel:
        y = -2.0 * x
    half = plane_rotation(x, y, fraction=0.5)
    assert (half @ half - plane_rotation(x, y)).abs().max() < 1e-12
    third = plane_rotation(x, y, fraction=1 / 3)
    two_thirds = plane_rotation(x, y, fraction=2 / 3)
    assert (third @ two_thirds - plane_rotation(x, y)).abs().max() < 1e-12


def test_repeated_partial_rotations_approach_the_target_step_by_step():
    x, y = random_pair(8, 6)
    theta = acos_degrees(x, y)
    query = x
    for step in range(1, 6):
        query = plane_rotation(query, y, fraction=0.5) @ query
        assert acos_degrees(query, y) == pytest.approx(theta / 2 ** step,
                                                       abs=1e-9)


def test_fractional_rotation_of_degenerate_pairs_is_the_identity():
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.equal(plane_rotation(x, 3 * x, fraction=0.5), eye)
    assert torch.equal(plane_rotation(torch.zeros(3).double(), x,
                                      fraction=0.5), eye)


@pytest.mark.parametrize('fraction', [0.0, -0.5, 1.5, float('nan'), True,
                                      '0.5'])
def test_invalid_fraction_is_refused(fraction):
    x, y = random_pair(4, 0)
    with pytest.raises(ValueError, match='fraction'):
        plane_rotation(x, y, fraction=fraction)


def test_token_normalised_air_matches_a_hand_computation():
    # Two samples, 2 audio and 8 visual tokens; per-token attention
    # p = a / L: sample 0 (0.2, 0.1) -> n = (2/3, 1/3); sample 1
    # (0.1, 0.1) -> n = (1/2, 1/2). Mean n_0 - n_1 = (1/3 + 0) / 2.
    shares = torch.tensor([[0.4, 0.8], [0.2, 0.8]], dtype=torch.float64)
    normalised = token_normalised_share(shares, [2, 8])
    assert token_normalised_air(normalised).item() == pytest.approx(
        1 / 6, abs=1e-15)
    assert token_normalised_air(normalised.mean(dim=0)).item() == \
        pytest.approx(1 / 6, abs=1e-15)
    # Raw shares favour visual (0.8 > 0.4), per token audio is favoured.
    assert token_normalised_air(normalised.flip(-1)).item() == \
        pytest.approx(-1 / 6, abs=1e-15)
    # Three modalities: max - min of the mean normalised shares.
    three = torch.tensor([0.5, 0.2, 0.3], dtype=torch.float32)
    assert token_normalised_air(three).item() == pytest.approx(0.3)
    assert token_normalised_air(three).dtype == torch.float32


def test_token_normalised_air_is_zero_under_uniform_attention():
    lengths = [38, 289]
    uniform = torch.tensor([38.0, 289.0]) / (1 + sum(lengths))
    assert (uniform[0] - uniform[1]).item() < -0.7
    assert token_normalised_air(
        token_normalised_share(uniform, lengths)).item() == pytest.approx(
            0.0, abs=1e-7)


def test_token_normalised_air_rejects_bad_input():
    with pytest.raises(ValueError, match='M >= 2'):
        token_normalised_air(torch.tensor([1.0]))
    with pytest.raises(ValueError, match='NaN'):
        token_normalised_air(torch.tensor([float('nan'), 0.5]))


def unit(vector: torch.Tensor) -> torch.Tensor:
    return vector / vector.norm()


@pytest.mark.parametrize('seed', range(4))
def test_projection_target_of_two_modalities_removes_the_difference(seed):
    """t = |q| p/|p| with p = q - (q·w) w/|w|², w = ê_0 - ê_1, by hand."""
    generator = torch.Generator().manual_seed(seed)
    query, audio, visual = torch.randn(3, 16, generator=generator,
                                       dtype=torch.float64)
    target = projection_target(query, torch.stack([2.0 * audio, visual]))
    w = unit(audio) - unit(visual)
    p = query - (query @ w) * w / (w @ w)
    assert torch.allclose(target, query.norm() * unit(p), atol=1e-12)
    assert target.norm() == pytest.approx(float(query.norm()), rel=1e-12)
    # Both mean key directions see the target alike: cosine AIR 0.
    assert float(target @ unit(audio)) == pytest.approx(
        float(target @ unit(visual)), abs=1e-12)


def test_projection_target_is_the_nearest_balanced_query():
    """No other vector of norm |q| that sees every ê_m alike is closer to q
    (against 2,000 random balanced candidates, three modalities)."""
    generator = torch.Generator().manual_seed(5)
    query = torch.randn(12, generator=generator, dtype=torch.float64)
    means = torch.randn(3, 12, generator=generator, dtype=torch.float64)
    target = projection_target(query, means)
    units = means / means.norm(dim=1, keepdim=True)
    seen = units @ target
    assert torch.allclose(seen, seen.mean().expand(3), atol=1e-12)
    # Candidates: random vectors projected onto the balanced subspace.
    differences = units[:-1] - units[-1:]
    basis = torch.linalg.qr(differences.T)[0].T
    candidates = torch.randn(2000, 12, generator=generator,
                             dtype=torch.float64)
    candidates = candidates - (candidates @ basis.T) @ basis
    candidates = query.norm() * candidates / candidates.norm(
        dim=1, keepdim=True)
    best = float(F.cosine_similarity(candidates, query[None], dim=1).max())
    assert float(F.cosine_similarity(target, query, dim=0)) > best


def test_projection_target_keeps_the_query_outside_the_difference():
    """Components of q orthogonal to ê_0 - ê_1 keep their ratios; unlike
    anchor_target, which keeps nothing of q outside span{ê_m}."""
    query = torch.tensor([0.9, 0.1, 0.3, -0.4], dtype=torch.float64)
    means = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]],
                         dtype=torch.float64)
    target = projection_target(query, means)
    # w ∝ (1, -1, 0, 0): the first two components meet at their mean 0.5.
    expected = torch.tensor([0.5, 0.5, 0.3, -0.4], dtype=torch.float64)
    assert torch.allclose(target, query.norm() * unit(expected), atol=1e-12)
    anchor = anchor_target(query, means, torch.tensor([0.5, 0.5],
                                                      dtype=torch.float64))
    assert torch.allclose(anchor[2:], torch.zeros(2, dtype=torch.float64))


def test_projection_target_of_coinciding_directions_is_the_query():
    query = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float32)
    means = torch.tensor([[1.0, 2.0, 0.0], [3.0, 6.0, 0.0]])
    target = projection_target(query, means)
    assert target.dtype == torch.float32
    assert torch.equal(target, query)


def test_projection_target_rejects_degenerate_statistics():
    means = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
                         dtype=torch.float64)
    with pytest.raises(DegenerateAnchorError, match='norm 0'):
        projection_target(torch.zeros(3, dtype=torch.float64), means)
    with pytest.raises(DegenerateAnchorError, match='zero mean key'):
        projection_target(torch.ones(3, dtype=torch.float64),
                          torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    # q along ê_0 - ê_1: nothing is left after removing the imbalance.
    with pytest.raises(DegenerateAnchorError, match='lies in the span'):
        projection_target(torch.tensor([1.0, -1.0, 0.0],
                                       dtype=torch.float64), means)
    with pytest.raises(ValueError, match='M >= 2'):
        projection_target(torch.ones(3), torch.ones(1, 3))
    with pytest.raises(ValueError, match='NaN or inf'):
        projection_target(torch.ones(3), torch.tensor(
            [[1.0, 0.0, 0.0], [float('nan'), 0.0, 0.0]]))
