"""docs/own_data.md end to end: every ``bash`` block of the page, run in
order by bash on the real GRID clips of ../shared/data, from a folder that
holds the repository's ``tools/`` and ``configs/`` (as the repository root
does) and a ``../shared`` beside it; then what each step wrote is checked."""
import csv
import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / 'docs' / 'own_data.md'
CONFIG = REPO / 'configs' / 'own_data' / 'rollingq_my_clips.py'
SHARED = REPO / '..' / 'shared'
GRID = SHARED / 'data' / 'av_clips' / 'grid_samples'
COLOURS = dict(b='blue', g='green', r='red', w='white')
SPLITS = ('train', 'val', 'test')
NUMBER = r'-?\d+(?:\.\d+)?(?:e[-+]?\d+)?'


def doc_script() -> str:
    """The page's bash blocks, in order."""
    blocks = re.findall(r'```bash\n(.*?)```', DOC.read_text(), re.S)
    assert len(blocks) >= 6, 'docs/own_data.md lost its commands'
    return '\n'.join(blocks)


def numbers(text: str) -> list:
    return [float(value) for value in re.findall(NUMBER, text)]


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """Run the page in ``<tmp>/repo`` (``../shared`` is the real one)."""
    assert GRID.is_dir(), f'shared test data missing: {GRID}'
    tmp = tmp_path_factory.mktemp('own_data')
    (tmp / 'shared').symlink_to(SHARED.resolve())
    root = tmp / 'repo'
    root.mkdir()
    for name in ('tools', 'configs'):
        (root / name).symlink_to(REPO / name)
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PATH=f'{Path(sys.executable).parent}{os.pathsep}'
               f'{os.environ.get("PATH", "")}')
    result = subprocess.run(
        ['bash', '-euo', 'pipefail', '-c', doc_script()], cwd=root, env=env,
        capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    return root, log


@pytest.mark.slow
def test_the_documented_path_runs_on_the_grid_clips(run):
    root, log = run
    data = root / 'data' / 'my_clips'
    cfg = Config.fromfile(str(CONFIG))

    # Class folders by colour; classes.txt is what the config lists.
    clips = {path.stem: COLOURS[path.stem[1]] for path in GRID.glob('*.mpg')}
    classes = (data / 'classes.txt').read_text().split()
    assert classes == sorted(set(clips.values())) == list(cfg.classes)
    assert cfg.model.fusion_head.num_classes == len(classes)

    # Split files: non-empty, every clip in exactly one, label = its folder.
    seen = []
    for split in SPLITS:
        lines = (data / f'{split}.txt').read_text().split('\n')
        lines = [line.split() for line in lines if line.strip()]
        assert lines, f'{split}.txt is empty'
        for visual, audio, label in lines:
            colour, stem = Path(visual).parts[-2:]
            assert visual == f'frames/{colour}/{stem}'
            assert audio == f'audio/{colour}/{stem}.wav'
            assert colour == clips[stem]
            assert int(label) == classes.index(colour)
            assert (data / audio).is_file()
            assert len(list((data / visual).glob('img_*.jpg'))) == 3
            seen.append(stem)
    assert sorted(seen) == sorted(clips)
    test_clips = [Path(line.split()[0]).name for line in
                  (data / 'test.txt').read_text().splitlines()]

    # The printed normalisation lines parse, and the shipped config holds
    # what the tool measures on these clips.
    pixels = re.search(r'^model = dict\(data_preprocessor=.*imgs=dict\('
                       r'mean=(\[.*?\]), std=(\[.*?\])\)', log, re.M)
    fbank = re.search(rf'^norm_mean=({NUMBER}), norm_std=({NUMBER})$', log,
                      re.M)
    assert pixels and fbank, log[-6000:]
    imgs = cfg.model.data_preprocessor.preprocessors.imgs
    assert numbers(pixels.group(1)) == pytest.approx(imgs.mean, rel=0.02)
    assert numbers(pixels.group(2)) == pytest.approx(imgs.std, rel=0.02)
    assert float(fbank.group(1)) == pytest.approx(
        cfg.audio_feature.norm_mean, rel=0.02)
    assert float(fbank.group(2)) == pytest.approx(
        cfg.audio_feature.norm_std, rel=0.02)

    # Training: checkpoints, the token counts and the documented log keys.
    work = root / 'work_dirs' / 'rollingq_my_clips'
    epochs = cfg.train_cfg.max_epochs
    assert (work / f'epoch_{epochs}.pth').is_file()
    best = list(work.glob('best_acc_fused_top1_epoch_*.pth'))
    assert len(best) == 1
    # The noise probe logs into the same work dir: take training's log.
    train_log = next(text for text in (
        path.read_text() for path in sorted(work.glob('*/*.log')))
        if 'Epoch(train)' in text)
    assert re.search(r'tokens per modality: audio 31, visual 51 '
                     r'\(\+1 fusion token\)', train_log)
    last = re.search(rf'Epoch\(train\) +\[{epochs}\]\[1/1\].*', train_log)
    assert last, train_log[-3000:]
    for key in ('data_time', 'air', 'attn_audio', 'norm_attn_audio',
                'norm_attn_visual'):
        assert f' {key}: ' in last.group(0)
    assert re.search(rf'AIRHook epoch {epochs} .*probe_acc_audio '
                     rf'{NUMBER}.*probe_acc_visual {NUMBER}', train_log)

    # Test report: the metrics file and one dumped record per test clip.
    results = list((root / 'work_dirs' / 'my_clips_test').glob('*/*.json'))
    assert len(results) == 1
    metrics = json.loads(results[0].read_text())
    assert 0.0 <= metrics['acc/fused_top1'] <= 1.0
    assert {'acc/audio_top1', 'acc/visual_top1', 'attn/audio_norm_mean'} <= \
        set(metrics)
    with open(root / 'work_dirs' / 'my_clips_test' / 'predictions.pkl',
              'rb') as file:
        predictions = pickle.load(file)
    assert sorted(p['clip_id'] for p in predictions) == sorted(test_clips)

    # Noise probe: every modality at every level, r per modality.
    probe = root / 'work_dirs' / 'my_clips_noise_probe'
    with open(probe / 'accuracy.csv') as file:
        rows = list(csv.DictReader(file))
    assert {(r['corrupted'], float(r['level'])) for r in rows} == {
        (m, level) for m in ('audio', 'visual') for level in (0, 0.5, 1.0)}
    assert all(int(r['num_samples']) == len(test_clips) for r in rows)
    with open(probe / 'correlation.csv') as file:
        assert [r['modality'] for r in csv.DictReader(file)] == [
            'audio', 'visual']

    # Quality report: every test clip matched its row of the table.
    with open(root / 'my_quality.csv') as file:
        assert sorted(r['clip'] for r in csv.DictReader(file)) == sorted(
            clips)
    quality = root / 'work_dirs' / 'my_clips_quality'
    with open(quality / 'joined.csv') as file:
        joined = list(csv.DictReader(file))
    assert len(joined) == len(test_clips)
    assert f'Matched {len(test_clips)} predictions; 0 predictions without ' \
        'a quality row were excluded' in log
    assert (quality / 'attention_quality_correlation.csv').is_file()
