"""tools/data/prepare_clips.py and the feature recipes, on real clips."""
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import soundfile
from mmaction.registry import DATASETS, TRANSFORMS

from rollingq_mm.datasets.preparation import parse_feature_recipe


@pytest.fixture
def prepare(run_tool, tools_dir):
    """``prepare(*args)``: run tools/data/prepare_clips.py."""
    return partial(run_tool, tools_dir / 'prepare_clips.py')


@pytest.fixture
def prepare_fails(prepare, capsys):
    """``prepare_fails(*args)``: the exit status and stderr of a run."""

    def run(*args):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            prepare(*args)
        return exit_info.value.code, capsys.readouterr().err

    return run


def mtimes(folder: Path) -> dict:
    return {
        path: path.stat().st_mtime_ns
        for path in folder.rglob('*')
        if path.is_file() and path.suffix in ('.jpg', '.wav', '.npy')
    }


@pytest.fixture
def wav_16k(tmp_path, grid_dir):
    """A GRID clip's own audio track, resampled to 16 kHz, as a wav."""
    results = TRANSFORMS.build(dict(type='LoadAudio', sample_rate=16000))(dict(
        filename=str(grid_dir / 'lbax4n.mpg'), audio_path=None))
    path = tmp_path / 'lbax4n_16k.wav'
    soundfile.write(str(path), results['audio'], 16000, subtype='PCM_16')
    return path


def test_generic_list_end_to_end_and_resume(tmp_path, grid_dir, av_clips,
                                            prepare):
    data = tmp_path / 'data'
    data.mkdir()
    for clip in ('brbk7n.mpg', 'lbax4n.mpg'):
        shutil.copy(grid_dir / clip, data / clip)
    shutil.copy(av_clips / 'no_audio_track.mp4', data / 'silent.mp4')
    listing = data / 'train.txt'
    listing.write_text('brbk7n.mpg - place\nlbax4n.mpg - lay\n'
                       'silent.mp4 - lay\n')
    out = tmp_path / 'out'
    args = ('--split', f'train={listing}', '--out-dir', out, '--fps', 2,
            '--short-side', 64, '--workers', 1)
    prepare(*args)

    # class names seen in the list, numbered in sorted order
    assert (out / 'classes.txt').read_text() == 'lay\nplace\n'
    assert (out / 'train.txt').read_text() == (
        'frames/brbk7n audio/brbk7n.wav 1\nframes/lbax4n audio/lbax4n.wav 0\n')
    report = (out / 'failed_clips.tsv').read_text().splitlines()
    assert len(report) == 2 and report[1].split('\t')[:4] == [
        'silent', str(data / 'silent.mp4'), '-', 'audio'
    ]
    assert 'no audio track' in report[1]
    frames = sorted(p.name for p in (out / 'frames' / 'brbk7n').iterdir())
    assert len(frames) == 6  # 3 s at 2 fps
    assert soundfile.info(str(out / 'audio' / 'brbk7n.wav')).samplerate == \
        44100

    dataset = DATASETS.build(
        dict(type='AudioVisualDataset',
             ann_file=str(out / 'train.txt'),
             data_prefix=dict(video=str(out), audio=str(out)),
             metainfo=dict(classes=str(out / 'classes.txt')),
             test_mode=True,
             pipeline=[
                 dict(type='SampleSegmentFrames', test_mode=True),
                 dict(type='LoadAudio')
             ]))
    sample = dataset[0]
    assert sample['label'] == 1 and sample['total_frames'] == 6
    assert min(sample['imgs'][0].shape[:2]) == 64

    # resume: complete outputs are kept, a missing one is written again
    before = mtimes(out)
    (out / 'audio' / 'lbax4n.wav').unlink()
    prepare(*args)
    after = mtimes(out)
    changed = {path for path in after if before.get(path) != after[path]}
    assert changed == {out / 'audio' / 'lbax4n.wav'}
    assert (out / 'train.txt').read_text().count('\n') == 2


def test_class_folders_with_carved_test_split(tmp_path, grid_dir, prepare):
    raw = tmp_path / 'my_clips'
    for cls, clips in (('bin', ('brbk7n', 'take 2')),
                       ('lay down', ('lbax4n', 'lrwp9a'))):
        (raw / cls).mkdir(parents=True)
        for clip in clips:
            source = 'pwij3p' if clip == 'take 2' else clip
            shutil.copy(grid_dir / f'{source}.mpg', raw / cls / f'{clip}.mpg')
    # the same file name in two classes: the ids keep them apart
    shutil.copy(grid_dir / 'swiz3n.mpg', raw / 'bin' / 'take1.mpg')
    shutil.copy(grid_dir / 'sbwe5n.mpg', raw / 'lay down' / 'take1.mpg')
    out = tmp_path / 'out'
    prepare('--class-folders', raw, '--out-dir', out, '--fps', 0.5,
            '--short-side', 48, '--features',
            'fbank:num_mel_bins=64,target_frames=200', '--test-fraction', 0.34,
            '--workers', 2)
    assert (out / 'classes.txt').read_text() == 'bin\nlay down\n'
    train = (out / 'train.txt').read_text().splitlines()
    test = (out / 'test.txt').read_text().splitlines()
    assert len(train) == 4 and len(test) == 2
    assert sorted(line.split()[-1] for line in test) == ['0', '1']
    # whitespace in an id would split the fields of the split files
    assert sorted(line.split()[0] for line in train + test) == [
        f'frames/{c}' for c in ('bin/brbk7n', 'bin/take1', 'bin/take_2',
                                'lay_down/lbax4n', 'lay_down/lrwp9a',
                                'lay_down/take1')
    ]
    assert len(list((out / 'frames' / 'lay_down' / 'take1').iterdir())) == 1
    feature = np.load(out / 'features' / 'bin' / 'take1.npy')
    assert feature.shape == (200, 64)
    assert not np.array_equal(
        feature, np.load(out / 'features' / 'lay_down' / 'take1.npy'))
    assert (out / 'test_features.txt'
            ).read_text().splitlines()[0].split()[1].startswith('features/')


def test_16khz_audio_needs_a_recipe_that_fits(tmp_path, grid_dir, wav_16k,
                                              prepare, prepare_fails):
    shutil.copy(grid_dir / 'lbax4n.mpg', tmp_path / 'lbax4n.mpg')
    listing = tmp_path / 'lists' / 'train.txt'  # paths from --data-root
    listing.parent.mkdir()
    listing.write_text(f'lbax4n.mpg {wav_16k.name} 0\n')
    out = tmp_path / 'out'
    args = ('--split', f'train={listing}', '--data-root', tmp_path,
            '--out-dir', out, '--fps', 0.5, '--workers', 1)

    # the Kinetics recipe (128 bins) at the 16 kHz source rate
    status, err = prepare_fails(*args, '--features')
    assert status == 1
    assert 'all 1 clips failed' in err and '128 mel bins at 16000 Hz' in err
    assert '--features fbank:num_mel_bins=64' in err
    assert not (out / 'train.txt').exists()
    assert not (out / 'train_features.txt').exists()
    assert (out / 'failed_clips.tsv'
            ).read_text().splitlines()[1].split('\t')[3] == 'features'
    assert (out / 'frames' / 'lbax4n').is_dir()  # frames and audio kept

    # a recipe fixing the rate is checked before any clip is read
    status, err = prepare_fails(*args, '--features', 'fbank:sample_rate=16000')
    assert status == 2 and '--features' in err and '16000 Hz' in err

    prepare(*args, '--features', 'fbank:num_mel_bins=64')
    assert (out / 'train_features.txt').read_text() == \
        'frames/lbax4n features/lbax4n.npy 0\n'
    feature = np.load(out / 'features' / 'lbax4n.npy')
    assert feature.shape == (1024, 64)
    assert np.isfinite(feature).all() and feature[:290].std() > 0.1
    assert soundfile.info(str(out / 'audio' / 'lbax4n.wav')).samplerate == \
        16000

    # features of one recipe are not mixed with another's on a re-run
    status, err = prepare_fails(*args, '--features', 'fbank:num_mel_bins=32')
    assert status == 2 and '--features' in err and 'another recipe' in err


def test_failed_clips_never_leave_an_empty_split_file(tmp_path, grid_dir,
                                                      av_clips, prepare_fails):
    shutil.copy(grid_dir / 'lbax4n.mpg', tmp_path / 'good.mpg')
    shutil.copy(av_clips / 'no_audio_track.mp4', tmp_path / 'silent.mp4')
    (tmp_path / 'bad.txt').write_text('silent.mp4 - 0\nmissing.mp4 - 1\n')
    (tmp_path / 'good.txt').write_text('good.mpg - 1\n')
    out = tmp_path / 'out'
    common = ('--out-dir', out, '--fps', 0.5, '--workers', 1)

    status, err = prepare_fails('--split', f'train={tmp_path / "bad.txt"}',
                                *common)
    assert status == 1 and 'all 2 clips failed' in err
    assert 'the first: silent' in err and 'no audio track' in err
    assert not list(out.glob('*.txt'))
    assert len((out / 'failed_clips.tsv').read_text().splitlines()) == 3

    status, err = prepare_fails('--split', f'train={tmp_path / "good.txt"}',
                                '--split', f'test={tmp_path / "bad.txt"}',
                                *common)
    assert status == 1 and 'every clip of the split(s) test failed' in err
    assert (out / 'train.txt').read_text() == \
        'frames/good audio/good.wav 1\n'
    assert not (out / 'test.txt').exists()


def test_class_errors_name_the_flag(tmp_path, grid_dir, prepare,
                                    prepare_fails):
    shutil.copy(grid_dir / 'lbax4n.mpg', tmp_path / 'a.mpg')
    shutil.copy(grid_dir / 'lrwp9a.mpg', tmp_path / 'b.mpg')
    listing = tmp_path / 'train.txt'
    listing.write_text('a.mpg - 0\nb.mpg - place\n')
    args = ('--split', f'train={listing}', '--out-dir', tmp_path / 'out')

    status, err = prepare_fails(*args)
    assert status == 2 and 'metainfo' not in err
    assert f"{listing}:2: label 'place' is a class name" in err
    assert '--classes' in err

    status, err = prepare_fails(*args, '--classes', 'lay,bin')
    assert status == 2 and "'place' is not one of the 2 classes of " \
        '--classes lay,bin' in err

    status, err = prepare_fails(*args, '--classes', 'place')
    assert status == 2 and "--classes 'place' is neither" in err
    assert not (tmp_path / 'out').exists()

    prepare(*args, '--classes', 'lay,place', '--fps', 0.5, '--workers', 1)
    assert (tmp_path / 'out' / 'train.txt').read_text() == \
        'frames/a audio/a.wav 0\nframes/b audio/b.wav 1\n'
    status, err = prepare_fails(*args, '--classes', 'place,lay')
    assert status == 2 and '--classes' in err and 'ids would change' in err

    raw = tmp_path / 'folders' / 'lay'
    raw.mkdir(parents=True)
    shutil.copy(grid_dir / 'lbax4n.mpg', raw / 'a.mpg')
    status, err = prepare_fails('--class-folders', raw.parent, '--out-dir',
                                tmp_path / 'out2', '--classes', 'bin,place')
    assert status == 2 and "['lay']" in err and '--classes bin,place' in err


def test_dataset_tools_take_a_recipe(tmp_path, grid_dir, tools_dir, run_tool,
                                     capsys):
    raw = tmp_path / 'raw' / 'train' / 'tapping_pen'
    raw.mkdir(parents=True)
    shutil.copy(grid_dir / 'lbax4n.mpg', raw / 'lbax4n.mpg')
    out = tmp_path / 'out'
    script = tools_dir / 'kinetics_sounds' / 'prepare_kinetics_sounds.py'
    run_tool(script, '--video-root', tmp_path / 'raw', '--out-dir', out,
             '--fps', 0.5, '--workers', 1, '--features',
             'log_stft:sample_rate=16000,seconds=2,hop_length=160')
    assert np.load(out / 'features' / 'lbax4n.npy').shape == (201, 257)
    with pytest.raises(SystemExit):
        run_tool(script, '--video-root', tmp_path / 'raw', '--out-dir', out,
                 '--features', 'mfcc')
    assert '--features: unknown feature recipe' in capsys.readouterr().err


def test_feature_recipe_specs():
    assert parse_feature_recipe('fbank') == [
        dict(type='LoadAudio', sample_rate=None),
        dict(type='KaldiFbank')
    ]
    assert parse_feature_recipe('log_stft:seconds=none,n_fft=400') == [
        dict(type='LoadAudio', sample_rate=22050),
        dict(type='LogSTFT', n_fft=400)
    ]
    assert parse_feature_recipe(
        'fbank:norm_mean=none,norm_std=none,layout=freq_time')[1] == dict(
            type='KaldiFbank',
            norm_mean=None,
            norm_std=None,
            layout='freq_time')
    with pytest.raises(ValueError, match="no key 'bins'; keys: sample_rate"):
        parse_feature_recipe('fbank:bins=64')
    with pytest.raises(ValueError, match='expected KEY=VALUE'):
        parse_feature_recipe('fbank:64')
    with pytest.raises(ValueError, match='norm_std must be positive'):
        parse_feature_recipe('fbank:norm_std=-1')
