"""AudioVisualRecognizer with real mmaction2 / mmpretrain encoders."""
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.optim import AmpOptimWrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

NUM_CLASSES = 3
VIT = dict(type='mmpretrain.VisionTransformer',
           arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                     feedforward_channels=32),
           img_size=(32, 16), patch_size=8, in_channels=1, out_type='raw')
SLOWONLY = dict(type='ResNet3dSlowOnly', depth=18, pretrained=None,
                base_channels=8, lateral=False, conv1_kernel=(1, 7, 7),
                inflate=(0, 0, 1, 1), norm_eval=False)
RESNET2D = dict(type='mmpretrain.ResNet', depth=18, stem_channels=8,
                base_channels=8)


@pytest.fixture(autouse=True)
def scope():
    init_default_scope('mmaction')
    torch.manual_seed(0)


def recognizer(visual=SLOWONLY, frame_wise=False, head='ConcatFusionHead',
               **head_kwargs):
    """A tiny recognizer: ViT audio encoder, CNN video encoder."""
    return MODELS.build(dict(
        type='AudioVisualRecognizer',
        modalities=dict(
            audio=dict(input_key='audios', backbone=VIT,
                       tokenizer=dict(type='TokenNeck', in_channels=16)),
            visual=dict(input_key='imgs', backbone=visual,
                        frame_wise=frame_wise,
                        tokenizer=dict(type='TokenNeck', in_channels=64,
                                       out_channels=16))),
        fusion_head=dict(type=head, num_classes=NUM_CLASSES, **head_kwargs),
        data_preprocessor=dict(
            type='MultiModalDataPreprocessor',
            preprocessors=dict(
                imgs=dict(type='ActionDataPreprocessor', mean=[128] * 3,
                          std=[64] * 3, format_shape='NCTHW'),
                audios=dict(type='ActionDataPreprocessor',
                            format_shape='NCHW')))))


def batch(size=2, views=1, audio_views=None, frames=3):
    """Inputs (B, N, ...) and samples, as PackActionInputs + collate give."""
    audio_views = views if audio_views is None else audio_views
    inputs = dict(audios=torch.randn(size, audio_views, 1, 32, 16),
                  imgs=torch.rand(size, views, 3, frames, 32, 32) * 255)
    samples = [ActionDataSample().set_gt_label(i % NUM_CLASSES)
               for i in range(size)]
    return inputs, samples


def test_loss_trains_both_encoders_and_reports_the_head_scalars():
    model = recognizer(head='RollingQFusionHead', attn_drop=0.0,
                       proj_drop=0.0)
    inputs, samples = batch()
    losses = model(inputs, samples, mode='loss')
    assert {'loss_cls', 'loss_probe_audio', 'loss_probe_visual', 'air',
            'attn_audio', 'attn_visual'} <= set(losses)
    losses['loss_cls'].backward()
    for name in ('audio', 'visual'):
        grads = [p.grad for p in model.encoders[name].parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name


@pytest.mark.parametrize('visual, channels, num_tokens', [
    (dict(type='X3D', gamma_w=0.1, gamma_b=0.25, gamma_d=0.1,
          pretrained=None), 16, 4 * 1 * 1),
    (dict(type='VisionTransformer', img_size=32, patch_size=16,
          embed_dims=64, depth=1, num_heads=2, num_frames=4,
          tubelet_size=2, return_feat_map=True), 64, 2 * 2 * 2),
    (dict(type='VisionTransformer', img_size=32, patch_size=16,
          embed_dims=64, depth=1, num_heads=2, num_frames=4,
          tubelet_size=2), 64, 1),
])
def test_mmaction2_video_backbones(visual, channels, num_tokens):
    model = MODELS.build(dict(
        type='AudioVisualRecognizer',
        modalities=dict(
            audio=dict(input_key='audios', backbone=VIT,
                       tokenizer=dict(type='TokenNeck', in_channels=16)),
            visual=dict(input_key='imgs', backbone=visual,
                        tokenizer=dict(type='TokenNeck',
                                       in_channels=channels,
                                       out_channels=16))),
        fusion_head=dict(type='ConcatFusionHead', num_classes=NUM_CLASSES)))
    inputs, samples = batch(frames=4)
    assert model.extract_feat(inputs)['visual'].shape == (2, num_tokens, 16)
    model(inputs, samples, mode='loss')['loss_cls'].backward()
    grads = [p.grad for p in model.encoders['visual'].parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_tensor_mode_gives_tokens_per_modality():
    model = recognizer()
    feats = model(*batch()[:1], mode='tensor')
    assert feats['audio'].shape == (2, 1 + 4 * 2, 16)
    assert feats['visual'].shape == (2, 3 * 1 * 1, 16)


def test_frame_wise_backbone_sees_every_frame_of_every_clip():
    model = recognizer(visual=RESNET2D, frame_wise=True).eval()
    inputs, _ = batch(frames=4)
    tokens = model.extract_feat(inputs)['visual']
    assert tokens.shape == (2, 4 * 1, 16)
    tokenizer = model.tokenizers['visual']
    for b in range(2):
        for t in range(4):
            frame = inputs['imgs'][b, 0, :, t][None]
            expected = tokenizer(model.encoders['visual'](frame))
            assert torch.allclose(tokens[b, t], expected[0, 0], atol=1e-5)


def test_views_are_averaged_at_test_and_each_view_is_a_training_sample():
    model = recognizer(head='RollingQFusionHead', attn_drop=0.0,
                       proj_drop=0.0).eval()
    inputs, samples = batch(views=2)
    with torch.no_grad():
        merged = model(inputs, samples, mode='predict')
        singles = [
            model({k: v[:, i:i + 1] for k, v in inputs.items()},
                  [s.clone() for s in samples], mode='predict')
            for i in range(2)
        ]
    for b, sample in enumerate(merged):
        for key in ('fused', 'audio', 'visual'):
            expected = (singles[0][b].pred_score[key] +
                        singles[1][b].pred_score[key]) / 2
            assert torch.allclose(sample.pred_score[key], expected,
                                  atol=1e-6)
        for key in ('attn_share', 'modality_cos'):
            assert torch.allclose(
                sample.get(key),
                (singles[0][b].get(key) + singles[1][b].get(key)) / 2)
        assert sample.pred_label.item() == sample.pred_score['fused'].argmax()
    losses = model(inputs, samples, mode='loss')
    per_view = [
        model({k: v[:, i:i + 1] for k, v in inputs.items()}, samples,
              mode='loss')['loss_cls'] for i in range(2)
    ]
    assert torch.allclose(losses['loss_cls'], sum(per_view) / 2, atol=1e-6)


def test_a_single_view_modality_is_shared_by_all_views():
    model = recognizer().eval()
    inputs, samples = batch(views=3, audio_views=1)
    with torch.no_grad():
        merged = model(inputs, samples, mode='predict')
        first = model({'audios': inputs['audios'],
                       'imgs': inputs['imgs'][:, :1]},
                      [s.clone() for s in samples], mode='predict')
    assert merged[0].pred_score['audio'].allclose(first[0].pred_score['audio'])
    inputs['audios'] = inputs['audios'].repeat(1, 2, 1, 1, 1)
    with pytest.raises(ValueError, match='numbers of views'):
        model(inputs, samples, mode='predict')


def test_input_and_config_errors_name_the_key():
    model = recognizer()
    inputs, samples = batch()
    with pytest.raises(KeyError, match=r'"visual" reads inputs\["imgs"\]'):
        model({'audios': inputs['audios']}, samples, mode='loss')
    with pytest.raises(ValueError, match='frame_wise'):
        recognizer(visual=RESNET2D, frame_wise=True)(
            {'audios': inputs['audios'], 'imgs': inputs['imgs'][:, :, :, 0]},
            samples, mode='loss')
    good = dict(input_key='audios', backbone=VIT,
                tokenizer=dict(type='TokenNeck', in_channels=16))
    with pytest.raises(ValueError, match='unknown keys'):
        MODELS.build(dict(type='AudioVisualRecognizer',
                          modalities=dict(audio=dict(good, neck={})),
                          fusion_head=dict(type='UnimodalHead',
                                           num_classes=2)))
    with pytest.raises(ValueError, match='differs from the order'):
        MODELS.build(dict(type='AudioVisualRecognizer',
                          modalities=dict(audio=good,
                                          visual=dict(good,
                                                      input_key='imgs')),
                          fusion_head=dict(type='ConcatFusionHead',
                                           num_classes=2,
                                           modalities=['visual', 'audio'])))
    with pytest.raises(ValueError, match='in_channels=16.*in_channels=64'):
        MODELS.build(dict(
            type='AudioVisualRecognizer',
            modalities=dict(visual=dict(
                input_key='imgs', backbone=SLOWONLY,
                tokenizer=dict(type='TokenNeck', in_channels=16))),
            fusion_head=dict(type='UnimodalHead', num_classes=2)))(
                {'imgs': inputs['imgs']}, samples, mode='loss')


def test_train_step_with_mmengine_amp_bf16_on_cpu(monkeypatch):
    """``--amp``: mmengine's AmpOptimWrapper (CPU autocast is bfloat16)."""
    if not torch.cuda.is_available():
        # AmpOptimWrapper refuses CPU-only machines up front; its autocast
        # and GradScaler work on CPU, which is what this test exercises.
        monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                            lambda: True)
    model = recognizer(head='RollingQFusionHead')
    wrapper = AmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        dtype='bfloat16' if not torch.cuda.is_available() else None)
    dtypes = []
    model.encoders['audio'].layers[0].attn.qkv.register_forward_hook(
        lambda module, args, out: dtypes.append(out.dtype))
    inputs, samples = batch()
    data = pseudo_collate([
        dict(inputs={k: v[i] for k, v in inputs.items()},
             data_samples=samples[i]) for i in range(2)
    ])
    before = model.encoders['audio'].patch_embed.projection.weight.clone()
    log_vars = model.train_step(data, wrapper)
    assert dtypes and dtypes[0] == torch.bfloat16
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log_vars.values())
    after = model.encoders['audio'].patch_embed.projection.weight
    assert after.dtype == torch.float32 and not torch.equal(before, after)


def test_inputs_are_checked_once_per_call(monkeypatch):
    model = recognizer().eval()
    checks = []
    check = model._check_inputs
    monkeypatch.setattr(model, '_check_inputs',
                        lambda inputs: checks.append(1) or check(inputs))
    inputs, samples = batch(views=2)
    with torch.no_grad():
        for mode in ('loss', 'predict', 'tensor'):
            checks.clear()
            model(inputs, [s.clone() for s in samples], mode=mode)
            assert len(checks) == 1, mode
