"""AttentionShareMetric and ModalityContributionMetric on known records."""
import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample

from rollingq_mm.evaluation import (AttentionShareMetric,
                                    ModalityContributionMetric)
from rollingq_mm.models import RollingQFusionHead


def attention_samples(shares, cosines=None):
    samples = []
    for index, share in enumerate(shares):
        sample = dict(attn_share=torch.tensor(share))
        if cosines is not None:
            sample['modality_cos'] = torch.tensor(cosines[index])
        samples.append(sample)
    return samples


def test_attention_share_statistics_and_air():
    rng = np.random.default_rng(0)
    audio = rng.uniform(0.2, 0.8, size=50)
    shares = np.stack([audio, 0.9 - audio], axis=1)
    cosines = rng.uniform(-1, 1, size=(50, 2))
    metric = AttentionShareMetric(modalities=('audio', 'visual'))
    metric.process({}, attention_samples(shares.tolist(), cosines.tolist()))
    result = metric.evaluate(50)
    assert result['attn/audio_mean'] == pytest.approx(audio.mean(), abs=1e-6)
    assert result['attn/visual_std'] == pytest.approx(audio.std(), abs=1e-6)
    assert result['attn/audio_p90'] == pytest.approx(
        np.quantile(audio, 0.9), abs=1e-6)
    expected_air = cosines[:, 0].mean() - cosines[:, 1].mean()
    assert result['attn/air'] == pytest.approx(expected_air, abs=1e-6)


def test_attention_share_without_cosines_has_no_air():
    metric = AttentionShareMetric(modalities=('audio', 'visual'))
    metric.process({}, attention_samples([[0.3, 0.6], [0.5, 0.4]]))
    result = metric.evaluate(2)
    assert 'attn/air' not in result
    assert result['attn/audio_mean'] == pytest.approx(0.4)


def test_attention_share_reports_the_normalised_share_beside_the_raw():
    shares = [[0.1, 0.8], [0.3, 0.6]]
    normalised = [[0.5, 0.5], [0.8, 0.2]]
    samples = attention_samples(shares)
    for sample, norm in zip(samples, normalised):
        sample['attn_share_norm'] = torch.tensor(norm)
    metric = AttentionShareMetric(modalities=('audio', 'visual'),
                                  quantiles=(0.5, ))
    metric.process({}, samples)
    result = metric.evaluate(2)
    assert result['attn/audio_mean'] == pytest.approx(0.2)
    assert result['attn/audio_norm_mean'] == pytest.approx(0.65)
    assert result['attn/visual_norm_std'] == pytest.approx(0.15)
    assert result['attn/visual_norm_p50'] == pytest.approx(0.35)
    assert result['attn/visual_p50'] == pytest.approx(0.7)


def test_attention_share_metric_on_uniform_attention_of_unequal_tokens():
    """289 visual and 38 audio tokens, uniform attention: raw shares follow
    the token counts, normalised shares are 1/2 each."""
    head = RollingQFusionHead(num_classes=3, in_channels=4, attn_drop=0.0,
                              proj_drop=0.0).eval()
    with torch.no_grad():
        head.attn.k_proj.weight.zero_()
        head.attn.k_proj.bias.zero_()
    feats = dict(audio=torch.randn(2, 38, 4), visual=torch.randn(2, 289, 4))
    samples = head.predict(feats, [ActionDataSample() for _ in range(2)])
    metric = AttentionShareMetric(modalities=('audio', 'visual'))
    metric.process({}, [sample.to_dict() for sample in samples])
    result = metric.evaluate(2)
    assert result['attn/visual_mean'] == pytest.approx(289 / 328, abs=1e-6)
    assert result['attn/audio_mean'] == pytest.approx(38 / 328, abs=1e-6)
    for name in ('audio', 'visual'):
        assert result[f'attn/{name}_norm_mean'] == pytest.approx(0.5,
                                                                 abs=1e-6)


def test_attention_share_errors_name_the_problem():
    with pytest.raises(ValueError, match='at least two distinct'):
        AttentionShareMetric(modalities=('audio', 'audio'))
    metric = AttentionShareMetric(modalities=('audio', 'visual'))
    with pytest.raises(KeyError, match="no 'attn_share'"):
        metric.process({}, [dict(pred_score=torch.ones(3))])
    with pytest.raises(ValueError, match='3 entries'):
        metric.process({}, attention_samples([[0.2, 0.3, 0.5]]))


def contribution_sample(label, fused, without_audio, without_visual):
    def one_hot(k):
        return torch.eye(4)[k]
    return dict(gt_label=torch.tensor([label]), pred_score=dict(
        fused=one_hot(fused), fused_without_audio=one_hot(without_audio),
        fused_without_visual=one_hot(without_visual)))


def test_contribution_drops():
    samples = [
        contribution_sample(0, 0, 1, 0),
        contribution_sample(1, 1, 2, 1),
        contribution_sample(2, 2, 2, 3),
        contribution_sample(3, 0, 0, 0),
    ]
    metric = ModalityContributionMetric(modalities=('audio', 'visual'))
    metric.process({}, samples)
    result = metric.evaluate(4)
    assert result['contrib/fused_without_audio_top1'] == pytest.approx(0.25)
    assert result['contrib/audio_drop'] == pytest.approx(0.75 - 0.25)
    assert result['contrib/visual_drop'] == pytest.approx(0.75 - 0.5)


def test_contribution_needs_ablated_scores():
    metric = ModalityContributionMetric(modalities=('audio', 'visual'))
    with pytest.raises(KeyError, match=r"tta_model = dict\(type="
                       r"'ModalityAblationTTA'.*--tta"):
        metric.process({}, [dict(gt_label=torch.tensor([0]),
                                 pred_score=dict(fused=torch.ones(4)))])
