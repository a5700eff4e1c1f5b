"""tools/model_converters/vit_to_rollingq.py on ViT-B/16-shaped checkpoints."""
import runpy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import _load_checkpoint_with_prefix

import rollingq_mm  # noqa: F401
from mmaction.registry import MODELS
from rollingq_mm.compat import UnsafeCheckpointError, safe_torch_load
from rollingq_mm.models.utils.vit_convert import convert_vit_to_towers

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'tools' / 'model_converters' / 'vit_to_rollingq.py'
WIDTH = 768
ARCH = dict(embed_dims=WIDTH, num_layers=4, num_heads=12,
            feedforward_channels=4 * WIDTH)
IN21K_CLASSES = 21843
# The keys and shapes of timm's ImageNet-21k ViT-B/16 files
# (docs/pretrained_weights.md): the 150 encoder keys, then the classifier
# each file carries.
TIMM_ENCODER_SHAPES = {
    'cls_token': (1, 1, WIDTH),
    'pos_embed': (1, 1 + 14 * 14, WIDTH),
    'patch_embed.proj.weight': (WIDTH, 3, 16, 16),
    'patch_embed.proj.bias': (WIDTH, ),
    **{f'blocks.{i}.{name}': shape for i in range(12) for name, shape in (
        ('norm1.weight', (WIDTH, )), ('norm1.bias', (WIDTH, )),
        ('attn.qkv.weight', (3 * WIDTH, WIDTH)),
        ('attn.qkv.bias', (3 * WIDTH, )),
        ('attn.proj.weight', (WIDTH, WIDTH)), ('attn.proj.bias', (WIDTH, )),
        ('norm2.weight', (WIDTH, )), ('norm2.bias', (WIDTH, )),
        ('mlp.fc1.weight', (4 * WIDTH, WIDTH)),
        ('mlp.fc1.bias', (4 * WIDTH, )),
        ('mlp.fc2.weight', (WIDTH, 4 * WIDTH)),
        ('mlp.fc2.bias', (WIDTH, )))},
    'norm.weight': (WIDTH, ),
    'norm.bias': (WIDTH, ),
}
IN21K_HEAD_SHAPES = {'head.weight': (IN21K_CLASSES, WIDTH),
                     'head.bias': (IN21K_CLASSES, )}
PRE_LOGITS_SHAPES = {'pre_logits.fc.weight': (WIDTH, WIDTH),
                     'pre_logits.fc.bias': (WIDTH, )}
TIMM_IN21K_FILES = {
    # timm/vit_base_patch16_224.augreg_in21k (Hugging Face hub).
    'augreg_in21k': {**TIMM_ENCODER_SHAPES, **IN21K_HEAD_SHAPES},
    # timm/vit_base_patch16_224.orig_in21k: the head was removed.
    'orig_in21k': dict(TIMM_ENCODER_SHAPES),
    # jx_vit_base_patch16_224_in21k-e5005f0a.pth (timm's GitHub release).
    'jx_in21k': {**TIMM_ENCODER_SHAPES, **PRE_LOGITS_SHAPES,
                 **IN21K_HEAD_SHAPES},
}
# The documented conversion of each dataset (docs/pretrained_weights.md):
# config, --audio-size, the audio patch grid.
PAPER_AUDIO = {
    'rollingq_ks.py': ((128, 1024), (8, 64)),
    'rollingq_cremad.py': ((188, 257), (11, 16)),
}


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


def source_value(name: str) -> float:
    """The constant that :func:`timm_in21k_checkpoint` gives key ``name``."""
    return float(list(TIMM_ENCODER_SHAPES).index(name) + 1)


def timm_in21k_checkpoint(variant: str) -> dict:
    """A state dict with exactly the keys and shapes of one of timm's
    ImageNet-21k ViT-B/16 files, full size but nearly free: every tensor is
    one value broadcast to its shape (:func:`source_value`; stored as one
    element by ``torch.save``), except ``pos_embed``, whose patch entries
    hold their row in channel 0 and their column in channel 1 (CLS: -1)."""
    state = {}
    for index, (name, shape) in enumerate(TIMM_IN21K_FILES[variant].items()):
        state[name] = torch.tensor(float(index + 1)).expand(shape)
    grid = torch.stack(torch.meshgrid(torch.arange(14.), torch.arange(14.),
                                      indexing='ij'), dim=-1).reshape(196, 2)
    table = torch.zeros(1, 197, WIDTH)
    table[0, 0, :2] = -1.0
    table[0, 1:, :2] = grid
    state['pos_embed'] = table
    return state


def run_converter(monkeypatch, *args) -> None:
    """Run the command-line tool in this process."""
    monkeypatch.setattr('sys.argv', [str(SCRIPT), *map(str, args)])
    runpy.run_path(str(SCRIPT), run_name='__main__')


def tower_cfgs(checkpoint=None):
    """The paper's CREMA-D towers, optionally loading ``checkpoint``."""
    audio = dict(type='mmpretrain.VisionTransformer', arch=ARCH,
                 img_size=(188, 257), patch_size=16,
                 patch_cfg=dict(padding=0), in_channels=1, out_type='raw')
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
    assert converted['meta']['audio_patch_grid'] == [11, 16]
    assert converted['meta']['audio_padding'] == 'none'
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
    # Audio table: CLS entry kept, patch grid 11 x 16 = 176 entries.
    assert audio.pos_embed.shape == (1, 1 + 11 * 16, WIDTH)
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
    converted = convert_vit_to_towers(state, audio_patch_grid=(8, 64),
                                      channel_reduce='mean')['state_dict']
    assert torch.allclose(converted['visual.patch_embed.projection.weight'],
                          3 * kernel)
    assert torch.allclose(converted['audio.patch_embed.projection.weight'],
                          (3 * kernel).mean(1, keepdim=True))
    assert converted['audio.pos_embed'].shape == (1, 1 + 8 * 64, WIDTH)


@pytest.mark.parametrize('variant', sorted(TIMM_IN21K_FILES))
def test_timm_in21k_files_are_accepted(variant):
    converted = convert_vit_to_towers(timm_in21k_checkpoint(variant))
    meta, towers = converted['meta'], converted['state_dict']
    assert meta['source_layout'] == 'timm' and meta['source_layers'] == 12
    classifier = set(TIMM_IN21K_FILES[variant]) - set(TIMM_ENCODER_SHAPES)
    assert meta['ignored_keys'] == sorted(classifier)
    # Per tower: CLS, table, stem (2), 4 blocks x 12, final norm (2).
    assert len(towers) == 2 * (1 + 1 + 2 + 4 * 12 + 2)
    assert towers['audio.pos_embed'].shape == (1, 1 + 8 * 64, WIDTH)
    assert towers['audio.patch_embed.projection.weight'].shape == (WIDTH, 1,
                                                                   16, 16)
    assert towers['visual.pos_embed'].shape == (1, 1 + 3 * 196, WIDTH)


@pytest.mark.parametrize('config', sorted(PAPER_AUDIO))
def test_in21k_file_converted_as_documented_loads_into_the_config_towers(
        config, tmp_path, monkeypatch):
    """timm's augreg_in21k file through the documented command, then into
    the towers built from the paper config by their init_cfg."""
    audio_size, grid = PAPER_AUDIO[config]
    source = tmp_path / 'pytorch_model.bin'
    torch.save(timm_in21k_checkpoint('augreg_in21k'), source)
    assert source.stat().st_size < 2 * 2**20
    dst = tmp_path / 'towers.pth'
    run_converter(monkeypatch, source, dst, '--audio-size', *audio_size)
    meta = safe_torch_load(str(dst))['meta']
    assert meta['audio_patch_grid'] == list(grid)
    assert meta['ignored_keys'] == ['head.bias', 'head.weight']

    cfg = Config.fromfile(str(REPO / 'configs' / config))
    audio_cfg = cfg.model.modalities.audio.backbone
    assert tuple(audio_cfg.img_size) == audio_size
    for spec in cfg.model.modalities.values():
        spec.backbone.init_cfg.checkpoint = str(dst)
    model = MODELS.build(cfg.model)
    model.init_weights()
    for name in ('audio', 'visual'):
        tower = model.encoders[name]
        loaded = tower.state_dict()
        for key, source_key in (
                ('layers.0.ln1.weight', 'blocks.0.norm1.weight'),
                ('layers.3.attn.qkv.weight', 'blocks.3.attn.qkv.weight'),
                ('layers.3.ffn.layers.1.bias', 'blocks.3.mlp.fc2.bias'),
                ('ln1.bias', 'norm.bias'),
                ('cls_token', 'cls_token')):
            assert torch.all(loaded[key] == source_value(source_key)), (
                name, key)
        # Every tower key comes from the file, and every file key fits.
        part = _load_checkpoint_with_prefix(f'{name}.', str(dst))
        result = tower.load_state_dict(part, strict=False)
        assert result.missing_keys == [] and result.unexpected_keys == []
    audio = model.encoders['audio']
    assert audio.patch_resolution == grid
    assert torch.all(audio.patch_embed.projection.weight ==
                     3 * source_value('patch_embed.proj.weight'))
    # The image table's rows become the audio grid's rows (mel for
    # Kinetics-Sounds, time for CREMA-D) and its columns the columns.
    table = audio.pos_embed.detach()[0]
    assert torch.equal(table[0, :2], torch.tensor([-1.0, -1.0]))
    rows, cols = table[1:, 0].reshape(grid), table[1:, 1].reshape(grid)
    assert torch.allclose(rows, rows[:, :1].expand(grid), atol=1e-4)
    assert torch.allclose(cols, cols[:1].expand(grid), atol=1e-4)
    assert rows[-1, 0] - rows[0, 0] > 10 and cols[0, -1] - cols[0, 0] > 10


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
