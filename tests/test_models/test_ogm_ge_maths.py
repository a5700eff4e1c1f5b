"""OGM-GE maths against independent computations on tiny tensors."""
import math

import pytest
import torch
from mmaction.structures import ActionDataSample

from rollingq_mm.models import ConcatFusionHead, RollingQFusionHead
from rollingq_mm.models.balancing import (OGMScores, discrepancy_ratios,
                                          gradient_noise_std,
                                          modulate_gradient_,
                                          modulation_coefficients,
                                          true_class_scores)


def test_scores_are_summed_true_class_probabilities():
    logits = torch.tensor([[[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]],
                           [[0.0, 1.0, 3.0], [-2.0, 0.0, 1.0]]])
    labels = torch.tensor([0, 2])
    expected = []
    for m in range(2):
        total = 0.0
        for i in range(2):
            row = logits[i, m].tolist()
            total += math.exp(row[labels[i]]) / sum(map(math.exp, row))
        expected.append(total)
    scores = true_class_scores(logits, labels)
    assert scores.dtype == torch.float64
    assert scores.tolist() == pytest.approx(expected, rel=1e-12)


def test_two_modalities_follow_the_papers_equation_10():
    scores = torch.tensor([6.0, 4.0])
    ratios = discrepancy_ratios(scores)
    assert ratios.tolist() == pytest.approx([1.5, 4 / 6], rel=1e-12)
    alpha = 0.8
    assert modulation_coefficients(ratios, alpha).tolist() == pytest.approx(
        [1 - math.tanh(alpha * 1.5), 1.0], rel=1e-12)
    # Equal scores: no modulation; the jump at rho = 1 is the paper's.
    assert modulation_coefficients(discrepancy_ratios(
        torch.tensor([3.0, 3.0])), alpha).tolist() == [1.0, 1.0]
    just_ahead = modulation_coefficients(
        torch.tensor([1.0 + 1e-9], dtype=torch.float64), alpha)
    assert float(just_ahead) == pytest.approx(1 - math.tanh(alpha))


def test_three_modalities_compare_with_the_mean_of_the_others():
    scores = torch.tensor([3.0, 3.0, 1.0])
    ratios = discrepancy_ratios(scores)
    assert ratios.tolist() == pytest.approx([1.5, 1.5, 1 / 3], rel=1e-12)
    coefficients = modulation_coefficients(ratios, 0.5)
    assert coefficients.tolist() == pytest.approx(
        [1 - math.tanh(0.75), 1 - math.tanh(0.75), 1.0], rel=1e-12)


def test_noise_scale_is_the_std_of_the_unmodulated_gradient():
    grad = torch.tensor([[1.0, -2.0], [4.0, 0.5]], dtype=torch.float64)
    values = grad.flatten().tolist()
    mean = sum(values) / 4
    expected_std = math.sqrt(sum((v - mean) ** 2 for v in values) / 4)
    assert float(gradient_noise_std(grad)) == pytest.approx(expected_std)
    seed, k = 5, 0.3
    draw = torch.randn(2, 2, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)
    modulated = modulate_gradient_(grad.clone(), k,
                                   torch.Generator().manual_seed(seed))
    assert torch.allclose(modulated, k * grad + expected_std * draw)
    assert torch.equal(modulate_gradient_(grad.clone(), k), k * grad)


def test_scores_accumulate_over_micro_batches():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 2, 4, generator=generator)
    labels = torch.randint(0, 4, (6,), generator=generator)
    sums = OGMScores(2)
    sums.update(logits[:2], labels[:2])
    sums.update(logits[2:], labels[2:])
    reduced = sums.reduced(torch.device('cpu'))
    assert torch.allclose(reduced[:2], true_class_scores(logits, labels))
    assert reduced[2] == 6
    sums.reset()
    assert sums.reduced(torch.device('cpu')).tolist() == [0.0, 0.0, 0.0]


def test_concat_parts_sum_to_the_fused_logits_with_half_the_bias():
    head = ConcatFusionHead(num_classes=3, in_channels=dict(audio=2,
                                                            visual=4))
    generator = torch.Generator().manual_seed(1)
    feats = dict(audio=torch.randn(5, 3, 2, generator=generator),
                 visual=torch.randn(5, 2, 4, generator=generator))
    fused, extras = head.forward_fusion(feats)
    assert extras == {}
    head.ogm_scores = OGMScores(2)
    fused, extras = head.forward_fusion(feats)
    parts = extras['unimodal_logits']
    weight, bias = head.fc_cls.weight, head.fc_cls.bias
    audio = feats['audio'].mean(1) @ weight[:, :2].T + bias / 2
    visual = feats['visual'].mean(1) @ weight[:, 2:].T + bias / 2
    assert torch.allclose(parts[:, 0], audio, atol=1e-6)
    assert torch.allclose(parts[:, 1], visual, atol=1e-6)
    assert torch.allclose(parts.sum(1), fused, atol=1e-6)


def test_other_heads_score_their_probes():
    head = RollingQFusionHead(num_classes=3, in_channels=4, init_cfg=None)
    head.ogm_scores = OGMScores(2)
    generator = torch.Generator().manual_seed(2)
    feats = dict(audio=torch.randn(4, 3, 4, generator=generator),
                 visual=torch.randn(4, 5, 4, generator=generator))
    labels = torch.tensor([0, 1, 2, 0])
    head.loss(feats, [ActionDataSample().set_gt_label(int(y))
                      for y in labels])
    logits, _ = head(feats)
    probes = torch.stack([logits['audio'], logits['visual']], dim=1)
    sums = head.ogm_scores.reduced(torch.device('cpu'))
    assert torch.allclose(sums[:2], true_class_scores(probes, labels))
    assert sums[2] == 4
