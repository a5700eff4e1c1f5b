"""tools/data/compute_norm_stats.py on the shipped AV-Digits data: the
constants equal a direct NumPy computation over the same clips, and the lines
it prints set them."""
import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf
from mmengine.config import Config
from mmengine.registry import init_default_scope

from rollingq_mm.datasets.transforms import KaldiFbank
from rollingq_mm.utils import add_runner_args

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / 'data' / 'avdigits'
CONFIG = 'configs/rollingq_avdigits.py'
TOOL = REPO / 'tools' / 'data' / 'compute_norm_stats.py'
#: The training pipeline's FixAudioLength cuts a clip longer than 0.975 s
#: at a random sample; from its start here, so NumPy sees the same window.
CUT_AT_START = 'train_dataloader.dataset.pipeline.2.crop_position=start'


def tool():
    spec = importlib.util.spec_from_file_location('compute_norm_stats', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))


def numpy_stats(cfg: Config, indices: list) -> dict:
    """Pixel mean/std per channel and fbank mean/std of the training clips
    ``indices``, read from the files directly."""
    lines = [line.split() for line in (DATA / 'train.txt').read_text()
             .splitlines() if line and not line.startswith('#')]
    fbank_cfg = dict(next(step for step in cfg.train_pipeline
                          if step['type'] == 'KaldiFbank'))
    fbank_cfg.update(norm_mean=None, norm_std=None)
    fbank_cfg.pop('type')
    fbank = KaldiFbank(**fbank_cfg)
    pixels, features = [], []
    for index in indices:
        image, audio, _ = lines[index]
        pixels.append(cv2.imread(str(DATA / image),
                                 cv2.IMREAD_COLOR)[..., ::-1].reshape(-1, 3))
        wave, rate = sf.read(str(DATA / audio), dtype='float32')
        target = round(cfg.audio_seconds * rate)
        wave = np.pad(wave[:target], (0, max(0, target - len(wave))))
        features.append(fbank.transform(
            dict(audio=wave, sample_rate=rate))['audios'].ravel())
    pixels = np.concatenate(pixels).astype(np.float64)
    features = np.concatenate(features).astype(np.float64)
    return dict(imgs=(pixels.mean(0), pixels.std(0)),
                audios=(features.mean(), features.std()))


def test_constants_equal_numpy_over_the_same_clips():
    module = tool()
    cfg = Config.fromfile(str(REPO / CONFIG))
    cfg.merge_from_dict({CUT_AT_START.split('=')[0]: 'start'})
    init_default_scope('mmaction')
    dataset = module.unnormalised_dataset(cfg)
    indices = module.sample_indices(len(dataset), 30)
    assert len(indices) == 30 and indices[0] == 0 and indices[-1] == 1999
    stats = module.measure_norm_stats(dataset, indices)

    expected = numpy_stats(cfg, indices)
    mean, std = expected['imgs']
    np.testing.assert_allclose(stats['imgs']['mean'], mean, rtol=1e-9)
    np.testing.assert_allclose(stats['imgs']['std'], std, rtol=1e-9)
    assert stats['imgs']['count'] == 30 * 28 * 28
    mean, std = expected['audios']
    np.testing.assert_allclose(stats['audios']['mean'], [mean], rtol=1e-6)
    np.testing.assert_allclose(stats['audios']['std'], [std], rtol=1e-6)
    assert stats['audios']['count'] == 30 * 96 * 40
    # The config's own constants are not these (a subset differs), so the
    # pipeline did run without its normalisation.
    assert abs(stats['audios']['mean'][0]) > 5


def test_printed_lines_set_the_measured_constants():
    run = run_tool(CONFIG, '--num-samples', '20', '--cfg-options',
                   CUT_AT_START)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert '20 of 2000 training clips' in output
    assert ('the config applies KaldiFbank norm_mean=-11.192, '
            'norm_std=6.006') in output
    lines = output.splitlines()
    options = lines[lines.index('--cfg-options:') + 1].split()
    config_line = next(line for line in lines
                       if line.startswith('model = dict('))
    fbank_line = lines[lines.index(
        '# in the KaldiFbank step of every pipeline:') + 1]

    module = tool()
    cfg = Config.fromfile(str(REPO / CONFIG))
    cfg.merge_from_dict({CUT_AT_START.split('=')[0]: 'start'})
    init_default_scope('mmaction')
    dataset = module.unnormalised_dataset(cfg)
    stats = module.measure_norm_stats(
        dataset, module.sample_indices(len(dataset), 20))

    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_runner_args(parser)
    args = parser.parse_args([CONFIG, '--cfg-options', *options])
    cfg.merge_from_dict(args.cfg_options)
    imgs = cfg.model.data_preprocessor.preprocessors.imgs
    np.testing.assert_allclose(imgs.mean, stats['imgs']['mean'], rtol=1e-5)
    np.testing.assert_allclose(imgs.std, stats['imgs']['std'], rtol=1e-5)
    for loader in ('train', 'val', 'test'):
        step = cfg[f'{loader}_dataloader'].dataset.pipeline[3]
        assert step.type == 'KaldiFbank'
        assert step.norm_mean == pytest.approx(stats['audios']['mean'][0],
                                               rel=1e-5)
        assert step.norm_std == pytest.approx(stats['audios']['std'][0],
                                              rel=1e-5)
    namespace = {}
    exec(config_line, namespace)
    assert namespace['model']['data_preprocessor']['preprocessors'][
        'imgs'] == dict(mean=imgs.mean, std=imgs.std)
    assert fbank_line == (f'norm_mean={step.norm_mean:.6g}, '
                          f'norm_std={step.norm_std:.6g}')


@pytest.mark.slow
def test_whole_split_gives_the_configs_hand_measured_constants():
    """The AV-Digits configs' constants were measured by hand over all
    2,000 training clips; the tool finds them again."""
    module = tool()
    stats = module.main([CONFIG])
    np.testing.assert_allclose(stats['imgs']['mean'], [68.42] * 3, atol=5e-3)
    np.testing.assert_allclose(stats['imgs']['std'], [87.11] * 3, atol=5e-3)
    assert stats['audios']['mean'][0] == pytest.approx(-11.192, abs=5e-4)
    assert stats['audios']['std'][0] == pytest.approx(6.006, abs=5e-4)


def test_errors_name_the_flag_or_key(tmp_path):
    run = run_tool(CONFIG, '--num-samples', '0')
    assert run.returncode != 0
    assert '--num-samples must be >= 1, got 0' in run.stderr

    module = tool()
    cfg = Config.fromfile(str(REPO / CONFIG))
    cfg.train_dataloader = None
    with pytest.raises(ValueError, match='no train_dataloader.dataset'):
        module.unnormalised_dataset(cfg)

    cfg = Config.fromfile(str(REPO / CONFIG))
    del cfg.model.data_preprocessor.preprocessors['imgs']
    stats = dict(imgs=dict(mean=[1.0] * 3, std=[1.0] * 3, count=1))
    with pytest.raises(ValueError,
                       match=r'no model\.data_preprocessor\.preprocessors'
                       r'\.imgs'):
        module.config_lines(cfg, stats)

    cfg = Config.fromfile(str(REPO / CONFIG))
    cfg.train_dataloader.dataset.pipeline[-1].collect_keys = None
    init_default_scope('mmaction')
    dataset = module.unnormalised_dataset(cfg)
    with pytest.raises(ValueError, match='collect_keys'):
        module.measure_norm_stats(dataset, [0])
