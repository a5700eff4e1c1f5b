"""ConcatFusionHead and UnimodalHead: fusion, losses, outputs, gradients."""
import pytest
import torch
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401
from mmaction.evaluation import AccMetric
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

NUM_CLASSES = 5


@pytest.fixture(autouse=True)
def scope():
    init_default_scope('mmaction')
    torch.manual_seed(0)


def tokens(batch=4, widths=(6, 10), lengths=(3, 7)):
    """Random tokens per modality that require gradients."""
    return {
        name: torch.randn(batch, length, width, requires_grad=True)
        for name, width, length in zip(('audio', 'visual'), widths, lengths)
    }


def samples(batch=4):
    return [ActionDataSample().set_gt_label(i % NUM_CLASSES)
            for i in range(batch)]


def build(type_, **kwargs):
    return MODELS.build(dict(type=type_, num_classes=NUM_CLASSES,
                             in_channels=dict(audio=6, visual=10), **kwargs))


def test_concat_logits_are_a_linear_map_of_the_pooled_features():
    head = build('ConcatFusionHead')
    feats = tokens()
    fused, extras = head.forward_fusion(feats)
    pooled = torch.cat([feats['audio'].mean(1), feats['visual'].mean(1)], -1)
    assert head.fc_cls.in_features == 16
    assert torch.allclose(fused, head.fc_cls(pooled))
    assert extras == {}
    cls_head = build('ConcatFusionHead', probe_pool='cls')
    cls_head.load_state_dict(head.state_dict())
    pooled = torch.cat([feats['audio'][:, 0], feats['visual'][:, 0]], -1)
    assert torch.allclose(cls_head.forward_fusion(feats)[0],
                          head.fc_cls(pooled))


@pytest.mark.parametrize('type_, kwargs', [
    ('ConcatFusionHead', {}),
    ('UnimodalHead', dict(modality='visual')),
])
def test_losses_and_predictions_have_the_shared_keys(type_, kwargs):
    head = build(type_, **kwargs)
    losses = head.loss(tokens(), samples())
    assert set(losses) == {'loss_cls', 'loss_probe_audio', 'loss_probe_visual'}
    assert all(torch.isfinite(v) for v in losses.values())
    head.eval()
    preds = head.predict(tokens(), samples())
    for sample in preds:
        assert set(sample.pred_score) == {'fused', 'audio', 'visual'}
        for score in sample.pred_score.values():
            assert score.shape == (NUM_CLASSES, )
            assert torch.isclose(score.sum(), torch.tensor(1.0))
        assert sample.pred_label.item() == sample.pred_score['fused'].argmax()
        assert 'attn_share' not in sample
    metric = AccMetric()
    metric.process([], [s.to_dict() for s in preds])
    assert {'fused_top1', 'audio_top1', 'visual_top1'} <= set(
        metric.compute_metrics(metric.results))


def test_concat_trains_both_encoders_through_the_fused_loss_only():
    head = build('ConcatFusionHead')
    feats = tokens()
    losses = head.loss(feats, samples())
    losses['loss_cls'].backward(retain_graph=True)
    assert all(feats[m].grad.abs().sum() > 0 for m in feats)
    for m in feats:
        feats[m].grad = None
    (losses['loss_probe_audio'] + losses['loss_probe_visual']).backward()
    assert all(feats[m].grad is None for m in feats)
    assert head.probes['audio'].weight.grad.abs().sum() > 0


def test_unimodal_head_ignores_the_other_modality():
    head = build('UnimodalHead', modality='audio')
    head.eval()
    feats = tokens()
    fused = head.forward_fusion(feats)[0]
    changed = dict(feats, visual=torch.randn_like(feats['visual']))
    assert torch.equal(head.forward_fusion(changed)[0], fused)
    head.loss(feats, samples())['loss_cls'].backward()
    assert feats['audio'].grad.abs().sum() > 0
    assert feats['visual'].grad is None


def test_unimodal_head_with_a_single_modality_recognizer():
    head = MODELS.build(dict(type='UnimodalHead', num_classes=NUM_CLASSES,
                             modalities=['audio'], in_channels=6))
    assert head.modality == 'audio'
    feats = {'audio': torch.randn(2, 3, 6)}
    assert set(head.loss(feats, samples(2))) == {'loss_cls',
                                                 'loss_probe_audio'}


@pytest.mark.parametrize('kwargs, message', [
    (dict(), 'set modality to one of'),
    (dict(modality='depth'), "'depth' is not one of"),
    (dict(modality='audio', dropout=1.0), 'dropout must be in'),
])
def test_unimodal_head_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build('UnimodalHead', **kwargs)


def test_width_mismatch_is_reported_by_the_head():
    head = build('ConcatFusionHead')
    feats = tokens(widths=(6, 12))
    with pytest.raises(ValueError, match="feats\\['visual'\\] has 12"):
        head.loss(feats, samples())
