"""tools/model_converters/vit_to_rollingq.py on ViT-B/16-shaped checkpoints."""
import runpy
from pathlib import Path

import pytest
import torch
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401
from mmaction.registry import MODELS
from rollingq_mm.compat import UnsafeCheckpointError, safe_torch_load
from rollingq_mm.models.utils.vit_convert import convert_vit_to_towers

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'tools' / 'model_converters' / 'vit_to_rollingq.py'
WIDTH = 768
ARCH = dict(embed_dims=WIDTH, num_layers=4, num_heads=12,
            feedforward_channels=4 * WIDTH)


def mmpretrain_to_timm(name: str) -> str:
    """timm's name of an mmpretrain ViT key (written out independently)."""
    parts = name.split('.')
    if name.startswith('patch_embed.projection.'):
        return 'patch_embed.proj.' + parts[-1]
    if name.startswith('ln1.'):
        return 'norm.' + parts[-1]
    if parts[0] == 'layers':
        block = f'blocks.{parts[1]}.'
        rest = '.'.join(parts[2:])
        table = {'ln1': 'norm1', 'ln2': 'norm2', 'attn.qkv': 'attn.qkv',
                 'attn.proj': 'attn.proj', 'ffn.layers.0.0': 'mlp.fc1',
                 'ffn.layers.1': 'mlp.fc2'}
        for src, dst in table.items():
            if rest.startswith(src + '.'):
                return block + dst + rest[len(src):]
    return name


@pytest.fixture(scope='module')
def image_vit():
    """A ViT-B/16 image backbone (5 layers: one more than the towers)."""
    init_default_scope('mmaction')
    torch.manual_seed(0)
    vit = MODELS.build(
        dict(type='mmpretrain.VisionTransformer',
             arch=dict(ARCH, num_layers=5), img_size=224, patch_size=16))
    vit.init_weights()
    with torch.no_grad():
        for param in vit.parameters():
            param.add_(torch.randn_like(param) * 0.01)
    return vit


@pytest.fixture(scope='module')
def mmpretrain_file(image_vit, tmp_path_factory):
    """The backbone saved as mmpretrain's ImageClassifier checkpoints are."""
    state = {f'backbone.{k}': v for k, v in image_vit.state_dict().items()}
    state['head.layers.head.weight'] = torch.randn(10, WIDTH)
    path = tmp_path_factory.mktemp('ckpt') / 'vit_mmpretrain.pth'
    torch.save(dict(meta=dict(epoch=90), state_dict=state), path)
    return path


def run_converter(monkeypatch, *args) -> None:
    """Run the command-line tool in this process."""
    monkeypatch.setattr('sys.argv', [str(SCRIPT), *map(str, args)])
    runpy.run_path(str(SCRIPT), run_name='__main__')


def tower_cfgs(checkpoint=None):
    """The paper's CREMA-D towers, optionally loading ``checkpoint``."""
    audio = dict(type='mmpretrain.VisionTransformer', arch=ARCH,
                 img_size=(188, 257), patch_size=16, in_channels=1,
                 out_type='raw')
    visual = dict(type='VideoVisionTransformer', arch=ARCH, img_size=224,
                  patch_size=16, num_frames=3, out_type='raw')
    if checkpoint is not None:
        audio['init_cfg'] = dict(type='Pretrained', checkpoint=str(checkpoint),
                                 prefix='audio.')
        visual['init_cfg'] = dict(type='Pretrained',
                                  checkpoint=str(checkpoint), prefix='visual.')
    return audio, visual


def test_cli_output_loads_into_both_towers_via_init_cfg(
        image_vit, mmpretrain_file, tmp_path, monkeypatch):
    dst = tmp_path / 'out' / 'towers.pth'
    run_converter(monkeypatch, mmpretrain_file, dst, '--audio-size', 188, 257)
    converted = safe_torch_load(str(dst))
    assert converted['meta']['source_layers'] == 5
    assert converted['meta']['audio_patch_grid'] == [12, 17]
    assert converted['meta']['ignored_keys'] == ['head.layers.head.weight']

    audio_cfg, visual_cfg = tower_cfgs(dst)
    model = MODELS.build(dict(
        type='AudioVisualRecognizer',
        modalities=dict(
            audio=dict(input_key='audios', backbone=audio_cfg,
                       tokenizer=dict(type='TokenNeck', in_channels=WIDTH)),
            visual=dict(input_key='imgs', backbone=visual_cfg,
                        tokenizer=dict(type='TokenNeck', in_channels=WIDTH))),
        fusion_head=dict(type='ConcatFusionHead', num_classes=6)))
    model.init_weights()
    source = image_vit.state_dict()
    for name in ('audio', 'visual'):
        tower = model.encoders[name].state_dict()
        for key in ('cls_token', 'layers.3.attn.qkv.weight',
                    'layers.0.ffn.layers.1.bias', 'ln1.weight',
                    'patch_embed.projection.bias'):
            assert torch.equal(tower[key], source[key]), (name, key)
    audio, visual = model.encoders['audio'], model.encoders['visual']
    # RGB -> 1 channel: a grey image replicated to RGB gives the same patches.
    grey = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        rgb_tokens, _ = image_vit.patch_embed(grey.expand(-1, 3, -1, -1))
        audio_tokens, _ = audio.patch_embed(grey)
    assert torch.allclose(audio_tokens, rgb_tokens, atol=1e-4)
    # Audio table: CLS entry kept, patch grid 12 x 17 = 204 entries.
    assert audio.pos_embed.shape == (1, 1 + 12 * 17, WIDTH)
    assert torch.equal(audio.pos_embed[:, 0], source['pos_embed'][:, 0])
    # Video table: the 14 x 14 image table repeated for each of 3 frames.
    frames = visual.pos_embed[:, 1:].reshape(3, 196, WIDTH)
    for t in range(3):
        assert torch.equal(frames[t], source['pos_embed'][0, 1:])


def test_timm_names_give_the_same_towers(image_vit, mmpretrain_file):
    mm_ckpt = safe_torch_load(str(mmpretrain_file))
    timm_state = {mmpretrain_to_timm(k): v
                  for k, v in image_vit.state_dict().items()}
    timm_state['head.weight'] = torch.randn(1000, WIDTH)
    timm_state['head.bias'] = torch.randn(1000)
    assert 'blocks.4.mlp.fc2.weight' in timm_state
    from_mm = convert_vit_to_towers(mm_ckpt)
    from_timm = convert_vit_to_towers(dict(model=timm_state))
    assert from_timm['meta']['source_layout'] == 'timm'
    assert from_mm['state_dict'].keys() == from_timm['state_dict'].keys()
    for key, value in from_mm['state_dict'].items():
        assert torch.equal(value, from_timm['state_dict'][key]), key
    assert not any(k.startswith(('audio.layers.4', 'visual.layers.4'))
                   for k in from_mm['state_dict'])


def test_video_kernel_time_axis_and_kinetics_sounds_grid(image_vit):
    state = dict(image_vit.state_dict())
    kernel = state['patch_embed.projection.weight']
    state['patch_embed.projection.weight'] = torch.stack(
        [kernel, 2 * kernel], dim=2)  # a (2, 16, 16) tubelet kernel
    converted = convert_vit_to_towers(state, audio_patch_grid=(64, 8),
                                      channel_reduce='mean')['state_dict']
    assert torch.allclose(converted['visual.patch_embed.projection.weight'],
                          3 * kernel)
    assert torch.allclose(converted['audio.patch_embed.projection.weight'],
                          (3 * kernel).mean(1, keepdim=True))
    assert converted['audio.pos_embed'].shape == (1, 1 + 64 * 8, WIDTH)


def test_bad_checkpoints_are_refused_with_a_reason(image_vit, tmp_path,
                                                   monkeypatch):
    state = dict(image_vit.state_dict())
    with pytest.raises(ValueError, match='num_layers=6 but the checkpoint '
                       'has 5'):
        convert_vit_to_towers(state, num_layers=6)
    with pytest.raises(KeyError, match='blocks.0.ls1.gamma'):
        convert_vit_to_towers({**{mmpretrain_to_timm(k): v
                                  for k, v in state.items()},
                               'blocks.0.ls1.gamma': torch.ones(WIDTH)})
    with pytest.raises(KeyError, match='pos_embed'):
        convert_vit_to_towers({k: v for k, v in state.items()
                               if k != 'pos_embed'})
    # A pickle that is not plain data is refused (weights-only loading).
    unsafe = tmp_path / 'unsafe.pth'
    torch.save(dict(state_dict=state, obj=Path('x')), unsafe)
    with pytest.raises(UnsafeCheckpointError, match='unsafe.pth'):
        run_converter(monkeypatch, unsafe, tmp_path / 'o.pth')
    assert not (tmp_path / 'o.pth').exists()
