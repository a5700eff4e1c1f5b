"""The command-line tools of tools/data, run on real clips in tmp folders."""
import shutil

import numpy as np
import pytest
import soundfile
import torch
from mmaction.registry import DATASETS


def test_kinetics_sounds_from_an_ogm_ge_list(tmp_path, av_clips,
                                             tools_dir, run_tool):
    raw = tmp_path / 'raw' / 'train' / 'playing bagpipes'
    raw.mkdir(parents=True)
    shutil.copy(av_clips / 'kinetics_style_makeup.avi',
                raw / 'aaa_000001_000011.avi')
    shutil.copy(av_clips / 'no_audio_track.mp4', raw / 'bbb_000002_000012.mp4')
    split = tmp_path / 'my_train.txt'
    split.write_text('aaa_000001_000011,10,8\nbbb_000002_000012,10,8\n'
                     'ccc_000003_000013,10,2\n')
    out = tmp_path / 'out'
    args = ('--video-root', tmp_path / 'raw', '--out-dir', out, '--split',
            f'train={split}', '--features', '--workers', 2)
    run_tool(tools_dir / 'kinetics_sounds' /
             'prepare_kinetics_sounds.py', *args)
    assert (out / 'train.txt').read_text() == \
        'frames/aaa_000001_000011 audio/aaa_000001_000011.wav 8\n'
    assert (out / 'train_features.txt').read_text() == \
        'frames/aaa_000001_000011 features/aaa_000001_000011.npy 8\n'
    report = (out / 'failed_clips.tsv').read_text().splitlines()
    assert [line.split('\t')[0] for line in report[1:]] == [
        'bbb_000002_000012', 'ccc_000003_000013']
    assert 'no audio track' in report[1] and 'not found' in report[2]

    dataset = DATASETS.build(dict(
        type='AudioVisualDataset', ann_file=str(out / 'train_features.txt'),
        data_prefix=dict(video=str(out), audio=str(out)),
        metainfo=dict(classes='kinetics_sounds_31'), test_mode=True,
        pipeline=[dict(type='SampleSegmentFrames', test_mode=True),
                  dict(type='LoadPrecomputedAudioFeature')]))
    sample = dataset[0]
    assert sample['audios'].shape == (1, 1024, 128)
    assert len(sample['imgs']) == 3 and sample['total_frames'] == 7


def test_kinetics_sounds_from_class_folders(tmp_path, grid_dir,
                                            tools_dir, run_tool):
    for split, cls, clip in (('train', 'tapping_pen', 'lbax4n.mpg'),
                             ('train', 'tapping_pen', 'lbbc2a.mpg'),
                             ('train', 'tapping_pen', 'lrwp9a.mpg'),
                             ('test', 'singing', 'swiz3n.mpg'),
                             ('test', 'abseiling', 'lwbsza.mpg')):
        folder = tmp_path / 'raw' / split / cls
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(grid_dir / clip, folder / clip)
    out = tmp_path / 'out'
    run_tool(tools_dir / 'kinetics_sounds' /
             'prepare_kinetics_sounds.py', '--video-root', tmp_path / 'raw',
             '--out-dir', out, '--workers', 1, '--short-side', 96,
             '--val-fraction', 0.34)
    train = (out / 'train.txt').read_text().splitlines()
    val = (out / 'val.txt').read_text().splitlines()
    assert len(train) == 2 and len(val) == 1
    assert sorted(train + val) == [
        f'frames/{c} audio/{c}.wav 29' for c in ('lbax4n', 'lbbc2a',
                                                 'lrwp9a')]
    assert (out / 'test.txt').read_text() == \
        'frames/swiz3n audio/swiz3n.wav 25\n'
    assert not (out / 'frames' / 'lwbsza').exists()
    assert not (out / 'features').exists()


def test_cremad_from_flv_and_wav(tmp_path, flv_clip, fsdd_dir, tools_dir,
                                 run_tool):
    # torch's OpenMP pool used before forking: the workers (which run
    # torch.stft for LogSTFT) must not hang in it
    torch.stft(torch.randn(2**18), 512, window=torch.hann_window(512),
               return_complex=True).abs().sum()
    videos, audios = tmp_path / 'VideoFlash', tmp_path / 'AudioWAV'
    videos.mkdir()
    audios.mkdir()
    clips = ('1001_DFA_ANG_XX', '1002_IEO_NEU_LO')
    for index, clip in enumerate(clips):
        shutil.copy(flv_clip, videos / f'{clip}.flv')
        shutil.copy(sorted(fsdd_dir.glob('*.wav'))[index],
                    audios / f'{clip}.wav')
    split = tmp_path / 'test.csv'
    split.write_text('1001_DFA_ANG_XX,ANG\n1002_IEO_NEU_LO,NEU\n')
    out = tmp_path / 'out'
    script = tools_dir / 'cremad' / 'prepare_cremad.py'
    run_tool(script, '--video-dir', videos, '--audio-dir',
             audios, '--split', f'test={split}', '--out-dir', out,
             '--features', '--workers', 2)
    assert (out / 'test.txt').read_text().splitlines() == [
        'frames/1001_DFA_ANG_XX audio/1001_DFA_ANG_XX.wav 5',
        'frames/1002_IEO_NEU_LO audio/1002_IEO_NEU_LO.wav 0',
    ]
    feature = np.load(out / 'features' / '1001_DFA_ANG_XX.npy')
    assert feature.shape == (188, 257)
    assert sorted(p.name for p in (out / 'frames' / clips[0]).iterdir()) \
        == ['img_00001.jpg', 'img_00002.jpg', 'img_00003.jpg']

    own_track = tmp_path / 'out_track'
    run_tool(script, '--video-dir', videos, '--out-dir',
             own_track, '--workers', 1)
    assert (own_track / 'all.txt').read_text().splitlines()[1] == \
        'frames/1002_IEO_NEU_LO audio/1002_IEO_NEU_LO.wav 0'
    assert soundfile.info(str(own_track / 'audio' /
                              '1001_DFA_ANG_XX.wav')).samplerate == 44100


def test_cremad_actor_disjoint_split(tmp_path, flv_clip, tools_dir,
                                     run_tool):
    videos = tmp_path / 'VideoFlash'
    videos.mkdir()
    # like the published split: every actor in both train and test
    train = [f'{actor}_DFA_ANG_XX' for actor in (1001, 1002, 1003)]
    test = [f'{actor}_IEO_NEU_LO' for actor in (1001, 1002, 1003)]
    for clip in train + test:
        shutil.copy(flv_clip, videos / f'{clip}.flv')
    (tmp_path / 'train.csv').write_text(''.join(c + '\n' for c in train))
    (tmp_path / 'test.csv').write_text(''.join(c + '\n' for c in test))
    out = tmp_path / 'out'
    script = tools_dir / 'cremad' / 'prepare_cremad.py'
    args = ['--video-dir', videos, '--out-dir', out, '--workers', 1,
            '--split', f'train={tmp_path / "train.csv"}',
            '--split', f'test={tmp_path / "test.csv"}',
            '--val-fraction', 0.5, '--actor-disjoint-test-fraction', 0.34]
    run_tool(script, *args)

    def split_actors(name):
        lines = (out / f'{name}.txt').read_text().splitlines()
        return [line.split()[0].split('/')[1].split('_')[0]
                for line in lines]

    standard = {name: split_actors(name) for name in ('train', 'val', 'test')}
    assert sorted(standard['train'] + standard['val']) == \
        sorted(standard['test']) == ['1001', '1002', '1003']
    disjoint = {name: split_actors(f'{name}_actor_disjoint')
                for name in ('train', 'val', 'test')}
    for name, found in disjoint.items():  # one actor, both clips each
        assert len(found) == 2 and len(set(found)) == 1, name
    assert sorted(found[0] for found in disjoint.values()) == \
        ['1001', '1002', '1003']
    assert len(list((out / 'frames').iterdir())) == 6  # extracted once

    for listing in out.glob('*.txt'):
        listing.unlink()
    run_tool(script, *args, '--actor-disjoint-only',
             '--actor-disjoint-seed', 1)
    assert sorted(p.name for p in out.glob('*.txt')) == [
        'test_actor_disjoint.txt', 'train_actor_disjoint.txt',
        'val_actor_disjoint.txt']
    with pytest.raises(SystemExit):
        run_tool(script, '--video-dir', videos, '--out-dir',
                 out, '--actor-disjoint-only')


def test_convert_annotations_cli(tmp_path, tools_dir, run_tool):
    src = tmp_path / 'my_test.txt'
    src.write_text('abc_000001_000011,10,3\n')
    dst = tmp_path / 'test.txt'
    run_tool(tools_dir / 'convert_annotations.py', src, dst,
             '--from', 'ogm_ge_ks', '--to', 'generic', '--visual-template',
             'frames/{}', '--audio-template', 'features/{}.npy')
    assert dst.read_text() == \
        'frames/abc_000001_000011 features/abc_000001_000011.npy 3\n'
    src.write_text('abc_000001_000011,ten,3\n')
    with pytest.raises(ValueError, match='my_test.txt:1'):
        run_tool(tools_dir / 'convert_annotations.py', src, dst,
                 '--from', 'ogm_ge_ks', '--to', 'generic')


def test_convert_annotations_word_label_without_classes_names_the_flag(
        tmp_path, tools_dir, run_tool):
    src = tmp_path / 'words.txt'
    src.write_text('clips/a.mp4 - speaking\n')
    with pytest.raises(SystemExit) as exit_info:
        run_tool(tools_dir / 'convert_annotations.py', src,
                 tmp_path / 'out.txt', '--from', 'generic', '--to',
                 'space_list')
    message = str(exit_info.value.code)
    assert 'words.txt:1' in message and "'speaking'" in message
    assert '--classes' in message and 'metainfo' not in message
