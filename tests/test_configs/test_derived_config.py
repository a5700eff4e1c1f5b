"""The derived config of docs/configs.md ("Your data root and pipelines in
one place") points every dataloader at its data root, classes and pipelines;
setting ``data_root`` alone does not (MMEngine merges evaluated files)."""
import re
from pathlib import Path

from mmaction.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401  (registration)

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / 'docs' / 'configs.md'
AVDIGITS = REPO / 'data' / 'avdigits'
SPLITS = ('train', 'val', 'test')


def doc_config(data_root: Path) -> str:
    """The documented derived config, its base and data root made absolute
    for a file outside configs/."""
    section = DOC.read_text().split(
        '## Your data root and pipelines in one place')[1]
    text = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    base = f"_base_ = ['{REPO / 'configs' / 'rollingq_avdigits.py'}']"
    assert "_base_ = ['./rollingq_avdigits.py']" in text
    assert "data_root = 'data/my_clips'" in text
    return (text.replace("_base_ = ['./rollingq_avdigits.py']", base)
            .replace("'data/my_clips'", repr(str(data_root))))


def test_documented_config_points_every_dataloader_at_its_data(tmp_path):
    path = tmp_path / 'my_clips.py'
    path.write_text(doc_config(AVDIGITS))
    cfg = Config.fromfile(str(path))
    base = Config.fromfile(str(REPO / 'configs' / 'rollingq_avdigits.py'))
    root = str(AVDIGITS)
    for split in SPLITS:
        loader, base_loader = cfg[f'{split}_dataloader'], base[
            f'{split}_dataloader']
        dataset = loader.dataset
        assert dataset.ann_file == f'{root}/{split}.txt'
        assert dataset.data_prefix == dict(video=root, audio=root)
        assert dataset.metainfo == dict(classes=f'{root}/classes.txt')
        pipeline = cfg.train_pipeline if split == 'train' else \
            cfg.test_pipeline
        assert dataset.pipeline == pipeline
        # The rest is the base's.
        assert loader.batch_size == base_loader.batch_size
        assert loader.num_workers == base_loader.num_workers
        assert dataset.get('test_mode') == base_loader.dataset.get(
            'test_mode')
    assert [step.get('test_mode') for step in cfg.test_pipeline
            if 'test_mode' in step] == [True, True]
    assert cfg.train_pipeline[1] == dict(type='LoadAudio', sample_rate=16000)

    # The pipeline the dataset runs is the derived one: 16 kHz audio.
    init_default_scope('mmaction')
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    sample = dataset[0]
    assert tuple(sample['inputs']['audios'].shape[-2:]) == (96, 40)
    assert tuple(sample['inputs']['imgs'].shape[-2:]) == (28, 28)
    steps = [type(step).__name__ for step in dataset.pipeline.transforms]
    load = dataset.pipeline.transforms[steps.index('LoadAudio')]
    assert load.sample_rate == 16000


def test_data_root_alone_leaves_the_dataloaders_at_the_base(tmp_path):
    path = tmp_path / 'root_only.py'
    path.write_text(
        f"_base_ = ['{REPO / 'configs' / 'rollingq_avdigits.py'}']\n"
        "data_root = 'data/my_clips'\n")
    cfg = Config.fromfile(str(path))
    assert cfg.data_root == 'data/my_clips'
    for split in SPLITS:
        assert cfg[f'{split}_dataloader'].dataset.ann_file == \
            f'data/avdigits/{split}.txt'
