"""Config mistakes fail at build time with messages naming the keys.

``validate_config`` (called by tools/train.py and tools/test.py before the
Runner is built) on the shipped AV-Digits configs with one mistake each;
the checks the components make themselves (hook arguments, the head's
modality order and fusion_dim; unit-tested in tests/test_engine and
tests/test_models) are shown through the real build.
"""
import re
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from tiny_runs import REPO, subprocess_env, tiny_avdigits_config

from rollingq_mm.utils import ConfigValidationError, validate_config

CONFIGS = REPO / 'configs'


def avdigits(name: str = 'rollingq_avdigits.py') -> Config:
    """A shipped config, as the tools load it (run from the repo root)."""
    return Config.fromfile(str(CONFIGS / name))


def pack_step(cfg: Config, split: str = 'train') -> dict:
    """The PackActionInputs step of a split's pipeline."""
    return cfg[f'{split}_dataloader'].dataset.pipeline[-1]


@pytest.fixture(autouse=True)
def from_repo_root(monkeypatch):
    """Relative data paths of the configs resolve as in the tools."""
    monkeypatch.chdir(REPO)


@pytest.mark.parametrize('name', sorted(
    str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob('*.py')
    if '_base_' not in p.parts))
def test_every_shipped_config_is_valid(name):
    cfg = Config.fromfile(str(CONFIGS / name))
    validate_config(cfg, mode='train')
    validate_config(cfg, mode='test')


def break_collect_keys(cfg):
    pack_step(cfg, 'val').collect_keys = ('imgs', 'audio')


def break_preprocessors(cfg):
    preprocessors = cfg.model.data_preprocessor.preprocessors
    preprocessors['audio'] = preprocessors.pop('audios')


def break_input_key(cfg):
    cfg.model.modalities.visual.input_key = 'frames'


def break_metric_modalities(cfg):
    cfg.val_evaluator[1].modalities = ['audio', 'video']


def break_num_classes(cfg):
    cfg.model.fusion_head.num_classes = 9


def break_class_list(cfg):
    cfg.train_dataloader.dataset.metainfo = dict(classes='missing.txt')


def break_head_width(cfg):
    cfg.model.fusion_head.in_channels = dict(audio=64, visual=32)


def break_tokenizer_width(cfg):
    cfg.model.modalities.audio.tokenizer.in_channels = 48


MISTAKES = {
    break_collect_keys: [r'val_dataloader\.dataset\.pipeline\[7\]'
                         r'\.collect_keys', r"'audio', 'imgs'",
                         r"model\.modalities\.audio\.input_key='audios'"],
    break_preprocessors: [r'model\.data_preprocessor\.preprocessors',
                          r"\['audio', 'imgs'\]"],
    break_input_key: [r"model\.modalities\.visual\.input_key='frames'",
                      r'preprocessors'],
    break_metric_modalities: [r"val_evaluator\[1\]\.modalities="
                              r"\['audio', 'video'\]"],
    break_num_classes: [r'model\.fusion_head\.num_classes=9',
                        r'train_dataloader\.dataset\.metainfo\.classes '
                        r'\(data/avdigits/classes\.txt\) has 10 classes'],
    break_class_list: [r'train_dataloader\.dataset\.metainfo\.classes',
                       r'missing\.txt'],
    break_head_width: [r"model\.fusion_head\.in_channels\['visual'\]=32",
                       r'model\.modalities\.visual\.tokenizer gives 64'],
    break_tokenizer_width: [r'model\.modalities\.audio\.tokenizer\.'
                            r'in_channels=48', r'outputs 64 channels'],
}


@pytest.mark.parametrize('mistake', MISTAKES, ids=lambda f: f.__name__)
def test_a_mistake_is_reported_with_its_keys(mistake):
    cfg = avdigits()
    mistake(cfg)
    with pytest.raises(ConfigValidationError) as info:
        validate_config(cfg, mode='train')
    for pattern in MISTAKES[mistake]:
        assert re.search(pattern, str(info.value)), str(info.value)


def test_air_hook_without_a_rollingq_head_is_refused():
    cfg = avdigits('concat_avdigits.py')
    cfg.custom_hooks = [dict(type='AIRHook')]
    with pytest.raises(ConfigValidationError,
                       match=r"custom_hooks\[0\] is an AIRHook, but "
                       r"model\.fusion_head\.type='ConcatFusionHead'"):
        validate_config(cfg)


def test_test_mode_checks_the_test_split_only():
    cfg = avdigits()
    pack_step(cfg, 'test').collect_keys = ('imgs', )
    validate_config(cfg, mode='train')
    with pytest.raises(ConfigValidationError,
                       match=r'test_dataloader\.dataset\.pipeline\[7\]'):
        validate_config(cfg, mode='test')


def test_component_checks_fire_in_the_real_build(tmp_path):
    """Mistakes the components catch themselves, through Runner.from_cfg."""
    cfg = tiny_avdigits_config(tmp_path / 'air')
    cfg.custom_hooks[0].air_threshold = -0.1
    with pytest.raises(ValueError, match='air_threshold must be >= 0'):
        Runner.from_cfg(cfg)
    cfg = tiny_avdigits_config(tmp_path / 'method')
    cfg.custom_hooks[0].rotation_method = 'qr'
    with pytest.raises(ValueError, match="rotation_method must be one of"):
        Runner.from_cfg(cfg)
    cfg = tiny_avdigits_config(tmp_path / 'order')
    cfg.model.fusion_head.modalities = ['visual', 'audio']
    with pytest.raises(ValueError, match=r'model\.fusion_head\.modalities'):
        Runner.from_cfg(cfg).train()
    cfg = tiny_avdigits_config(tmp_path / 'width')
    cfg.model.modalities.visual.tokenizer.out_channels = 16
    with pytest.raises(ValueError, match='set fusion_dim'):
        Runner.from_cfg(cfg).train()


def test_train_tool_stops_before_building_the_runner(tmp_path):
    cfg = avdigits()
    break_num_classes(cfg)
    cfg.dump(str(tmp_path / 'bad.py'))
    run = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'train.py'),
         str(tmp_path / 'bad.py'), '--work-dir', str(tmp_path / 'work')],
        cwd=str(REPO), env=subprocess_env(), capture_output=True, text=True,
        timeout=300)
    assert run.returncode != 0
    assert 'ConfigValidationError: model.fusion_head.num_classes=9' in \
        run.stderr
    assert not (tmp_path / 'work').exists()
