"""TokenNeck: every encoder output shape becomes (B, L, C) tokens."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401
from mmaction.registry import MODELS
from rollingq_mm.models import TokenNeck
from rollingq_mm.models.necks.token_neck import (interpolate_positions,
                                                 pool_tokens)


@pytest.fixture(autouse=True)
def scope():
    init_default_scope('mmaction')


def plain_neck(**kwargs):
    """A neck without embeddings: the output is the read tokens."""
    return TokenNeck(in_channels=kwargs.pop('in_channels', 8),
                     modality_embed=False, **kwargs)


def test_reads_every_output_shape_in_row_major_order():
    neck = plain_neck()
    pooled = torch.randn(2, 8)
    assert torch.equal(neck(pooled), pooled[:, None])
    tokens = torch.randn(2, 5, 8)
    assert torch.equal(neck(tokens), tokens)
    fmap = torch.randn(2, 8, 3, 4)
    out = neck(fmap)
    assert out.shape == (2, 12, 8)
    assert torch.equal(out[:, 1 * 4 + 2], fmap[:, :, 1, 2])
    video = torch.randn(2, 8, 2, 3, 4)
    out = neck(video)
    assert out.shape == (2, 24, 8)
    assert torch.equal(out[:, 1 * 12 + 2 * 4 + 3], video[:, :, 1, 2, 3])


def test_tuple_output_uses_the_last_stage():
    neck = plain_neck()
    last = torch.randn(2, 8, 2, 2)
    out = neck((torch.randn(2, 4, 4, 4), last))
    assert torch.equal(out, last.flatten(2).transpose(1, 2))


def test_frames_of_a_clip_are_concatenated_in_time_order():
    neck = plain_neck()
    frames = torch.randn(2 * 3, 8, 2, 2)  # (B*T, C, H, W), B=2, T=3
    out = neck(frames, num_frames=3)
    assert out.shape == (2, 3 * 4, 8)
    assert torch.equal(out[1, 4:8], frames[4].flatten(1).t())
    with pytest.raises(ValueError, match='clips of 4 frames'):
        neck(frames, num_frames=4)


def test_width_mismatch_names_the_modality_and_the_width():
    neck = TokenNeck(in_channels=16, modality='audio')
    with pytest.raises(ValueError, match=r'"audio".*512 channels.*'
                       r'in_channels=16.*in_channels=512'):
        neck(torch.randn(2, 512, 3, 3))
    with pytest.raises(ValueError, match='cannot read'):
        neck(torch.randn(2, 16, 1, 1, 1, 1))


def test_pooling_bounds_the_length_by_averaging_positions():
    neck = plain_neck(max_tokens=4)
    tokens = torch.randn(2, 12, 8)
    out = neck(tokens)
    assert out.shape == (2, 4, 8)
    assert torch.allclose(out[:, 1], tokens[:, 3:6].mean(1), atol=1e-6)
    short = torch.randn(2, 3, 8)
    assert torch.equal(neck(short), short)


def values_and_grads(fn, x: torch.Tensor, seed: int = 0):
    """``fn(x)`` and the gradient of ``(fn(x) * g).sum()`` for a random
    ``g``."""
    x = x.detach().requires_grad_()
    out = fn(x)
    grad_out = torch.randn(
        out.shape, generator=torch.Generator().manual_seed(seed))
    (out * grad_out).sum().backward()
    return out.detach(), x.grad


@pytest.mark.parametrize('length, size', [
    (12, 4), (2048, 256), (9, 9 - 1), (13, 4), (7, 3), (100, 7), (300, 256)
])
def test_pooling_equals_adaptive_avg_pool1d_with_gradients(length, size):
    """The same windows as adaptive pooling, divisible or not."""
    tokens = torch.randn(2, length, 6)
    out, grad = values_and_grads(lambda x: pool_tokens(x, size), tokens)
    expected, expected_grad = values_and_grads(
        lambda x: F.adaptive_avg_pool1d(x.transpose(1, 2), size).transpose(
            1, 2), tokens)
    assert out.shape == (2, size, 6)
    assert torch.allclose(out, expected, atol=1e-6, rtol=0)
    assert torch.allclose(grad, expected_grad, atol=1e-6, rtol=0)


@pytest.mark.parametrize('size, length', [
    (4, 7), (4, 8), (147, 12), (147, 150), (256, 2048), (5, 3), (3, 1),
    (1, 5)
])
def test_position_table_equals_linear_interpolation_with_gradients(
        size, length):
    """``F.interpolate(mode='linear', align_corners=False)``, up and down."""
    table = torch.randn(1, size, 6)
    out, grad = values_and_grads(
        lambda x: interpolate_positions(x, length), table)
    expected, expected_grad = values_and_grads(
        lambda x: F.interpolate(
            x.transpose(1, 2), size=length, mode='linear',
            align_corners=False).transpose(1, 2), table)
    assert out.shape == (1, length, 6)
    assert torch.allclose(out, expected, atol=1e-6, rtol=0)
    assert torch.allclose(grad, expected_grad, atol=1e-6, rtol=0)


def test_neck_pools_and_interpolates_as_before():
    """The neck's output and gradients are those of the adaptive-pooling +
    linear-interpolation formulation it replaces."""
    neck = TokenNeck(in_channels=8, max_tokens=4, add_pos_embed=True,
                     num_positions=3, modality_embed=False)
    neck.init_weights()

    def reference(x):
        tokens = F.adaptive_avg_pool1d(x.transpose(1, 2), 4).transpose(1, 2)
        return tokens + F.interpolate(
            neck.pos_embed.transpose(1, 2), size=4, mode='linear',
            align_corners=False).transpose(1, 2)

    tokens = torch.randn(2, 10, 8)
    out, grad = values_and_grads(neck, tokens)
    table_grad = neck.pos_embed.grad.clone()
    neck.pos_embed.grad = None
    expected, expected_grad = values_and_grads(reference, tokens)
    assert torch.allclose(out, expected, atol=1e-6, rtol=0)
    assert torch.allclose(grad, expected_grad, atol=1e-6, rtol=0)
    assert torch.allclose(table_grad, neck.pos_embed.grad, atol=1e-6, rtol=0)


def test_projection_embeddings_and_norm():
    neck = TokenNeck(in_channels=8, out_channels=6, max_tokens=4,
                     add_pos_embed=True, norm=True)
    neck.init_weights()
    assert neck.pos_embed.shape == (1, 4, 6)
    assert neck.pos_embed.abs().sum() > 0
    assert neck.modality_embed.abs().sum() > 0
    out = neck(torch.randn(3, 8, 4, 4))
    assert out.shape == (3, 4, 6)
    assert torch.allclose(out.mean(-1), torch.zeros(3, 4), atol=1e-5)
    # Same content, different positions: the position embedding tells.
    same = torch.ones(1, 4, 8)
    out = TokenNeck(8, add_pos_embed=True, num_positions=4,
                    modality_embed=False)
    out.init_weights()
    tokens = out(same)
    assert not torch.allclose(tokens[0, 0], tokens[0, 1])
    # Another length interpolates the table instead of failing.
    assert out(torch.ones(1, 7, 8)).shape == (1, 7, 8)


def test_modality_embedding_is_added_to_every_token():
    neck = TokenNeck(in_channels=4)
    with torch.no_grad():
        neck.modality_embed.fill_(0.5)
    tokens = torch.randn(2, 3, 4)
    assert torch.allclose(neck(tokens), tokens + 0.5)


def test_gradients_flow_to_the_encoder_output():
    neck = TokenNeck(in_channels=8, out_channels=4, max_tokens=2,
                     add_pos_embed=True, norm=True)
    fmap = torch.randn(2, 8, 3, 3, requires_grad=True)
    out = neck(fmap)
    (out * torch.randn(out.shape)).sum().backward()
    assert fmap.grad is not None and fmap.grad.abs().sum() > 0


@pytest.mark.parametrize('kwargs, message', [
    (dict(in_channels=0), 'in_channels must be a positive integer'),
    (dict(in_channels=8, add_pos_embed=True), 'needs num_positions'),
    (dict(in_channels=8, max_tokens=-1), 'max_tokens'),
])
def test_bad_config_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(dict(type='TokenNeck', **kwargs))


def test_reads_real_encoder_outputs():
    """mmpretrain ViT 'raw' and 'featmap', mmaction2 ResNetAudio."""
    vit_cfg = dict(type='mmpretrain.VisionTransformer',
                   arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                             feedforward_channels=32),
                   img_size=32, patch_size=8, in_channels=1)
    raw = MODELS.build(dict(vit_cfg, out_type='raw'))
    featmap = MODELS.build(dict(vit_cfg, out_type='featmap'))
    featmap.load_state_dict(raw.state_dict())
    x = torch.randn(2, 1, 32, 32)
    neck = plain_neck(in_channels=16)
    raw_tokens = neck(raw(x))
    assert raw_tokens.shape == (2, 17, 16)
    assert torch.allclose(neck(featmap(x)), raw_tokens[:, 1:], atol=1e-6)
    audio = MODELS.build(dict(type='ResNetAudio', depth=50, pretrained=None,
                              in_channels=1, base_channels=8))
    out = audio(torch.randn(2, 1, 32, 16))
    tokens = plain_neck(in_channels=out.shape[1])(out)
    assert tokens.shape == (2, out.shape[2] * out.shape[3], out.shape[1])
