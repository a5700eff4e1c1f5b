"""AudioVisualDataset: formats, validation, skipping, end-to-end batches."""
import logging
import shutil

import numpy as np
import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from torch.utils.data import DataLoader

from rollingq_mm.datasets import (AnnotationError, InvalidSampleError,
                                  MissingClassListError)

TRAIN_PIPELINE = [
    dict(type='SampleSegmentFrames', num_segments=3, fps=1.0),
    dict(type='LoadAudio'),
    dict(type='KaldiFbank'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(112, 112), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='FormatAudioShape', input_format='NCTF'),
    dict(type='PackActionInputs', collect_keys=('imgs', 'audios')),
]
PREPROCESSOR = dict(
    type='MultiModalDataPreprocessor',
    preprocessors=dict(
        imgs=dict(type='ActionDataPreprocessor',
                  mean=[123.675, 116.28, 103.53],
                  std=[58.395, 57.12, 57.375], format_shape='NCTHW'),
        audios=dict(type='ActionDataPreprocessor', format_shape='NCHW')))


@pytest.fixture
def warnings_logged():
    """Messages of the WARNING records of MMEngine's current logger."""
    messages = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


def write(path, text):
    path.write_text(text)
    return str(path)


def build(ann_file, pipeline=(), **kwargs):
    return DATASETS.build(dict(type='AudioVisualDataset', ann_file=ann_file,
                               pipeline=list(pipeline), **kwargs))


def test_generic_info_dicts(tmp_path, av_clips, fsdd_dir):
    (tmp_path / 'frames' / 'c1').mkdir(parents=True)
    (tmp_path / 'still.jpg').write_bytes(b'')
    shutil.copy(sorted(fsdd_dir.glob('*.wav'))[0], tmp_path / 'a.wav')
    ann = write(tmp_path / 'ann.txt', (
        '# visual audio label\n'
        f'{av_clips}/chaplin.mp4 - 1\n'
        'frames/c1 a.wav b\n'
        'still.jpg a.wav 0\n'))
    dataset = build(ann, data_prefix=dict(video=str(tmp_path),
                                          audio=str(tmp_path)),
                    metainfo=dict(classes=['a', 'b']))
    assert len(dataset) == 3
    first, second, third = (dataset.get_data_info(i) for i in range(3))
    assert first['filename'] == f'{av_clips}/chaplin.mp4'
    assert first['audio_path'] is None and first['label'] == 1
    assert second['frame_dir'] == f'{tmp_path}/frames/c1'
    assert second['audio_path'] == f'{tmp_path}/a.wav'
    assert third['img_path'] == f'{tmp_path}/still.jpg'
    assert [info['sample_idx'] for info in (first, second, third)] == \
        [0, 1, 2]
    assert dataset.metainfo['classes'] == ('a', 'b')


def test_ogm_ge_list_with_shipped_classes(tmp_path):
    for clip in ('k1_000001_000011', 'k2_000003_000013'):
        (tmp_path / 'frames' / clip).mkdir(parents=True)
        (tmp_path / 'fbank').mkdir(exist_ok=True)
        np.save(tmp_path / 'fbank' / f'{clip}.npy', np.zeros((4, 4)))
    ann = write(tmp_path / 'my_train.txt',
                'k1_000001_000011,10,4\nk2_000003_000013,10,30\n')
    dataset = build(ann, ann_format='ogm_ge_ks',
                    data_prefix=dict(video=str(tmp_path / 'frames'),
                                     audio=str(tmp_path / 'fbank')),
                    audio_template='{}.npy',
                    metainfo=dict(classes='kinetics_sounds_31'))
    assert len(dataset.metainfo['classes']) == 31
    info = dataset.get_data_info(1)
    assert info['label'] == 30
    assert info['frame_dir'].endswith('frames/k2_000003_000013')
    assert info['audio_path'].endswith('fbank/k2_000003_000013.npy')


def test_cremad_ids_default_classes_and_video_audio_track(tmp_path):
    for clip in ('1001_DFA_ANG_XX', '1002_IEO_NEU_LO'):
        (tmp_path / f'{clip}.flv').write_bytes(b'')
    ann = write(tmp_path / 'test.csv',
                '1001_DFA_ANG_XX,ANG\n1002_IEO_NEU_LO\n')
    dataset = build(ann, ann_format='cremad',
                    data_prefix=dict(video=str(tmp_path), audio=''),
                    visual_template='{}.flv', audio_template=None)
    assert dataset.metainfo['classes'] == ('NEU', 'HAP', 'SAD', 'FEA',
                                           'DIS', 'ANG')
    assert [dataset.get_data_info(i)['label'] for i in range(2)] == [5, 0]
    assert dataset.get_data_info(0)['audio_path'] is None


def test_space_list(tmp_path):
    (tmp_path / 'abc').mkdir()
    (tmp_path / 'abc.wav').write_bytes(b'')
    ann = write(tmp_path / 'list.txt', 'abc 120 7\n')
    dataset = build(ann, ann_format='space_list', num_classes=10,
                    data_prefix=dict(video=str(tmp_path),
                                     audio=str(tmp_path)))
    assert dataset.get_data_info(0)['label'] == 7


@pytest.mark.parametrize('line,message', [
    ('frames/x a.wav', r'ann.txt:2: expected 3 fields'),
    ('frames/x a.wav 2', r'ann.txt:2: label 2 is out of range \[0, 2\)'),
    ('frames/x a.wav zebra', r"ann.txt:2: label 'zebra'"),
    ('frames/missing a.wav 1', r'ann.txt:2: frame_dir not found: .*missing'),
    ('frames/x gone.wav 1', r'ann.txt:2: audio file not found: .*gone.wav'),
])
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    (tmp_path / 'frames' / 'x').mkdir(parents=True)
    (tmp_path / 'a.wav').write_bytes(b'')
    ann = write(tmp_path / 'ann.txt', f'frames/x a.wav 0\n{line}\n')
    with pytest.raises(AnnotationError, match=message):
        build(ann, data_prefix=dict(video=str(tmp_path),
                                    audio=str(tmp_path)),
              metainfo=dict(classes=['a', 'b']))


def test_argument_errors(tmp_path):
    ann = write(tmp_path / 'ann.txt', 'v.mp4 - 0\n')
    with pytest.raises(ValueError, match='ann_format'):
        build(ann, ann_format='csv')
    with pytest.raises(ValueError, match='training only'):
        build(ann, skip_invalid=True, test_mode=True)
    with pytest.raises(ValueError, match='num_classes=3 disagrees'):
        build(ann, num_classes=3, metainfo=dict(classes=['a', 'b']))
    with pytest.raises(FileNotFoundError, match='classes.txt'):
        build(ann, metainfo=dict(classes=str(tmp_path / 'classes.txt')))
    with pytest.raises(FileNotFoundError,
                       match=r'annotation file not found: .*none\.txt .*'
                       r'docs/data_preparation\.md'):
        build(str(tmp_path / 'none.txt'))
    empty = write(tmp_path / 'empty.txt', '# nothing\n')
    with pytest.raises(AnnotationError, match='no valid clip'):
        build(empty)


def test_skip_invalid_counts_and_warns(tmp_path, av_clips,
                                       warnings_logged):
    ann = write(tmp_path / 'ann.txt', (
        f'{av_clips}/chaplin.mp4 - 0\n'
        'broken line\n'
        f'{av_clips}/fire2.mp4 - 9\n'
        f'{av_clips}/no_audio_track.mp4 - 1\n'))
    dataset = build(ann, TRAIN_PIPELINE[:3], skip_invalid=True,
                    num_classes=2)
    assert len(dataset) == 2 and len(dataset.invalid_lines) == 2
    assert len(warnings_logged) == 1
    assert 'skipped 2 invalid line(s)' in warnings_logged[0]
    assert 'ann.txt:2' in warnings_logged[0]
    assert 'ann.txt:3' in warnings_logged[0]
    assert dataset.prepare_data(1) is None
    assert dataset.num_skipped_samples == 1
    assert 'skipped sample 1' in warnings_logged[1]
    assert 'no_audio_track.mp4 has no audio track' in warnings_logged[1]
    sample = dataset[1]
    assert sample['audios'].shape == (1, 1024, 128)
    strict = build(write(tmp_path / 'strict.txt',
                         f'{av_clips}/no_audio_track.mp4 - 1\n'),
                   TRAIN_PIPELINE[:3], num_classes=2)
    with pytest.raises(InvalidSampleError, match='has no audio track'):
        strict[0]


def test_end_to_end_batches_through_the_preprocessor(tmp_path, av_clips):
    ann = write(tmp_path / 'ann.txt', (
        'chaplin.mp4 - 0\nkinetics_style_makeup.avi - 1\n'
        'flipping_a_pancake.mkv - 1\ngrid_samples/lbax4n.mpg - 0\n'))
    dataset = build(ann, TRAIN_PIPELINE,
                    data_prefix=dict(video=str(av_clips), audio=''),
                    metainfo=dict(classes=['a', 'b']))
    loader = DataLoader(dataset, batch_size=2, num_workers=2,
                        collate_fn=pseudo_collate)
    preprocessor = MODELS.build(PREPROCESSOR)
    labels = []
    for batch in loader:
        out = preprocessor(batch, training=True)
        imgs, audios = out['inputs']['imgs'], out['inputs']['audios']
        assert imgs.shape == (2, 1, 3, 3, 112, 112)
        assert audios.shape == (2, 1, 1, 1024, 128)
        assert imgs.dtype == audios.dtype == torch.float32
        assert abs(float(imgs.mean())) < 1.5
        labels += [int(s.gt_label) for s in out['data_samples']]
    assert labels == [0, 1, 1, 0]


def test_word_label_without_class_list_names_the_config_key(tmp_path):
    ann = write(tmp_path / 'ann.txt', 'v.mp4 - speaking\n')
    for skip_invalid in (False, True):
        # a missing class list is the config's fault, not the line's: it is
        # raised even where invalid lines are skipped
        with pytest.raises(MissingClassListError,
                           match=r"ann\.txt:1: label 'speaking' .*"
                           r'metainfo=dict\(classes=\.\.\.\)'):
            build(ann, skip_invalid=skip_invalid)
