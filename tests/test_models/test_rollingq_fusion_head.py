"""Tests of BaseAVHead and RollingQFusionHead."""
import pytest
import torch
import torch.nn as nn
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.registry import init_default_scope

from rollingq_mm.models import (RollingQFusionHead, attention_imbalance_rate,
                                modality_cosines, plane_rotation)
from rollingq_mm.models.rollingq import token_normalised_share

CHANNELS, CLASSES = 8, 5
LENGTHS = dict(audio=3, visual=4)


def make_head(**kwargs) -> RollingQFusionHead:
    torch.manual_seed(0)
    config = dict(num_classes=CLASSES, in_channels=CHANNELS, attn_drop=0.0,
                  proj_drop=0.0)
    config.update(kwargs)
    return RollingQFusionHead(**config)


def make_feats(batch: int = 4, seed: int = 1, requires_grad=False):
    generator = torch.Generator().manual_seed(seed)
    return {
        name: torch.randn(batch, length, CHANNELS, generator=generator,
                          requires_grad=requires_grad)
        for name, length in LENGTHS.items()
    }


def make_samples(batch: int = 4):
    return [ActionDataSample().set_gt_label(i % CLASSES) for i in range(batch)]


def expected_cosines(head: RollingQFusionHead, feats) -> torch.Tensor:
    """cos(q, kbar_i^m) (B, M) computed directly from the head's weights."""
    with torch.no_grad():
        mean_keys = torch.stack(
            [head.attn.k_proj(feats[name]).mean(1) for name in LENGTHS], dim=1)
        return modality_cosines(head.current_query(), mean_keys)


def full_attention_cls_row(head: RollingQFusionHead, feats):
    """Output of a full softmax(Q Kᵀ) fusion layer at the CLS position and
    the CLS row of its attention, computed from the head's weights."""
    tokens = torch.cat([feats['audio'], feats['visual']], dim=1)
    batch = tokens.shape[0]
    sequence = torch.cat([head.cls_token.expand(batch, -1, -1), tokens], 1)
    heads, dim = head.num_heads, head.head_dim
    split = (lambda t: t.view(batch, -1, heads, dim).transpose(1, 2))
    attn = head.attn
    queries = split(attn.q_proj(sequence) @ head.rotation.T)
    keys, values = split(attn.k_proj(sequence)), split(attn.v_proj(sequence))
    attention = (queries @ keys.transpose(-1, -2) / dim**0.5).softmax(-1)
    output = (attention @ values).transpose(1, 2).reshape(batch, -1, CHANNELS)
    return head.fc_cls(attn.out_proj(output[:, 0])), attention[:, :, 0]


@pytest.mark.parametrize('num_heads', [1, 4])
def test_cls_row_equals_torch_multihead_attention(num_heads):
    head = make_head(num_heads=num_heads).eval()
    mha = nn.MultiheadAttention(CHANNELS, num_heads, batch_first=True)
    with torch.no_grad():
        attn = head.attn
        mha.in_proj_weight.copy_(torch.cat([
            attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]))
        mha.in_proj_bias.copy_(torch.cat(
            [attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias]))
        mha.out_proj.load_state_dict(attn.out_proj.state_dict())
    feats = make_feats()
    sequence = torch.cat([head.cls_token.expand(4, -1, -1), feats['audio'],
                          feats['visual']], dim=1)
    output, weights = mha(sequence, sequence, sequence)
    logits, extras = head.forward_fusion(feats)
    assert torch.allclose(logits, head.fc_cls(output[:, 0]), atol=1e-5)
    cls_row = weights[:, 0]
    expected_share = torch.stack(
        [cls_row[:, 1:4].sum(-1), cls_row[:, 4:].sum(-1)], dim=1)
    assert torch.allclose(extras['attn_share'], expected_share, atol=1e-6)


@pytest.mark.parametrize('num_heads', [1, 2])
def test_cls_row_equals_full_attention_with_a_rotated_query(num_heads):
    head = make_head(num_heads=num_heads).eval()
    generator = torch.Generator().manual_seed(3)
    head.apply_rotation(
        plane_rotation(torch.randn(CHANNELS, generator=generator),
                       torch.randn(CHANNELS, generator=generator)))
    feats = make_feats()
    expected_logits, cls_attention = full_attention_cls_row(head, feats)
    logits, extras = head.forward_fusion(feats)
    assert torch.allclose(logits, expected_logits, atol=1e-5)
    share = cls_attention.mean(dim=1)
    assert torch.allclose(extras['attn_share'][:, 0], share[:, 1:4].sum(-1),
                          atol=1e-6)


@pytest.mark.parametrize('num_heads', [1, 2])
def test_attend_equals_weighted_values_for_any_weights(num_heads):
    """Exact also when dropout leaves weights that do not sum to 1."""
    head = make_head(num_heads=num_heads)
    feats = make_feats()
    sequences = [head.cls_token.expand(4, -1, -1), feats['audio'],
                 feats['visual']]
    weights = torch.rand(4, num_heads, 8)
    values = head.attn.v_proj(torch.cat(sequences, dim=1)).view(
        4, 8, num_heads, CHANNELS // num_heads)
    expected = torch.einsum('bhl,blhd->bhd', weights, values).reshape(4, -1)
    values, means = head.attn.attend(weights, sequences)
    assert torch.allclose(values, expected, atol=1e-5)
    assert torch.allclose(means, torch.stack(
        [sequence.mean(dim=1) for sequence in sequences], dim=1), atol=1e-6)


def test_current_query_is_the_rotated_cls_projection():
    head = make_head()
    rotation = plane_rotation(torch.ones(CHANNELS), torch.arange(
        CHANNELS, dtype=torch.float32))
    head.apply_rotation(rotation)
    expected = rotation @ head.attn.q_proj(head.cls_token.view(1, -1)).view(-1)
    assert torch.allclose(head.current_query(), expected, atol=1e-6)


def test_apply_rotation_composes_on_the_left_and_counts():
    head = make_head()
    first = plane_rotation(torch.ones(CHANNELS), -torch.arange(
        CHANNELS, dtype=torch.float32))
    second = plane_rotation(torch.arange(CHANNELS, dtype=torch.float32),
                            torch.ones(CHANNELS))
    head.apply_rotation(first)
    head.apply_rotation(second)
    assert torch.allclose(head.rotation, second @ first, atol=1e-6)
    assert head.num_rotations.item() == 2
    with pytest.raises(ValueError, match='orthogonal'):
        head.apply_rotation(2 * torch.eye(CHANNELS))
    with pytest.raises(ValueError, match=r'\(8, 8\)'):
        head.apply_rotation(torch.eye(CHANNELS + 1))
    assert head.num_rotations.item() == 2


def test_rotation_state_round_trips_through_the_state_dict():
    head = make_head()
    head.apply_rotation(plane_rotation(torch.ones(CHANNELS),
                                       torch.eye(CHANNELS)[0]))
    fresh = make_head()
    assert fresh.num_rotations.item() == 0
    fresh.load_state_dict(head.state_dict())
    assert torch.equal(fresh.rotation, head.rotation)
    assert fresh.num_rotations.item() == 1


def test_gradients_reach_tokens_through_fusion_only():
    head = make_head(num_heads=2).train()
    feats = make_feats(requires_grad=True)
    losses = head.loss(feats, make_samples())
    inputs = [feats['audio'], feats['visual']]
    fused_grads = torch.autograd.grad(losses['loss_cls'], inputs,
                                      retain_graph=True)
    assert all(grad.abs().sum() > 0 for grad in fused_grads)
    probe_loss = losses['loss_probe_audio'] + losses['loss_probe_visual']
    probe_grads = torch.autograd.grad(
        probe_loss, inputs + [head.probes['audio'].weight],
        retain_graph=True, allow_unused=True)
    assert probe_grads[0] is None and probe_grads[1] is None
    assert probe_grads[2].abs().sum() > 0
    assert not head.rotation.requires_grad


def test_loss_reports_losses_air_and_shares():
    head = make_head().train()
    feats = make_feats()
    losses = head.loss(feats, make_samples())
    assert set(losses) == {
        'loss_cls', 'loss_probe_audio', 'loss_probe_visual', 'air',
        'attn_audio', 'attn_visual', 'norm_attn_audio', 'norm_attn_visual'
    }
    cosines = expected_cosines(head, feats)
    assert losses['air'].item() == pytest.approx(
        attention_imbalance_rate(cosines).item(), abs=1e-6)
    shares = losses['attn_audio'] + losses['attn_visual']
    assert 0.0 < shares.item() < 1.0
    assert not losses['air'].requires_grad


def test_training_forwards_update_statistics_and_eval_does_not():
    head = make_head().train()
    batches = [make_feats(batch=3, seed=1), make_feats(batch=2, seed=2)]
    for feats in batches:
        head(feats)
    head.eval()
    head(make_feats(batch=5, seed=3))
    summary = head.air_statistics.summary()
    assert summary['count'] == 5
    with torch.no_grad():
        mean_keys = torch.cat([
            torch.stack([head.attn.k_proj(f[name]).mean(1)
                         for name in LENGTHS], 1)
            for f in batches
        ])
    cosines = torch.cat([expected_cosines(head, f) for f in batches])
    assert torch.allclose(summary['mean_keys'], mean_keys.double().mean(0),
                          atol=1e-6)
    assert torch.allclose(summary['cosines'], cosines.double().mean(0),
                          atol=1e-6)


def test_predict_fills_scores_labels_and_shares():
    head = make_head().eval()
    samples = head.predict(make_feats(), make_samples())
    for sample in samples:
        assert set(sample.pred_score) == {'fused', 'audio', 'visual'}
        for score in sample.pred_score.values():
            assert score.shape == (CLASSES, )
            assert score.sum().item() == pytest.approx(1.0, abs=1e-5)
        assert sample.pred_label.item() == sample.pred_score['fused'].argmax()
        assert sample.attn_share.shape == (2, )
        assert 0.0 < sample.attn_share.sum().item() < 1.0
    assert torch.allclose(torch.stack([s.modality_cos for s in samples]),
                          expected_cosines(head, make_feats()), atol=1e-6)


def test_different_widths_are_projected_to_fusion_dim():
    head = RollingQFusionHead(
        num_classes=CLASSES, in_channels=dict(audio=6, visual=CHANNELS),
        fusion_dim=CHANNELS)
    assert set(head.projections) == {'audio'}
    feats = dict(audio=torch.randn(2, 3, 6), visual=torch.randn(2, 4, 8))
    logits, _ = head(feats)
    assert logits['fused'].shape == (2, CLASSES)
    assert logits['audio'].shape == (2, CLASSES)


def test_builds_from_the_mmaction_registry():
    init_default_scope('mmaction')
    head = MODELS.build(dict(type='RollingQFusionHead', num_classes=3,
                             in_channels=CHANNELS, num_heads=2,
                             probe_pool='cls'))
    assert isinstance(head, RollingQFusionHead)
    assert head.num_heads == 2 and head.probe_pool == 'cls'


@pytest.mark.parametrize('kwargs, message', [
    (dict(fusion_dim=-4), 'fusion_dim'),
    (dict(num_heads=3), 'num_heads'),
    (dict(modalities=[]), 'modalities'),
    (dict(modalities=['audio', 'audio']), 'duplicates'),
    (dict(modalities=['audio']), 'at least two'),
    (dict(in_channels=dict(audio=8)), "missing \\['visual'\\]"),
    (dict(in_channels=dict(audio=8, visual=6)), 'set fusion_dim'),
    (dict(in_channels=0), "in_channels\\['audio'\\]"),
    (dict(attn_drop=1.5), 'attn_drop'),
    (dict(probe_pool='max'), 'probe_pool'),
])
def test_bad_configs_name_the_key(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_head(**kwargs)


def test_bad_inputs_name_the_key():
    head = make_head()
    feats = make_feats()
    with pytest.raises(ValueError, match="no key 'visual'"):
        head(dict(audio=feats['audio']))
    with pytest.raises(ValueError, match=r"feats\['audio'\] has 6 channels"):
        head(dict(audio=feats['audio'][..., :6], visual=feats['visual']))
    with pytest.raises(ValueError, match='batch sizes differ'):
        head(dict(audio=feats['audio'][:2], visual=feats['visual']))
    with pytest.raises(ValueError, match=r"feats\['visual'\] must be tokens"):
        head(dict(audio=feats['audio'], visual=feats['visual'][:, 0]))
    with pytest.raises(ValueError, match='data samples'):
        head.loss(feats, make_samples(3))


def uniform_attention_head_and_feats(lengths: dict, batch: int = 2):
    """A head whose keys are all zero (so its attention is uniform over
    1 + Σ L_m positions) and random tokens of the given lengths."""
    head = make_head().eval()
    with torch.no_grad():
        head.attn.k_proj.weight.zero_()
        head.attn.k_proj.bias.zero_()
    generator = torch.Generator().manual_seed(3)
    feats = {name: torch.randn(batch, length, CHANNELS, generator=generator)
             for name, length in lengths.items()}
    return head, feats


def test_normalised_share_is_one_over_m_under_uniform_attention():
    head, feats = uniform_attention_head_and_feats(dict(audio=38,
                                                        visual=289))
    _, extras = head(feats)
    total = 1 + 38 + 289
    raw = torch.tensor([38 / total, 289 / total]).expand(2, 2)
    assert torch.allclose(extras['attn_share'], raw, atol=1e-6)
    assert torch.allclose(extras['attn_share_norm'],
                          torch.full((2, 2), 0.5), atol=1e-6)
    losses = head.train().loss(feats, make_samples(2))
    assert losses['attn_visual'].item() == pytest.approx(289 / total)
    assert losses['norm_attn_visual'].item() == pytest.approx(0.5)
    assert losses['norm_attn_audio'].item() == pytest.approx(0.5)
    summary = head.air_statistics.summary()
    assert torch.allclose(summary['attn_share_norm'],
                          torch.full((2,), 0.5, dtype=torch.float64))
    samples = head.eval().predict(feats, make_samples(2))
    assert torch.allclose(samples[0].attn_share_norm, torch.full((2,), 0.5))


def test_token_normalised_share_formula():
    shares = torch.tensor([[0.4, 0.4], [0.2, 0.6], [0.0, 0.0]])
    normalised = token_normalised_share(shares, [2, 8])
    # (0.4/2, 0.4/8) = (0.2, 0.05) -> (0.8, 0.2); (0.1, 0.075) -> 4/7, 3/7.
    expected = torch.tensor([[0.8, 0.2], [4 / 7, 3 / 7], [0.0, 0.0]])
    assert torch.allclose(normalised, expected)
    three = token_normalised_share(torch.tensor([0.1, 0.3, 0.5]), [1, 3, 5])
    assert torch.allclose(three, torch.full((3,), 1 / 3))
    with pytest.raises(ValueError, match='token counts'):
        token_normalised_share(shares, [2])
    with pytest.raises(ValueError, match='token counts'):
        token_normalised_share(shares, [2, 0])


def test_training_loss_counts_probe_hits_and_eval_loss_does_not():
    head = make_head().train()
    feats, samples = make_feats(batch=5), make_samples(5)
    head.loss(feats, samples)
    with torch.no_grad():
        labels = torch.tensor([i % CLASSES for i in range(5)])
        expected = torch.stack([
            (head.probes[name](feats[name].mean(1)).argmax(-1) == labels
             ).double().mean() for name in LENGTHS])
    summary = head.air_statistics.summary()
    assert torch.allclose(summary['probe_accuracy'], expected)
    head.eval().loss(make_feats(batch=3, seed=2), make_samples(3))
    assert torch.allclose(head.air_statistics.summary()['probe_accuracy'],
                          expected)
    with head.recording_statistics():
        head.loss(make_feats(batch=3, seed=2), make_samples(3))
    assert head.air_statistics.summary()['count'] == 8
