"""The noise probe's building blocks; a probe of a head without attention."""
import math

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmaction.structures import ActionDataSample

from probe_outputs import probe_tables, save_probe_results
from probe_passes import (NoiseSetting, ProbeRecorder, check_probe_args,
                          corrupt_pipeline, modality_input_keys,
                          probe_settings, run_noise_probe)

KEYS = dict(audio='audios', visual='imgs')
PIPELINE = [
    dict(type='SampleSegmentFrames', num_segments=1),
    dict(type='Resize', scale=(28, 28)),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='FormatAudioShape', input_format='NCTF'),
    dict(type='PackActionInputs', collect_keys=('imgs', 'audios')),
]


def test_noise_goes_before_the_first_formatting_step():
    noise = dict(type='AddGaussianNoise', key='imgs', level=0.5)
    pipeline = corrupt_pipeline(PIPELINE, [noise])
    assert [s['type'] for s in pipeline] == [
        'SampleSegmentFrames', 'Resize', 'AddGaussianNoise', 'FormatShape',
        'FormatAudioShape', 'PackActionInputs']
    assert pipeline[-1]['meta_keys'] == (
        'img_shape', 'img_key', 'video_id', 'timestamp', 'sample_idx',
        'noise_level')
    assert 'meta_keys' not in PIPELINE[-1]  # the input is left alone
    kept = corrupt_pipeline(
        PIPELINE[:-1] + [dict(PIPELINE[-1], meta_keys=('sample_idx', ))], [])
    assert kept[-1]['meta_keys'] == ('sample_idx', 'noise_level')


def test_pipeline_without_packing_is_refused():
    with pytest.raises(ValueError, match='needs a formatting step'):
        corrupt_pipeline(PIPELINE[:2], [])


def test_settings_clean_then_levels_then_random():
    settings = probe_settings(['audio', 'visual'], [0, 0.5, 1.0], 2.0)
    assert [s.name for s in settings] == [
        'clean', 'audio@0.5', 'audio@1', 'visual@0.5', 'visual@1', 'random']
    assert settings[-1].max_level == 2.0 and math.isnan(settings[-1].level)
    assert probe_settings(['audio'], [0.25], None)[-1].name == 'audio@0.25'


@pytest.mark.parametrize('modalities, levels, random_max, message', [
    (['depth'], [0.5], None, r"unknown modalities \['depth'\].*\['audio', "
     r"'visual'\]"),
    (['audio', 'audio'], [0.5], None, 'modalities repeat'),
    (['audio'], [], None, 'at least one noise level'),
    (['audio'], [0, -0.5], None, r'>= 0, got \[-0.5\]'),
    (['audio'], [float('nan')], None, 'finite'),
    (['audio'], [0.5, 0.5], None, 'levels repeat'),
    (['audio'], [0.5], -1.0, 'maximum random noise level'),
])
def test_bad_probe_arguments(modalities, levels, random_max, message):
    with pytest.raises(ValueError, match=message):
        check_probe_args(KEYS, modalities, levels, random_max)


def test_input_keys_come_from_model_modalities():
    model = dict(modalities=dict(audio=dict(input_key='audios'),
                                 visual=dict(input_key='imgs')))
    assert modality_input_keys(model) == KEYS
    with pytest.raises(KeyError, match='model.modalities.visual.input_key'):
        modality_input_keys(dict(modalities=dict(visual=dict())))
    with pytest.raises(KeyError, match='needs model.modalities'):
        modality_input_keys(dict(type='Recognizer3D'))


def predicted_sample(idx, label, levels=None):
    sample = ActionDataSample().set_gt_label(label)
    sample.set_metainfo(dict(sample_idx=idx, **(
        {'noise_level': levels} if levels else {})))
    sample.pred_score = dict(
        fused=torch.eye(3)[idx % 3], audio=torch.eye(3)[0],
        visual=torch.eye(3)[1], fused_without_audio=torch.eye(3)[2])
    sample.attn_share = torch.tensor([0.25 * idx, 0.5])
    return sample.to_dict()


def test_recorder_keeps_one_record_per_sample():
    recorder = ProbeRecorder(NoiseSetting('audio@0.5', 'audio', 0.5), KEYS)
    recorder.process(None, [predicted_sample(1, 1), predicted_sample(0, 2)])
    metrics = recorder.evaluate(2)
    assert [r['sample_idx'] for r in recorder.records] == [0, 1]
    first = recorder.records[0]
    assert first == dict(setting='audio@0.5', corrupted='audio', level=0.5,
                         sample_idx=0, label=2, pred_fused=0, pred_audio=0,
                         pred_visual=1, attn_audio=0.0, attn_visual=0.5,
                         level_audio=0.5, level_visual=0.0)
    assert metrics['probe/top1_fused'] == 0.5
    assert metrics['probe/attn_audio'] == 0.125

    random = ProbeRecorder(
        NoiseSetting('random', 'all', math.nan, 1.0), KEYS)
    random.process(None, [predicted_sample(
        0, 0, levels={'audios': 0.3, 'imgs': 0.7})])
    random.evaluate(1)
    assert (random.records[0]['level_audio'],
            random.records[0]['level_visual']) == (0.3, 0.7)


def test_recorder_needs_sample_idx():
    sample = predicted_sample(0, 0)
    del sample['sample_idx']
    with pytest.raises(KeyError, match='sample_idx'):
        ProbeRecorder(NoiseSetting('clean', 'none', 0.0), KEYS).process(
            None, [sample])


def test_probe_of_a_head_without_attention(tiny_config_factory, tmp_path):
    """concat_avdigits.py (shrunk, untrained): accuracy rows, no
    correlation, a one-panel figure; the noise really changes the
    corrupted modality's probe scores only."""
    cfg = tiny_config_factory('concat_avdigits.py', tmp_path)
    cfg.work_dir = str(tmp_path / 'probe')
    init_default_scope('mmaction')
    runner = Runner.from_cfg(cfg)
    records = run_noise_probe(runner, ['visual'], [0.0, 1.0], seed=0,
                              random_max_level=1.0)
    assert {r['setting'] for r in records} == {'clean', 'visual@1', 'random'}
    assert not any(k.startswith('attn_') for k in records[0])
    accuracy, correlation = probe_tables(records, ['visual'], [0.0, 1.0])
    assert correlation == []
    clean = [r for r in records if r['setting'] == 'clean']
    noisy = [r for r in records if r['setting'] == 'visual@1']
    assert [r['pred_audio'] for r in clean] == [r['pred_audio'] for r in noisy]
    paths = save_probe_results(records, accuracy, correlation, ['visual'],
                               str(tmp_path / 'out'))
    assert open(paths['correlation']).read().strip() == \
        'modality,num_samples,pearson_r,p_value'
    assert len(open(paths['accuracy']).read().splitlines()) == 3
