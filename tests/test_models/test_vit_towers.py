"""The paper's per-modality ViT-B/16 towers and their parameter count."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401
from mmaction.registry import MODELS

# Paper (Ni et al., ICML 2025): the CREMA-D model has 60.46 M parameters.
PAPER_PARAMS = 60.46e6
# This implementation, counted once by hand: two towers of 4 ViT-B blocks
# (4 x 7,087,872) + final LayerNorm (1,536) + CLS (768) each; audio stem
# 1x16x16 (197,376) and position table 1 + 11*16 (135,936); video stem
# 3x16x16 (590,592) and position table 1 + 3*196 (452,352); fusion layer
# W_Q, W_K, W_V, W_O (2,362,368) + fusion CLS (768) + FC 768->6 (4,614).
EXPECTED_PARAMS = 60_451_590
TINY = dict(embed_dims=16, num_layers=1, num_heads=2, feedforward_channels=32)


@pytest.fixture(autouse=True)
def scope():
    init_default_scope('mmaction')
    torch.manual_seed(0)


def paper_model_cfg():
    """The CREMA-D model of configs/_base_/models/rollingq_vit.py."""
    from mmengine.config import Config
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    cfg = Config.fromfile(str(root / 'configs' / 'rollingq_cremad.py'))
    return cfg.model


def test_cremad_model_has_the_papers_parameter_count():
    model = MODELS.build(paper_model_cfg())
    counted = sum(p.numel() for name, p in model.named_parameters()
                  if not name.startswith('fusion_head.probes.'))
    assert counted == EXPECTED_PARAMS
    assert abs(counted - PAPER_PARAMS) / PAPER_PARAMS < 0.01
    assert model.encoders['audio'].pos_embed.shape == (1, 1 + 11 * 16, 768)
    assert model.encoders['visual'].pos_embed.shape == (1, 1 + 3 * 196, 768)
    # The rotation is state, not a parameter.
    assert 'fusion_head.rotation' in dict(model.named_buffers())


def test_video_tower_patches_each_frame_like_a_1x16x16_tubelet():
    tower = MODELS.build(dict(type='VideoVisionTransformer', arch=TINY,
                              img_size=32, patch_size=16, num_frames=3,
                              out_type='raw', final_norm=False))
    clip = torch.randn(2, 3, 3, 32, 32)
    tokens, _ = tower.patch_embed(clip.transpose(1, 2).flatten(0, 1))
    conv = tower.patch_embed.projection
    tubelets = F.conv3d(clip, conv.weight.unsqueeze(2), conv.bias,
                        stride=(1, 16, 16))
    assert torch.allclose(tokens.reshape(2, 12, 16),
                          tubelets.flatten(2).transpose(1, 2), atol=1e-5)
    out = tower(clip)[0]
    assert out.shape == (2, 1 + 3 * 4, 16)


def test_video_tower_output_types_and_other_clip_lengths():
    cfg = dict(type='VideoVisionTransformer', arch=TINY, img_size=32,
               patch_size=16, num_frames=3)
    clip = torch.randn(2, 3, 3, 32, 32)
    featmap = MODELS.build(dict(cfg, out_type='featmap'))
    raw = MODELS.build(dict(cfg, out_type='raw'))
    raw.load_state_dict(featmap.state_dict())
    featmap.eval(), raw.eval()
    fmap, tokens = featmap(clip)[0], raw(clip)[0]
    assert fmap.shape == (2, 16, 3, 2, 2)
    assert torch.allclose(fmap.flatten(2).transpose(1, 2), tokens[:, 1:])
    assert MODELS.build(dict(cfg, out_type='cls_token'))(clip)[0].shape == (2,
                                                                            16)
    # Another number of frames and size: the table is interpolated.
    assert raw(torch.randn(1, 3, 5, 48, 48))[0].shape == (1, 1 + 5 * 9, 16)
    with pytest.raises(ValueError, match=r'\(B, C, T, H, W\)'):
        raw(torch.randn(2, 3, 32, 32))


def test_video_tower_loads_an_image_vit_state_dict():
    image = MODELS.build(dict(type='mmpretrain.VisionTransformer', arch=TINY,
                              img_size=64, patch_size=16))
    image.init_weights()
    video = MODELS.build(dict(type='VideoVisionTransformer', arch=TINY,
                              img_size=32, patch_size=16, num_frames=2))
    video.load_state_dict(image.state_dict())
    table = video.pos_embed[0]
    assert table.shape == (1 + 2 * 4, 16)
    assert torch.equal(table[0], image.pos_embed[0, 0])
    assert torch.equal(table[1:5], table[5:9])  # same for every frame
    bad = dict(image.state_dict(), pos_embed=torch.zeros(1, 1 + 7, 16))
    with pytest.raises(ValueError, match='vit_to_rollingq.py'):
        video.load_state_dict(bad)


def test_audio_tower_reads_one_channel_spectrograms():
    tower = MODELS.build(dict(type='mmpretrain.VisionTransformer', arch=TINY,
                              img_size=(188, 257), patch_size=16,
                              in_channels=1, out_type='raw'))
    assert tower(torch.randn(2, 1, 188, 257))[0].shape == (2, 1 + 12 * 17, 16)
