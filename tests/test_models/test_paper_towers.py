"""Token counts of the paper's towers, built from the real configs.

Each paper config's own test-pipeline steps make one sample's inputs (the
audio feature from a synthetic waveform, frames resized and formatted); a
zero batch of that shape then runs through the towers the config builds
(no checkpoint). The paper: Kinetics-Sounds audio 128 x 1024 fed
frequency-major, 1 + 8*64 = 513 tokens; CREMA-D audio 188 x 257 patched
without padding, 1 + 11*16 = 177 tokens; video 3 frames of 224 x 224,
1 + 3*14*14 = 589 tokens.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401
from mmaction.registry import MODELS, TRANSFORMS

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'
KS_AUDIO, CREMAD_AUDIO, VIDEO = 1 + 8 * 64, 1 + 11 * 16, 1 + 3 * 14 * 14
# config -> (audio input (H, W), audio patch grid, audio tokens). The
# vanilla_* configs inherit rollingq_*'s model unchanged.
PAPER_TOWERS = {
    'rollingq_ks.py': ((128, 1024), (8, 64), KS_AUDIO),
    'concat_ks.py': ((128, 1024), (8, 64), KS_AUDIO),
    'rollingq_cremad.py': ((188, 257), (11, 16), CREMAD_AUDIO),
    'concat_cremad.py': ((188, 257), (11, 16), CREMAD_AUDIO),
}
AUDIO_STEPS = ('FixAudioLength', 'LogSTFT', 'KaldiFbank', 'FormatAudioShape')
VIDEO_STEPS = ('Resize', 'FormatShape')


def run_steps(pipeline: list, types: tuple, results: dict) -> dict:
    """Apply the steps of ``pipeline`` whose type is in ``types``."""
    for step in pipeline:
        if step['type'] in types:
            results = TRANSFORMS.build(dict(step))(results)
    return results


def pipeline_inputs(cfg: Config) -> dict:
    """One sample's ``audios`` and ``imgs`` from the test pipeline."""
    pipeline = cfg.test_dataloader.dataset.pipeline
    steps = {step['type']: step for step in pipeline}
    rate = steps['LoadAudio'].get('sample_rate') or 44100
    waveform = 0.1 * np.random.default_rng(0).standard_normal(10 * rate)
    audio = run_steps(pipeline, AUDIO_STEPS,
                      dict(audio=waveform.astype(np.float32),
                           sample_rate=rate))
    num_frames = steps['SampleSegmentFrames'].num_segments
    frames = [np.zeros((240, 320, 3), np.uint8)] * num_frames
    video = run_steps(pipeline, VIDEO_STEPS,
                      dict(imgs=frames, img_shape=(240, 320),
                           original_shape=(240, 320), num_clips=1,
                           clip_len=num_frames, modality='RGB'))
    return dict(audios=audio['audios'], imgs=video['imgs'])


@pytest.mark.parametrize('name', sorted(PAPER_TOWERS))
def test_paper_towers_token_counts(name):
    audio_size, audio_grid, audio_tokens = PAPER_TOWERS[name]
    init_default_scope('mmaction')
    torch.manual_seed(0)
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    for spec in cfg.model.modalities.values():
        spec.backbone.init_cfg = None
    sample = pipeline_inputs(cfg)
    assert sample['audios'].shape == (1, 1, *audio_size)
    assert sample['imgs'].shape == (1, 3, 3, 224, 224)
    # The pipeline's size is the one the tower's table is built for, so
    # nothing is interpolated at run time.
    assert tuple(cfg.model.modalities.audio.backbone.img_size) == audio_size

    model = MODELS.build(cfg.model).eval()
    audio, visual = model.encoders['audio'], model.encoders['visual']
    assert audio.patch_resolution == audio_grid
    assert audio.pos_embed.shape[1] == audio_tokens
    assert visual.pos_embed.shape[1] == VIDEO
    lengths = {}

    def record(key):
        def hook(module, args, out):
            lengths[key] = out[0].shape[1]
        return hook

    for key, encoder in model.encoders.items():
        encoder.register_forward_hook(record(key))
    inputs = {key: torch.zeros((1, ) + value.shape)
              for key, value in sample.items()}
    with torch.no_grad():
        tokens = model.extract_feat(inputs)
    assert lengths == dict(audio=audio_tokens, visual=VIDEO)
    assert tokens['audio'].shape == (1, audio_tokens, 768)
    assert tokens['visual'].shape == (1, VIDEO, 768)


def test_cnn_audio_variant_keeps_the_time_major_fbank():
    """The ResNetAudio variant reads mmaction2's (T, F) layout although it
    inherits the Kinetics-Sounds ViT config's frequency-major one."""
    cfg = Config.fromfile(
        str(CONFIG_DIR / 'rollingq' / 'rollingq_slowonly-r50_resnetaudio-'
            'r50_8xb8-30e_kinetics-sounds.py'))
    assert cfg.model.modalities.audio.backbone.type == 'ResNetAudio'
    for split in ('train', 'val', 'test'):
        pipeline = cfg[f'{split}_dataloader'].dataset.pipeline
        fbank = [step for step in pipeline if step['type'] == 'KaldiFbank']
        assert [step['layout'] for step in fbank] == ['time_freq'], split
    assert pipeline_inputs(cfg)['audios'].shape == (1, 1, 1024, 128)
