"""The RollingQ maths: attention imbalance, balanced anchor, query rotation.

Everything the method needs besides the network itself, as pure functions on
tensors (no runner, no registry). Inputs may have any floating dtype and
device; the computation runs in float64 and each result comes back in the
dtype of the input it derives from (named in each docstring).

Reference: H. Ni, Y. Wei, H. Liu, G. Chen, C. Peng, H. Lin, D. Hu, "RollingQ:
Reviving the Cooperation Dynamics in Multimodal Transformer", ICML 2025,
https://arxiv.org/abs/2506.11465.

Notation of the paper and the words used here:

* q: the fusion query (C,); kbar_i^m: mean key of modality m for sample i.
* c_m = E_i[cos(q, kbar_i^m)]: :func:`modality_cosines` averaged over samples.
* AIR (Attention Imbalance Rate) = c_0 - c_1 for two modalities, ordered as
  the head's ``modalities`` (audio first: AIR > 0 means the query favours
  audio); max_m c_m - min_m c_m (>= 0) for more modalities.
* α_m = softmax_m(-2 ρ c_m): :func:`anchor_weights` with ``rho`` = ρ.
* Anchor u = Σ_m α_m E_m / |E_m|, target t = |q| u / |u|:
  :func:`anchor_target`; or the nearest balanced query
  t = |q| p / |p|, p = q minus its part along the differences of the
  E_m / |E_m|: :func:`projection_target`.
* a_m: attention share of the fusion query on modality m's L_m tokens;
  n_m = (a_m / L_m) / Σ_j (a_j / L_j): :func:`token_normalised_share`;
  per-token AIR = n_0 - n_1 (max - min for more):
  :func:`token_normalised_air`.
* R with R q/|q| = t/|t|: :func:`plane_rotation` (minimal, the default) or
  :func:`svd_rotation` (the construction of the authors' release);
  ``plane_rotation(q, t, fraction=f)`` turns q only f of the way.
"""
import math
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

#: Norms at or below this are treated as zero.
NORM_EPS = 1e-12
#: |sin(angle)| below this makes two directions parallel or antiparallel.
PARALLEL_EPS = 1e-9


class DegenerateAnchorError(ValueError):
    """The rotation target is undefined (zero query, mean key or anchor)."""


def _check_finite(name: str, tensor: Tensor) -> None:
    """Raise ``ValueError`` naming ``name`` if ``tensor`` has NaN or inf."""
    if not torch.isfinite(tensor).all():
        raise ValueError(f'{name} contains NaN or inf values.')


def _check_vector(name: str, vector: Tensor) -> None:
    """Raise ``ValueError`` unless ``vector`` is a finite 1-D tensor."""
    if vector.dim() != 1:
        raise ValueError(f'{name} must be a vector of shape (C,), '
                         f'got shape {tuple(vector.shape)}.')
    _check_finite(name, vector)


def _unit(vector: Tensor) -> Tuple[Tensor, float]:
    """Float64 unit vector and norm of ``vector``; zero vector if norm ~ 0."""
    vector = vector.detach().to(torch.float64)
    norm = float(vector.norm())
    if norm <= NORM_EPS:
        return torch.zeros_like(vector), norm
    return vector / norm, norm


def _orthogonal_direction(unit: Tensor) -> Tensor:
    """A deterministic unit vector orthogonal to ``unit`` (float64, (C,)).

    It is the coordinate axis least aligned with ``unit`` (lowest index on
    ties), made orthogonal to ``unit`` by one Gram-Schmidt step.
    """
    axis = torch.zeros_like(unit)
    axis[int(torch.argmin(unit.abs()))] = 1.0
    direction = axis - (unit @ axis) * unit
    return direction / direction.norm()


def _check_fraction(fraction: float) -> None:
    """Raise ``ValueError`` unless ``fraction`` is a number in (0, 1]."""
    if isinstance(fraction, bool) or not isinstance(
            fraction, (int, float)) or not 0.0 < fraction <= 1.0:
        raise ValueError(
            f'fraction must be a number in (0, 1], got {fraction!r}.')


def plane_rotation(x: Tensor, y: Tensor, fraction: float = 1.0) -> Tensor:
    """Minimal proper rotation that turns the direction of ``x`` into ``y``'s
    (or the ``fraction`` f of the way).

    With x̂ = x/|x|, ŷ = y/|y|, c = x̂·ŷ, s = |ŷ - c x̂|,
    w = (ŷ - c x̂)/s and θ = atan2(s, c), the angle from x to y::

        R_f = I + (cos fθ - 1)(x̂ x̂ᵀ + w wᵀ) + sin fθ (w x̂ᵀ - x̂ wᵀ)

    (for f = 1, cos θ = c and sin θ = s are used as they are). R_f rotates
    by fθ inside span{x, y}, from x towards y, and is the identity on its
    orthogonal complement: R_f x̂ is the point at f along the great circle
    from x̂ to ŷ. R_f = exp(fθ (w x̂ᵀ - x̂ wᵀ)) is the geodesic from I to
    R_1 in SO(C), so R_a R_b = R_{a+b} (two half steps make the full
    rotation), and rotating again from R_f x towards the same y with the
    same f leaves (1 - f)² θ, and so on. Cases without a unique plane:

    * x or y (near) zero, or x ∥ y: the identity.
    * x ≈ -y: the half turn (θ = π) in the plane of x̂ and a fixed
      direction (the coordinate axis least aligned with x̂,
      orthogonalised), so the result is the same on every machine.

    Args:
        x (Tensor): Source vector, shape (C,), C >= 2.
        y (Tensor): Target vector, shape (C,).
        fraction (float): f in (0, 1], the part of the angle to turn.
            Defaults to 1.0: all the way, R x̂ = ŷ.

    Returns:
        Tensor: Rotation matrix (C, C), orthogonal with determinant +1, in
        the dtype and on the device of ``x``.
    """
    _check_vector('x', x)
    _check_vector('y', y)
    _check_fraction(fraction)
    if x.shape != y.shape:
        raise ValueError(f'x and y must have the same shape, got '
                         f'{tuple(x.shape)} and {tuple(y.shape)}.')
    dim = x.numel()
    identity = torch.eye(dim, dtype=torch.float64, device=x.device)
    x_unit, x_norm = _unit(x)
    y_unit, y_norm = _unit(y)
    if x_norm <= NORM_EPS or y_norm <= NORM_EPS:
        return identity.to(x.dtype)
    cos = float(x_unit @ y_unit)
    residual = y_unit - cos * x_unit
    residual = residual - (x_unit @ residual) * x_unit
    sin = float(residual.norm())
    if sin < PARALLEL_EPS:
        if cos > 0:
            return identity.to(x.dtype)
        cos, sin = -1.0, 0.0
        w = _orthogonal_direction(x_unit)
    else:
        w = residual / sin
    if fraction != 1.0:
        angle = fraction * math.atan2(sin, cos)
        cos, sin = math.cos(angle), math.sin(angle)
    rotation = (identity + (cos - 1.0) *
                (torch.outer(x_unit, x_unit) + torch.outer(w, w)) +
                sin * (torch.outer(w, x_unit) - torch.outer(x_unit, w)))
    return rotation.to(x.dtype)


def svd_rotation(x: Tensor, y: Tensor) -> Tensor:
    """Rotation from the SVD of ŷx̂ᵀ, as in the authors' release.

    With ŷx̂ᵀ = U S Vᵀ, R = U Vᵀ, the last column of U negated when
    det(U Vᵀ) = -1 so that R is proper. R maps x̂ to ŷ, but how it moves the
    directions orthogonal to x and y depends on the SVD routine (it is
    generally not the identity there). Training differs from
    :func:`plane_rotation`'s even under plain SGD, since the fusion token's
    gradient passes through Rᵀ. The paper configs use it for parity;
    :func:`plane_rotation` is the deterministic choice.

    Args:
        x (Tensor): Source vector, shape (C,).
        y (Tensor): Target vector, shape (C,).

    Returns:
        Tensor: Rotation matrix (C, C) in the dtype and on the device of
        ``x``; the identity when x or y is (near) zero.
    """
    _check_vector('x', x)
    _check_vector('y', y)
    if x.shape != y.shape:
        raise ValueError(f'x and y must have the same shape, got '
                         f'{tuple(x.shape)} and {tuple(y.shape)}.')
    x_unit, x_norm = _unit(x)
    y_unit, y_norm = _unit(y)
    if x_norm <= NORM_EPS or y_norm <= NORM_EPS:
        return torch.eye(x.numel(), dtype=x.dtype, device=x.device)
    left, _, right_t = torch.linalg.svd(torch.outer(y_unit, x_unit))
    if torch.linalg.det(left @ right_t) < 0:
        left[:, -1] = -left[:, -1]
    return (left @ right_t).to(x.dtype)


def rotation_angle(rotation: Tensor, x: Tensor) -> float:
    """Angle in degrees between ``x`` and ``rotation @ x``.

    Args:
        rotation (Tensor): Matrix (C, C).
        x (Tensor): Vector (C,).

    Returns:
        float: Angle in [0, 180]; 0 when x is (near) zero.
    """
    x_unit, x_norm = _unit(x)
    if x_norm <= NORM_EPS:
        return 0.0
    moved = rotation.detach().to(torch.float64) @ x_unit
    cos = float(F.cosine_similarity(moved, x_unit, dim=0, eps=NORM_EPS))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def modality_cosines(query: Tensor, mean_keys: Tensor) -> Tensor:
    """Cosine between the query and each sample's mean key per modality.

    A mean key of (near) zero norm gives a cosine of 0.

    Args:
        query (Tensor): The fusion query q, shape (C,).
        mean_keys (Tensor): kbar_i^m, the mean over modality m's tokens of
            the keys of sample i, shape (B, M, C).

    Returns:
        Tensor: cos(q, kbar_i^m), shape (B, M), dtype of ``mean_keys``.
    """
    if mean_keys.dim() != 3 or query.dim() != 1 or \
            mean_keys.shape[-1] != query.shape[0]:
        raise ValueError(
            'modality_cosines expects query (C,) and mean_keys (B, M, C), got '
            f'{tuple(query.shape)} and {tuple(mean_keys.shape)}.')
    cos = F.cosine_similarity(
        mean_keys.to(torch.float64),
        query.to(torch.float64).view(1, 1, -1),
        dim=-1,
        eps=NORM_EPS)
    return cos.to(mean_keys.dtype)


def attention_imbalance_rate(cosines: Tensor) -> Tensor:
    """Attention Imbalance Rate (AIR) from per-modality cosines.

    Sign convention: for two modalities AIR = c_0 - c_1 in [-2, 2] (with
    ``modalities=('audio', 'visual')``, AIR > 0 means the query favours
    audio). For M > 2 there is no natural sign and AIR = max_m c_m - min_m
    c_m in [0, 2]. In both cases |AIR| is what the rotation threshold β is
    compared with.

    Args:
        cosines (Tensor): Per-modality mean cosines c_m, shape (M,), or
            per-sample cosines cos(q, kbar_i^m), shape (B, M) (averaged over
            the batch first; AIR is linear in them for M = 2).

    Returns:
        Tensor: Scalar AIR, dtype of ``cosines``.
    """
    if cosines.dim() not in (1, 2) or cosines.shape[-1] < 2:
        raise ValueError('attention_imbalance_rate expects cosines of shape '
                         f'(M,) or (B, M) with M >= 2, got '
                         f'{tuple(cosines.shape)}.')
    means = cosines.to(torch.float64)
    if means.dim() == 2:
        means = means.mean(dim=0)
    if means.numel() == 2:
        air = means[0] - means[1]
    else:
        air = means.max() - means.min()
    return air.to(cosines.dtype)


def token_normalised_share(shares: Tensor, lengths: Sequence[int]) -> Tensor:
    """Attention share per token of each modality, relative to the others.

    The raw share a_m (the attention mass on modality m's L_m tokens) grows
    with L_m: under uniform attention over 1 + Σ L_m positions it is
    L_m / (1 + Σ_j L_j), e.g. 0.881 / 0.116 for 289 visual and 38 audio
    tokens before any training. The normalised share::

        n_m = (a_m / L_m) / Σ_j (a_j / L_j)

    is the mean attention per token of m relative to the other modalities:
    it sums to 1 over modalities, is 1/M for every modality under uniform
    attention whatever the token counts, and is above 1/M when one token of
    m gets more attention than one token of the others. When every a_m is
    (near) zero it is 0.

    Args:
        shares (Tensor): a_m, shape (..., M).
        lengths (Sequence[int]): L_m >= 1 of each modality, in order.

    Returns:
        Tensor: n_m, shape (..., M), dtype of ``shares``.
    """
    if shares.dim() < 1 or shares.shape[-1] != len(lengths) or \
            any(length < 1 for length in lengths):
        raise ValueError(
            'token_normalised_share expects shares (..., M) and M token '
            f'counts >= 1, got {tuple(shares.shape)} and {list(lengths)}.')
    wide = shares.to(torch.float64)
    per_token = torch.stack([
        wide[..., index] / length for index, length in enumerate(lengths)
    ], dim=-1)  # divisions by Python numbers: no host-to-device copy
    total = per_token.sum(dim=-1, keepdim=True)
    normalised = torch.where(total > NORM_EPS,
                             per_token / total.clamp_min(NORM_EPS),
                             torch.zeros_like(per_token))
    return normalised.to(shares.dtype)


def token_normalised_air(normalised_shares: Tensor) -> Tensor:
    """Per-token Attention Imbalance Rate from token-normalised shares.

    AIR compares the query's alignment c_m with each modality's mean key,
    which does not grow with the token count L_m; the attention mass a_m
    the query gives a modality does (at equal logits a modality with 8x the
    tokens gets 8x the mass). The per-token AIR applies AIR's contrast to
    the attention one token of each modality receives, the normalised
    shares n_m of :func:`token_normalised_share`, averaged over samples as
    AIR averages the cosines::

        AIR_norm = E_i[n_i,0 - n_i,1] = n̄_0 - n̄_1          (M = 2)
        AIR_norm = max_m n̄_m - min_m n̄_m                   (M > 2)

    Same sign convention as :func:`attention_imbalance_rate` (> 0: one
    token of the first modality gets more attention than one of the
    second), but another scale: for two modalities n_i,0 - n_i,1 =
    tanh(½ ln(p_i,0 / p_i,1)) with p_i,m = a_i,m / L_m the mean attention
    per token of m, so AIR_norm is in [-1, 1] (M > 2: [0, 1]), 0 when the
    tokens of every modality get the same attention on average whatever
    their counts, and ±1 when one modality gets all of it. Unlike AIR it
    also reflects the key norms (the logits are |q| |k| cos / √C) and the
    softmax's sharpness, not only the directions.

    Args:
        normalised_shares (Tensor): n̄_m, shape (M,), or per-sample n_i,m,
            shape (B, M) (averaged over the batch first), each row from
            :func:`token_normalised_share`.

    Returns:
        Tensor: Scalar per-token AIR, dtype of ``normalised_shares``.
    """
    if normalised_shares.dim() not in (1, 2) or \
            normalised_shares.shape[-1] < 2:
        raise ValueError('token_normalised_air expects normalised shares of '
                         'shape (M,) or (B, M) with M >= 2, got '
                         f'{tuple(normalised_shares.shape)}.')
    _check_finite('normalised_shares', normalised_shares)
    return attention_imbalance_rate(normalised_shares)


def anchor_weights(cosines: Tensor, rho: float) -> Tensor:
    """Anchor weights α_m = softmax_m(-2 ρ c_m).

    For two modalities α_0 = ½(1 + tanh(-ρ AIR)) exactly, the paper's α
    (AIR = c_0 - c_1). ρ = 0 gives equal weights (the bisector); ρ > 0 gives
    more weight to the modalities the query attends to less.

    Args:
        cosines (Tensor): Per-modality mean cosines c_m, shape (M,).
        rho (float): ρ, the strength of the re-weighting, >= 0.

    Returns:
        Tensor: α, shape (M,), non-negative and summing to 1, dtype of
        ``cosines``.
    """
    if cosines.dim() != 1:
        raise ValueError('anchor_weights expects cosines of shape (M,), got '
                         f'{tuple(cosines.shape)}.')
    _check_finite('cosines', cosines)
    weights = torch.softmax(-2.0 * rho * cosines.to(torch.float64), dim=0)
    return weights.to(cosines.dtype)


def _query_norm_and_mean_directions(
        query: Tensor, modality_means: Tensor) -> Tuple[float, Tensor]:
    """|q| and the float64 unit mean keys E_m/|E_m| (M, C) of a rotation
    target; ``DegenerateAnchorError`` if |q| ~ 0 or some |E_m| ~ 0."""
    query_norm = float(query.detach().to(torch.float64).norm())
    if query_norm <= NORM_EPS:
        raise DegenerateAnchorError(
            f'the fusion query has norm {query_norm:.3g}: no direction to '
            'rotate.')
    means = modality_means.detach().to(torch.float64)
    mean_norms = means.norm(dim=1, keepdim=True)
    if (mean_norms <= NORM_EPS).any():
        raise DegenerateAnchorError(
            'a modality has a zero mean key (norms '
            f'{mean_norms.flatten().tolist()}): its anchor direction is '
            'undefined.')
    return query_norm, means / mean_norms


def anchor_target(query: Tensor, modality_means: Tensor,
                  weights: Tensor) -> Tensor:
    """Rotation target t = |q| u/|u| with the anchor u = Σ_m α_m E_m/|E_m|.

    Args:
        query (Tensor): The current fusion query q, shape (C,).
        modality_means (Tensor): E_m, dataset means of the mean keys, shape
            (M, C).
        weights (Tensor): α from :func:`anchor_weights`, shape (M,).

    Returns:
        Tensor: t, shape (C,), same norm as ``query``, in the dtype of
        ``query``.

    Raises:
        DegenerateAnchorError: |q| ~ 0, some |E_m| ~ 0, or the weighted
            directions cancel (|u| ~ 0): no rotation target exists and the
            caller should skip the rotation.
    """
    _check_vector('query', query)
    if modality_means.dim() != 2 or weights.shape != modality_means.shape[:1] \
            or modality_means.shape[1] != query.shape[0]:
        raise ValueError(
            'anchor_target expects query (C,), modality_means (M, C) and '
            f'weights (M,), got {tuple(query.shape)}, '
            f'{tuple(modality_means.shape)} and {tuple(weights.shape)}.')
    _check_finite('modality_means', modality_means)
    _check_finite('weights', weights)
    query_norm, units = _query_norm_and_mean_directions(query,
                                                        modality_means)
    anchor = (weights.detach().to(torch.float64)[:, None] * units).sum(dim=0)
    anchor_norm = float(anchor.norm())
    if anchor_norm <= NORM_EPS:
        raise DegenerateAnchorError('the weighted anchor directions cancel '
                                    f'(|u| = {anchor_norm:.3g}).')
    return (anchor * (query_norm / anchor_norm)).to(query.dtype)


def projection_target(query: Tensor, modality_means: Tensor) -> Tensor:
    """The nearest query of the same norm that every modality's mean key
    direction sees alike: t = |q| p/|p| with p = q - P_S q.

    S is the span of the differences ê_m - ê_{M-1} of the unit mean keys
    ê_m = E_m/|E_m| (for two modalities, w = ê_0 - ê_1 and
    p = q - (q·w) w/|w|²), so t·ê_m is the same for all m. Of all vectors
    of norm |q| with that property, t makes the smallest angle with q: the
    rotation q -> t removes the imbalance along S and keeps every other
    component of q, whereas :func:`anchor_target` replaces q by a
    combination of the ê_m and keeps nothing else of it.

    Args:
        query (Tensor): The current fusion query q, shape (C,).
        modality_means (Tensor): E_m, dataset means of the mean keys, shape
            (M, C), M >= 2.

    Returns:
        Tensor: t, shape (C,), same norm as ``query``, in the dtype of
        ``query``; q itself when the ê_m coincide (nothing to balance).

    Raises:
        DegenerateAnchorError: |q| ~ 0, some |E_m| ~ 0, or q lies in S
            (p ~ 0): no balanced direction near q exists and the caller
            should skip the rotation.
    """
    _check_vector('query', query)
    if modality_means.dim() != 2 or modality_means.shape[0] < 2 or \
            modality_means.shape[1] != query.shape[0]:
        raise ValueError(
            'projection_target expects query (C,) and modality_means (M, C) '
            f'with M >= 2, got {tuple(query.shape)} and '
            f'{tuple(modality_means.shape)}.')
    _check_finite('modality_means', modality_means)
    q = query.detach().to(torch.float64)
    query_norm, units = _query_norm_and_mean_directions(query,
                                                        modality_means)
    differences = units[:-1] - units[-1:]
    # Orthonormal basis of S from the differences' SVD (rank-aware).
    _, singular, basis = torch.linalg.svd(differences, full_matrices=False)
    basis = basis[singular > PARALLEL_EPS * max(1.0, float(singular.max()))]
    projected = q - basis.T @ (basis @ q)
    projected_norm = float(projected.norm())
    if projected_norm <= NORM_EPS * max(1.0, query_norm):
        raise DegenerateAnchorError(
            'the fusion query lies in the span of the differences of the '
            'modalities\' mean key directions: removing them leaves nothing '
            f'(|p| = {projected_norm:.3g}).')
    return (projected * (query_norm / projected_norm)).to(query.dtype)
