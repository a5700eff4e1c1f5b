"""The OGM-GE maths: per-modality scores, discrepancy ratios, modulation.

On-the-fly Gradient Modulation with Generalisation Enhancement, as pure
functions on tensors (no runner, no registry), plus :class:`OGMScores`, the
plain-tensor sums of one optimizer step that the fusion head fills and
:class:`~rollingq_mm.engine.OGMGEHook` reduces across ranks. Scores, ratios
and coefficients are computed in float64.

Reference: X. Peng, Y. Wei, A. Deng, D. Wang, D. Hu, "Balanced Multimodal
Learning via On-the-fly Gradient Modulation", CVPR 2022,
https://arxiv.org/abs/2203.15332.

Notation of the paper and the words used here:

* s_m = Σ_i softmax(o_m,i)[y_i]: :func:`true_class_scores`, the summed
  probability of the true class under modality m's own output o_m over the
  samples i of the step.
* ρ_m: :func:`discrepancy_ratios`. The paper (two modalities) has
  ρ^a = s_a / s_v and ρ^v = 1 / ρ^a; for M >= 3 modalities this package uses
  ρ_m = s_m / mean_{j != m} s_j, which equals the paper's for M = 2.
* k_m = 1 - tanh(α ρ_m) if ρ_m > 1, else 1 (the paper's Eq. (10)):
  :func:`modulation_coefficients` with ``alpha`` = α. As the paper defines
  it, k is not continuous at ρ = 1: a modality just ahead is scaled by
  1 - tanh(α).
* GE: g <- k_m g + h with h ~ N(0, σ_g²) drawn per element, σ_g the standard
  deviation over the elements of that parameter's gradient g BEFORE the
  modulation (the paper's noise restores the SGD noise covariance that the
  scaling by k shrank; the authors' release also takes the standard deviation
  of the unmodulated gradient): :func:`gradient_noise_std` and
  :func:`modulate_gradient_`.
"""
from typing import Optional

import torch
from mmengine import dist
from torch import Tensor


def true_class_scores(logits: Tensor, labels: Tensor) -> Tensor:
    """s_m = Σ_i softmax(o_m,i)[y_i] for each modality m.

    Args:
        logits (Tensor): Each modality's own logits o_m, shape (B, M, K).
        labels (Tensor): Class indices y_i, shape (B,).

    Returns:
        Tensor: s_m, shape (M,), float64.
    """
    if logits.dim() != 3 or labels.shape != logits.shape[:1]:
        raise ValueError('true_class_scores expects logits (B, M, K) and '
                         f'labels (B,), got {tuple(logits.shape)} and '
                         f'{tuple(labels.shape)}.')
    probs = logits.detach().to(torch.float64).softmax(dim=-1)
    index = labels.long().view(-1, 1, 1).expand(-1, probs.shape[1], 1)
    return probs.gather(-1, index).squeeze(-1).sum(dim=0)


def discrepancy_ratios(scores: Tensor) -> Tensor:
    """ρ_m = s_m / mean_{j != m} s_j (s_0 / s_1 and s_1 / s_0 for M = 2).

    Args:
        scores (Tensor): s_m, shape (M,) with M >= 2, positive.

    Returns:
        Tensor: ρ_m, shape (M,), float64.
    """
    if scores.dim() != 1 or scores.numel() < 2:
        raise ValueError('discrepancy_ratios needs the scores of M >= 2 '
                         f'modalities, got shape {tuple(scores.shape)}.')
    scores = scores.to(torch.float64)
    others = (scores.sum() - scores) / (scores.numel() - 1)
    return scores / others


def modulation_coefficients(ratios: Tensor, alpha: float) -> Tensor:
    """k_m = 1 - tanh(α ρ_m) where ρ_m > 1, else 1 (the paper's Eq. (10)).

    Args:
        ratios (Tensor): ρ_m, shape (M,).
        alpha (float): α >= 0, the strength of the modulation.

    Returns:
        Tensor: k_m in (0, 1], shape (M,), float64.
    """
    ratios = ratios.to(torch.float64)
    return torch.where(ratios > 1, 1 - torch.tanh(alpha * ratios),
                       torch.ones_like(ratios))


def gradient_noise_std(grad: Tensor) -> Tensor:
    """σ_g, the standard deviation over the elements of one gradient.

    Args:
        grad (Tensor): A parameter's gradient, any shape.

    Returns:
        Tensor: 0-dim, in the gradient's dtype (population standard
        deviation: 0 for a one-element gradient).
    """
    return grad.std(correction=0)


@torch.no_grad()
def modulate_gradient_(grad: Tensor, coefficient: float,
                       generator: Optional[torch.Generator] = None) -> Tensor:
    """g <- k g (OGM), plus h ~ N(0, σ_g²) when a generator is given (GE).

    σ_g is :func:`gradient_noise_std` of g before the scaling.

    Args:
        grad (Tensor): The gradient, modified in place.
        coefficient (float): k.
        generator (torch.Generator, optional): Source of the noise, on the
            gradient's device. Defaults to None: no noise (OGM alone).

    Returns:
        Tensor: ``grad``.
    """
    std = gradient_noise_std(grad) if generator is not None else None
    grad.mul_(coefficient)
    if generator is not None:
        noise = torch.randn(grad.shape, generator=generator,
                            device=grad.device, dtype=grad.dtype)
        grad.add_(noise.mul_(std))
    return grad


class OGMScores:
    """Sums of s_m and of the sample count over one optimizer step.

    The fusion head adds each training micro-batch (:meth:`update`), the hook
    reads the step's sums across ranks (:meth:`reduced`) and clears them
    after the step (:meth:`reset`). Plain float64 tensors, not module
    buffers, so DDP's buffer broadcast never overwrites the rank-local sums;
    they are created on the device of the first batch.

    Args:
        num_modalities (int): M >= 2.
    """

    def __init__(self, num_modalities: int) -> None:
        if num_modalities < 2:
            raise ValueError('OGM-GE needs at least two modalities, got '
                             f'{num_modalities}.')
        self.num_modalities = num_modalities
        self._sums: Optional[Tensor] = None

    def reset(self) -> None:
        """Forget every sample (after an optimizer step)."""
        self._sums = None

    @torch.no_grad()
    def update(self, logits: Tensor, labels: Tensor) -> None:
        """Add one micro-batch.

        Args:
            logits (Tensor): Each modality's own logits, (B, M, K).
            labels (Tensor): Class indices, (B,).
        """
        if logits.dim() != 3 or logits.shape[1] != self.num_modalities:
            raise ValueError(f'OGMScores.update expects logits (B, '
                             f'{self.num_modalities}, K), got '
                             f'{tuple(logits.shape)}.')
        if self._sums is None:
            self._sums = torch.zeros(self.num_modalities + 1,
                                     dtype=torch.float64,
                                     device=logits.device)
        self._sums[:-1] += true_class_scores(logits, labels)
        self._sums[-1] += logits.shape[0]

    def reduced(self, device: torch.device) -> Tensor:
        """The sums over all ranks, one all-reduce; every rank must call it.

        Args:
            device (torch.device): Where a rank that saw no sample creates
                its zeros (the device of the collective).

        Returns:
            Tensor: (M + 1,) float64: s_m of the step, then the number of
            samples.
        """
        sums = self._sums
        if sums is None:
            sums = torch.zeros(self.num_modalities + 1, dtype=torch.float64,
                               device=device)
        sums = sums.clone()
        dist.all_reduce(sums, op='sum')
        return sums
