"""MBTFusionHead and BottleneckFusion: the paper's bottleneck exchange, the
cross-modal flow it allows, widths, bf16 autocast, predict, a real Runner and
1 vs 2 gloo processes."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from tiny_runs import (tiny_avdigits_config, train_on_one_and_two_processes,
                       write_config)

import rollingq_mm  # noqa: F401
from rollingq_mm.keys import BOTTLENECK_SCALAR, BOTTLENECK_SHARE_KEY
from rollingq_mm.models.layers import BottleneckFusion

CLASSES = 5


@pytest.fixture(autouse=True)
def scope():
    init_default_scope('mmaction')
    torch.manual_seed(0)


def build_head(**kwargs):
    cfg = dict(type='MBTFusionHead', num_classes=CLASSES,
               in_channels=dict(audio=12, visual=12), num_layers=2,
               num_bottlenecks=3, num_heads=2, mlp_ratio=2.0)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def random_feats(widths=(12, 12), lengths=(5, 4), batch=3, **kwargs):
    return {name: torch.randn(batch, length, width, **kwargs)
            for name, width, length in zip(('audio', 'visual'), widths,
                                           lengths)}


def layer_norm(x, norm):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean)**2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias


def reference_layer(block, z):
    """y = z + MSA(LN(z)), z' = y + MLP(LN(y)), written out; also the CLS
    row of the attention (B, H, L)."""
    batch, length, dim = z.shape
    heads = block.num_heads
    d = dim // heads
    qkv = layer_norm(z, block.norm1) @ block.qkv.weight.T + block.qkv.bias
    q, k, v = (t.reshape(batch, length, heads, d).transpose(1, 2)
               for t in qkv.split(dim, dim=-1))
    attention = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
    mixed = (attention @ v).transpose(1, 2).reshape(batch, length, dim)
    y = z + mixed @ block.proj.weight.T + block.proj.bias
    hidden = layer_norm(y, block.norm2) @ block.fc1.weight.T + block.fc1.bias
    hidden = 0.5 * hidden * (1 + torch.erf(hidden / math.sqrt(2)))
    return y + hidden @ block.fc2.weight.T + block.fc2.bias, \
        attention[:, :, 0]


def reference_head(head, feats):
    """MBT with plain torch ops and the head's weights: per modality
    [z_m || z_fsn] through its own layer, z_fsn <- mean of the updates,
    the CLS outputs through one classifier, logits averaged."""
    fusion = head.fusion
    tokens = []
    for name in head.modalities:
        x = feats[name]
        if name in head.projections:
            proj = head.projections[name]
            x = x @ proj.weight.T + proj.bias
        tokens.append(x)
    batch = tokens[0].shape[0]
    z = [torch.cat([fusion.cls_tokens[m].expand(batch, 1, -1), x], dim=1)
         for m, x in enumerate(tokens)]
    fsn = fusion.bottleneck.expand(batch, -1, -1)
    for blocks in fusion.layers:
        updates, shares = [], []
        for m, block in enumerate(blocks):
            length = z[m].shape[1]
            out, attention = reference_layer(block, torch.cat([z[m], fsn], 1))
            z[m], update = out[:, :length], out[:, length:]
            updates.append(update)
            shares.append(attention[:, :, length:].sum(-1).mean(1))
        fsn = sum(updates) / len(updates)
    logits = [layer_norm(seq[:, 0], fusion.norm) @ head.fc_cls.weight.T +
              head.fc_cls.bias for seq in z]
    return sum(logits) / len(logits), torch.stack(shares, dim=1)


def test_bottleneck_exchange_equals_the_papers_equations():
    head = build_head(in_channels=dict(audio=10, visual=7), fusion_dim=12,
                      num_layers=3, num_heads=3).double().eval()
    feats = random_feats(widths=(10, 7), dtype=torch.float64)
    logits, extras = head(feats)
    expected, share = reference_head(head, feats)
    share = share.detach()
    assert torch.allclose(logits['fused'], expected, atol=1e-6, rtol=0)
    assert torch.allclose(extras[BOTTLENECK_SHARE_KEY], share, atol=1e-6,
                          rtol=0)
    assert ((share > 0) & (share < 1)).all()
    for index, name in enumerate(head.modalities):
        assert extras[BOTTLENECK_SCALAR.format(name)] == pytest.approx(
            float(share[:, index].mean()), abs=1e-6)


def test_next_bottleneck_is_the_mean_of_the_modality_updates():
    head = build_head(num_layers=3).eval()
    inputs, outputs = {}, {}

    def record(key):
        def hook(module, args, out):
            inputs[key], outputs[key] = args[0], out[0]
        return hook

    for layer, blocks in enumerate(head.fusion.layers):
        for m, block in enumerate(blocks):
            block.register_forward_hook(record((layer, m)))
    head(random_feats())
    count = head.fusion.num_bottlenecks
    for layer in (1, 2):
        updates = [outputs[(layer - 1, m)][:, -count:] for m in (0, 1)]
        assert not torch.allclose(updates[0], updates[1])
        for m in (0, 1):
            assert torch.allclose(inputs[(layer, m)][:, -count:],
                                  (updates[0] + updates[1]) / 2, atol=1e-6)
    for m in (0, 1):
        assert torch.equal(inputs[(0, m)][:, -count:],
                           head.fusion.bottleneck.expand(3, -1, -1))


@pytest.mark.parametrize('num_layers,num_bottlenecks,fusion_layer,flows', [
    (2, 0, 0, False),  # no bottleneck: late fusion
    (3, 4, 0, True),
    (2, 1, 0, True),
    (1, 4, 0, False),  # what enters the bottleneck reaches a CLS one later
    (3, 4, 2, False),  # only the last layer fuses
    (3, 4, 1, True),
])
def test_tokens_reach_the_other_cls_only_through_the_bottleneck(
        num_layers, num_bottlenecks, fusion_layer, flows):
    fusion = BottleneckFusion(8, 2, num_layers=num_layers,
                              num_bottlenecks=num_bottlenecks, num_heads=2,
                              fusion_layer=fusion_layer)
    audio = torch.randn(2, 5, 8, requires_grad=True)
    visual = torch.randn(2, 3, 8, requires_grad=True)
    cls, share = fusion([audio, visual])
    for own, other, index in ((audio, visual, 0), (visual, audio, 1)):
        own_grad, other_grad = torch.autograd.grad(
            cls[:, index].square().sum(), [own, other], retain_graph=True)
        assert own_grad.abs().sum() > 0
        assert (other_grad.abs().sum() > 0) == flows
    if num_bottlenecks == 0 or fusion_layer >= num_layers:
        assert torch.equal(share, torch.zeros(2, 2))


def test_unequal_widths_are_projected_to_fusion_dim():
    head = build_head(in_channels=dict(audio=24, visual=16), fusion_dim=16)
    assert list(head.projections) == ['audio']
    assert head.projections['audio'].in_features == 24
    logits, extras = head(random_feats(widths=(24, 16)))
    assert logits['fused'].shape == (3, CLASSES)
    assert extras[BOTTLENECK_SHARE_KEY].shape == (3, 2)
    both = build_head(in_channels=dict(audio=24, visual=16), fusion_dim=20,
                      num_heads=4)
    assert sorted(both.projections) == ['audio', 'visual']
    with pytest.raises(ValueError, match='fusion_dim'):
        build_head(in_channels=dict(audio=24, visual=16))


@pytest.mark.parametrize('kwargs,match', [
    (dict(num_heads=5), 'num_heads'),
    (dict(num_layers=0), 'num_layers'),
    (dict(num_bottlenecks=-1), 'num_bottlenecks'),
    (dict(dropout=1.0), 'dropout'),
    (dict(modalities=['audio'], in_channels=12), 'two modalities'),
])
def test_bad_arguments_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_head(**kwargs)


def test_bf16_autocast_runs_and_stays_close_to_float32():
    head = build_head(num_layers=3).eval()
    feats = random_feats(lengths=(40, 30), batch=4)
    reference, ref_extras = head(feats)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits, extras = head(feats)
    scale = reference['fused'].abs().max()
    assert torch.isfinite(logits['fused']).all()
    assert (logits['fused'].float() - reference['fused']).abs().max() < \
        0.05 * scale
    assert torch.allclose(extras[BOTTLENECK_SHARE_KEY].float(),
                          ref_extras[BOTTLENECK_SHARE_KEY], atol=0.02)
    head.train()
    samples = [ActionDataSample().set_gt_label(i % CLASSES) for i in range(4)]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = head.loss(feats, samples)
    losses['loss_cls'].backward()
    grads = [p.grad for p in head.fusion.parameters()]
    assert all(g is not None and g.dtype == torch.float32 and
               torch.isfinite(g).all() for g in grads)


def test_loss_and_predict_match_the_other_heads():
    head = build_head()
    feats = random_feats()
    samples = [ActionDataSample().set_gt_label(i) for i in range(3)]
    losses = head.loss(feats, samples)
    assert {'loss_cls', 'loss_probe_audio', 'loss_probe_visual',
            'bottleneck_attn_audio', 'bottleneck_attn_visual'} <= set(losses)
    for name in ('audio', 'visual'):
        assert 0 < float(losses[BOTTLENECK_SCALAR.format(name)]) < 1
    logits, _ = head(feats)
    assert torch.allclose(losses['loss_cls'], F.cross_entropy(
        logits['fused'], torch.arange(3)))
    head.eval()
    predicted = head.predict(feats, [ActionDataSample() for _ in range(3)])
    for index, sample in enumerate(predicted):
        assert set(sample.pred_score) == {'fused', 'audio', 'visual'}
        for score in sample.pred_score.values():
            assert score.shape == (CLASSES,)
            assert float(score.sum()) == pytest.approx(1.0, abs=1e-6)
        assert torch.allclose(sample.pred_score['fused'],
                              logits['fused'][index].softmax(-1))
        assert int(sample.pred_label) == int(logits['fused'][index].argmax())


def mbt_tiny_config(work_dir, **kwargs):
    cfg = tiny_avdigits_config(work_dir, name='mbt_avdigits.py', **kwargs)
    assert cfg.model.fusion_head.type == 'MBTFusionHead'
    assert not cfg.custom_hooks
    return cfg


def test_trains_in_a_real_runner_on_avdigits(tmp_path):
    cfg = mbt_tiny_config(tmp_path, train_samples=16, val_samples=8,
                          max_epochs=2)
    runner = Runner.from_cfg(cfg)
    head = runner.model.fusion_head
    runner.model.init_weights()
    before = {k: v.detach().clone() for k, v in head.state_dict().items()}
    runner.train()
    hub = runner.message_hub
    for name in ('audio', 'visual'):
        values = hub.get_scalar(f'train/bottleneck_attn_{name}').data[0]
        assert len(values) == 4 and all(0 < v < 1 for v in values)
        assert f'val/acc/{name}_top1' in hub.log_scalars
    assert 'val/acc/fused_top1' in hub.log_scalars
    after = head.state_dict()
    for key in ('fusion.bottleneck', 'fusion.cls_tokens',
                'fusion.layers.1.1.qkv.weight', 'fc_cls.weight'):
        assert not torch.equal(before[key], after[key]), key


@pytest.mark.slow
def test_two_gloo_processes_train_as_one_with_the_same_total_batch(
        tmp_path):
    """4 SGD steps (lr 0.1, momentum 0.9) from the same weights, batch 8 in
    1 process vs 2 processes x 4 clips, dropout off: the same parameters
    within 1e-5, while training moved them by far more. Not AdamW: it
    divides by sqrt(v), so a parameter whose gradient is zero up to rounding
    (the key biases: softmax ignores them) moves by about lr either way."""
    start = mbt_tiny_config(tmp_path / 'start')
    model = MODELS.build(start.model)
    model.init_weights()
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(dict(state_dict=initial), tmp_path / 'start.pth')
    configs = {}
    for processes, batch in ((1, 8), (2, 4)):
        work_dir = tmp_path / f'{processes}proc'
        cfg = mbt_tiny_config(work_dir, batch_size=batch, max_epochs=1,
                              dropout=0.0)
        cfg.model.fusion_head.dropout = 0.0
        cfg.param_scheduler = []
        cfg.optim_wrapper = dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
        cfg.load_from = str(tmp_path / 'start.pth')
        config = write_config(cfg, tmp_path / f'{processes}proc.py')
        configs[processes] = config
    train_on_one_and_two_processes(configs, '29683', '--no-validate')
    states = [torch.load(tmp_path / f'{p}proc' / 'epoch_1.pth',
                         map_location='cpu', weights_only=False)['state_dict']
              for p in (1, 2)]
    largest = 0.0
    for key, value in states[0].items():
        assert torch.allclose(value, states[1][key], atol=1e-5, rtol=0), (
            key, float((value - states[1][key]).abs().max()))
        if value.is_floating_point():
            largest = max(largest, float((value - initial[key]).abs().max()))
    assert largest > 1e-3
    for key in ('fusion_head.fusion.bottleneck',
                'fusion_head.fusion.layers.1.0.qkv.weight'):
        assert not torch.equal(states[0][key], initial[key]), key
