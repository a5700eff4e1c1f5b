"""ModalityAblationTTA: the test-time modality ablation that
ModalityContributionMetric reads, on a tiny recognizer and through
``tools/test.py --tta``."""
import copy
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

REPO = Path(__file__).resolve().parents[2]
#: Weights, a raw test batch (3 samples, 1 view) and the scores that the
#: recognizer's former ``test_cfg=dict(ablation=..., ablation_seed=1)``
#: gave on it, keyed by ('mean' | 'noise', 0).
REFERENCE = Path(__file__).resolve().parent / 'data' / \
    'ablation_reference.pt'


def vit(in_channels, img_size):
    return dict(type='mmpretrain.VisionTransformer',
                arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                          feedforward_channels=32),
                img_size=img_size, patch_size=8, in_channels=in_channels,
                out_type='raw')


#: The recognizer of :data:`REFERENCE`: ViT audio tower, frame-wise ViT
#: visual tower, RollingQ fusion head, standardising preprocessors.
RECOGNIZER = dict(
    type='AudioVisualRecognizer',
    modalities=dict(
        audio=dict(input_key='audios', backbone=vit(1, (32, 16)),
                   tokenizer=dict(type='TokenNeck', in_channels=16)),
        visual=dict(input_key='imgs', backbone=vit(3, (16, 16)),
                    frame_wise=True,
                    tokenizer=dict(type='TokenNeck', in_channels=16))),
    fusion_head=dict(type='RollingQFusionHead', num_classes=3, attn_drop=0.0,
                     proj_drop=0.0),
    data_preprocessor=dict(
        type='MultiModalDataPreprocessor',
        preprocessors=dict(
            imgs=dict(type='ActionDataPreprocessor', mean=[128] * 3,
                      std=[64] * 3, format_shape='NCTHW'),
            audios=dict(type='ActionDataPreprocessor', mean=[1.0],
                        std=[2.0], format_shape='NCHW'))))


@pytest.fixture(autouse=True)
def scope():
    init_default_scope('mmaction')
    torch.manual_seed(0)


@pytest.fixture(scope='module')
def reference():
    return torch.load(REFERENCE, weights_only=False)


def ablation_tta(reference, **kwargs):
    tta = MODELS.build(dict(type='ModalityAblationTTA',
                            module=copy.deepcopy(RECOGNIZER), **kwargs))
    tta.module.load_state_dict(reference['state_dict'])
    return tta.eval()


def raw_batch(views, audio_views, size=3):
    """A test batch as the dataloader gives it (before preprocessing)."""
    return dict(
        inputs=dict(
            audios=[torch.randn(audio_views, 1, 32, 16) * 2 + 1
                    for _ in range(size)],
            imgs=[torch.randint(0, 256, (views, 3, 2, 16, 16),
                                dtype=torch.uint8) for _ in range(size)]),
        data_samples=[ActionDataSample().set_gt_label(i % 3)
                      for i in range(size)])


@pytest.mark.parametrize('ablation', ['mean', 'noise'])
def test_scores_equal_the_former_recognizer_ablation(reference, ablation):
    tta = ablation_tta(reference, ablation=ablation, seed=1)
    with torch.no_grad():
        results = tta.test_step(copy.deepcopy(reference['batches'][0]))
    expected = reference['scores'][(ablation, 0)]
    assert len(results) == len(expected) == 3
    for result, scores in zip(results, expected):
        assert set(result.pred_score) == set(scores) == {
            'fused', 'audio', 'visual', 'fused_without_audio',
            'fused_without_visual'}
        for key, value in scores.items():
            assert torch.equal(result.pred_score[key], value), key
        assert not torch.allclose(result.pred_score['fused_without_audio'],
                                  result.pred_score['fused'])


def test_several_views_ablate_the_prediction_on_the_replaced_input(
        reference):
    """Two views, the audio view shared: 'fused_without_audio' is the fused
    prediction on zeroed (preprocessed) audio, averaged over the views."""
    tta = ablation_tta(reference, ablation='mean')
    data = raw_batch(views=2, audio_views=1)
    with torch.no_grad():
        results = tta.test_step(copy.deepcopy(data))
        processed = tta.module.data_preprocessor(copy.deepcopy(data), False)
        inputs = processed['inputs']
        plain = tta.module(inputs, processed['data_samples'], mode='predict')
        zeroed = tta.module(
            dict(inputs, audios=torch.zeros_like(inputs['audios'])),
            [s.clone() for s in data['data_samples']], mode='predict')
    for result, p, z in zip(results, plain, zeroed):
        assert torch.equal(result.pred_score['fused'], p.pred_score['fused'])
        assert torch.allclose(result.pred_score['fused_without_audio'],
                              z.pred_score['fused'], atol=1e-6)
        assert not torch.allclose(result.pred_score['fused_without_audio'],
                                  result.pred_score['fused'])


def test_noise_is_seeded_per_batch(reference):
    data = raw_batch(views=1, audio_views=1)
    with torch.no_grad():
        first = [ablation_tta(reference, ablation='noise', seed=seed
                              ).test_step(copy.deepcopy(data))
                 for seed in (3, 3, 4)]
    key = 'fused_without_visual'
    assert torch.equal(first[0][0].pred_score[key],
                       first[1][0].pred_score[key])
    assert not torch.equal(first[0][0].pred_score[key],
                           first[2][0].pred_score[key])


def test_unknown_ablation_and_module_are_refused(reference):
    with pytest.raises(ValueError, match=r"ablation must be one of "
                       r"\('mean', 'noise'\), got 'shuffle'"):
        ablation_tta(reference, ablation='shuffle')
    with pytest.raises(TypeError, match='got Recognizer3D'):
        MODELS.build(dict(
            type='ModalityAblationTTA',
            module=dict(type='Recognizer3D',
                        backbone=dict(type='X3D', gamma_w=0.1, gamma_b=0.25,
                                      gamma_d=0.1, pretrained=None),
                        cls_head=dict(type='X3DHead', num_classes=2,
                                      in_channels=16))))


@pytest.mark.slow
def test_tools_test_tta_reports_the_drop_per_modality(tmp_path):
    """``tools/test.py --tta`` on a tiny AV-Digits recognizer: the checkpoint
    loads into the wrapped recognizer and ModalityContributionMetric reports
    ``<m>_drop`` = top-1(fused) - top-1(fused without m) of the dump."""
    cfg = Config.fromfile(str(REPO / 'configs' / 'rollingq_avdigits.py'))
    for spec in cfg.model.modalities.values():
        spec.backbone.arch = dict(embed_dims=32, num_layers=1, num_heads=2,
                                  feedforward_channels=64)
        spec.tokenizer.in_channels = 32
    cfg.test_dataloader.update(batch_size=8, num_workers=0)
    cfg.test_dataloader.dataset.indices = list(range(0, 500, 25))
    cfg.test_evaluator = [
        dict(type='AccMetric'),
        dict(type='ModalityContributionMetric',
             modalities=['audio', 'visual'])]
    cfg.tta_model = dict(type='ModalityAblationTTA', ablation='mean')
    config = tmp_path / 'tiny_test.py'
    cfg.dump(str(config))
    checkpoint = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()),
               checkpoint)
    dump = tmp_path / 'predictions.pkl'
    run = subprocess.run(
        [sys.executable, 'tools/test.py', str(config), str(checkpoint),
         '--work-dir', str(tmp_path / 'work'), '--dump', str(dump), '--tta'],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    assert 'do not match exactly' not in log
    line = re.search(r'Epoch\(test\) \[\d+/\d+\]\s+(.*)', log).group(1)
    metrics = {k: float(v) for k, v in re.findall(r'(\S+): ([-\d.]+)', line)}
    with open(dump, 'rb') as file:
        predictions = pickle.load(file)
    assert len(predictions) == 20

    def top1(key):
        return sum(int(p['pred_score'][key].argmax() == p['gt_label'][0])
                   for p in predictions) / len(predictions)

    for name in ('audio', 'visual'):
        drop = top1('fused') - top1(f'fused_without_{name}')
        assert metrics[f'contrib/{name}_drop'] == pytest.approx(
            drop, abs=1e-4)
    assert metrics['acc/fused_top1'] == pytest.approx(top1('fused'),
                                                      abs=1e-4)
