"""benchmarks/avdigits_benchmark.py: run order, log parsing, table, one run."""
import csv
import importlib.util
import json
import math
import re
import statistics
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import dump

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'benchmarks' / 'avdigits_benchmark.py'


@pytest.fixture(scope='module')
def bench():
    """The benchmark script as a module."""
    spec = importlib.util.spec_from_file_location('avdigits_benchmark',
                                                  SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def record(bench, method, seed, fused, wall, air=None, rotations=()):
    """A synthetic run record."""
    attn = {} if air is None else dict(audio=0.6, visual=0.3)
    test = {'acc/fused_top1': fused, 'acc/audio_top1': fused - 0.1,
            'acc/visual_top1': fused - 0.3}
    if air is not None:
        test.update({'attn/air': air / 2, 'attn/visual_mean': 0.3})
    val = dict(fused=fused + 0.01, audio=0.5, visual=0.4)
    return bench.RunRecord(method=method, seed=seed, wall_s=wall,
                           cpu_s=wall / 2, best_epoch=3, val=val, test=test,
                           final_air=air, final_attn=attn,
                           rotation_epochs=list(rotations))


def test_tables_and_checkpoints_come_from_the_harness_run_table(bench):
    """One table builder and best-checkpoint finder for the benchmark and
    tools/analysis/noise_probe_runs.py: tools/analysis/run_table.py."""
    run_table = sys.modules[bench.runs_table.__module__]
    assert Path(run_table.__file__) == (REPO / 'tools' / 'analysis' /
                                        'run_table.py')
    assert bench.find_checkpoint is run_table.find_checkpoint
    assert not hasattr(bench, 'best_checkpoint')


def test_schedule_interleaves_methods_and_rotates_their_order(bench):
    methods = ('vanilla', 'rollingq', 'concat')
    runs = bench.run_schedule(methods, [0, 1, 2])
    assert len(runs) == 9
    for index, seed in enumerate([0, 1, 2]):
        block = runs[3 * index:3 * index + 3]
        assert {s for s, _ in block} == {seed}
        assert sorted(m for _, m in block) == sorted(methods)
    # Over three seeds every method takes every position once.
    for position in range(3):
        assert {runs[3 * i + position][1] for i in range(3)} == set(methods)


def test_warm_start_schedule_trains_each_seeds_towers_first(bench):
    runs = bench.run_schedule(('vanilla', 'audio_only', 'mbt'), [0, 1],
                              warm_start=True)
    assert runs == [(0, 'audio_only'), (0, 'visual_only'), (0, 'vanilla'),
                    (0, 'mbt'), (1, 'audio_only'), (1, 'visual_only'),
                    (1, 'mbt'), (1, 'vanilla')]


@pytest.mark.parametrize('method', ['vanilla', 'mbt'])
def test_warm_start_loads_each_tower_from_its_unimodal_run(
        bench, tmp_path, method):
    """The overrides load encoders.<m> of the tower's own checkpoint into
    the fusion model's tower; the head starts from its usual init."""
    import rollingq_mm  # noqa: F401
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    checkpoints, towers = {}, {}
    for seed, (modality, tower) in enumerate(bench.TOWER_METHODS.items()):
        torch.manual_seed(seed)
        cfg = Config.fromfile(str(REPO / 'configs' / f'{tower}_avdigits.py'))
        model = MODELS.build(cfg.model)
        model.init_weights()
        checkpoints[modality] = str(tmp_path / f'{tower}.pth')
        torch.save(dict(state_dict=model.state_dict(), meta={}),
                   checkpoints[modality])
        towers[modality] = model.encoders[modality].state_dict()
    cfg = Config.fromfile(str(REPO / 'configs' / f'{method}_avdigits.py'))
    cfg.merge_from_dict(bench.warm_start_options(checkpoints))
    torch.manual_seed(7)
    fusion = MODELS.build(cfg.model)
    head_before = {k: v.clone()
                   for k, v in fusion.fusion_head.state_dict().items()}
    fusion.init_weights()
    for modality, expected in towers.items():
        loaded = fusion.encoders[modality].state_dict()
        assert loaded.keys() == expected.keys()
        for key, value in expected.items():
            assert torch.equal(loaded[key], value), (modality, key)
    # The two towers came from different runs (different seeds).
    assert not torch.equal(
        fusion.encoders['audio'].state_dict()['layers.0.attn.qkv.weight'],
        towers['visual']['layers.0.attn.qkv.weight'])
    # The head (and its probes) start as in a cold run with the same seed.
    torch.manual_seed(7)
    cold = MODELS.build(Config.fromfile(
        str(REPO / 'configs' / f'{method}_avdigits.py')).model)
    cold.init_weights()
    cold_head = cold.fusion_head.state_dict()
    head_after = fusion.fusion_head.state_dict()
    for key, value in head_before.items():
        assert torch.equal(head_after[key], value), key
        assert torch.equal(cold_head[key], value), key


def test_warm_start_refuses_a_checkpoint_without_the_tower(bench, tmp_path):
    import rollingq_mm  # noqa: F401
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    empty = tmp_path / 'no_towers.pth'
    torch.save(dict(state_dict={'fusion_head.fc.weight': torch.zeros(1)}),
               empty)
    cfg = Config.fromfile(str(REPO / 'configs' / 'vanilla_avdigits.py'))
    cfg.merge_from_dict(bench.warm_start_options({'audio': str(empty)}))
    model = MODELS.build(cfg.model)
    with pytest.raises(AssertionError, match='encoders.audio.'):
        model.init_weights()


def test_data_root_points_every_split_there(bench, tmp_path):
    for split in ('train', 'val', 'test'):
        (tmp_path / f'{split}.txt').write_text('')
    root = str(tmp_path)
    args = bench.parse_args([
        '--data-root', root, '--cfg-options',
        f'val_dataloader.dataset.ann_file={root}/other.txt'])
    assert args.cfg_options['train_dataloader.dataset.ann_file'] == \
        f'{root}/train.txt'
    assert args.cfg_options['test_dataloader.dataset.data_prefix.audio'] == \
        root
    assert args.cfg_options['val_dataloader.dataset.ann_file'] == \
        f'{root}/other.txt'
    assert len(args.cfg_options) == 9
    assert bench.parse_args([]).cfg_options == {}
    (tmp_path / 'val.txt').unlink()
    with pytest.raises(FileNotFoundError, match=r'val\.txt not found'):
        bench.parse_args(['--data-root', root])


def test_summary_means_stds_and_wall_ratio(bench):
    records = [
        record(bench, 'vanilla', 0, 0.70, 100.0, air=0.6),
        record(bench, 'vanilla', 1, 0.74, 110.0, air=-0.4),
        record(bench, 'rollingq', 0, 0.76, 105.0, air=0.2, rotations=(5, 7)),
        record(bench, 'rollingq', 1, 0.78, 126.0, air=0.1, rotations=(5, )),
        record(bench, 'concat', 0, 0.80, 90.0),
    ]
    summary = bench.summarise(records)
    assert summary['vanilla']['test_fused']['mean'] == pytest.approx(0.72)
    assert summary['vanilla']['test_fused']['std'] == pytest.approx(
        math.sqrt(2) * 0.02)
    assert summary['vanilla']['final_abs_air']['mean'] == pytest.approx(0.5)
    assert summary['rollingq']['rotations']['mean'] == pytest.approx(1.5)
    assert summary['concat']['test_fused'] == dict(mean=pytest.approx(0.8),
                                                   std=0.0, n=1)
    assert 'final_abs_air' not in summary['concat']
    assert summary['wall_ratio_rollingq_vs_vanilla'] == pytest.approx(
        115.5 / 105.0)
    assert summary['cpu_ratio_rollingq_vs_vanilla'] == pytest.approx(
        115.5 / 105.0)
    assert summary['rollingq']['cpu_s']['mean'] == pytest.approx(57.75)

    table = bench.format_table(summary)
    lines = table.splitlines()
    assert lines[0] == ('| | vanilla (n=2) | rollingq (n=2) | concat (n=1) |')
    fused = next(line for line in lines if line.startswith('| test fused'))
    assert fused == ('| test fused top-1 | 0.720 ± 0.028 | 0.770 ± 0.014 | '
                     '0.800 ± 0.000 |')
    air = next(line for line in lines if line.startswith('| final abs AIR'))
    assert air == ('| final abs AIR (train) | 0.500 ± 0.141 | 0.150 ± 0.071 '
                   '| - |')
    assert summary['wall_ratio_concat_vs_vanilla'] == pytest.approx(
        90.0 / 105.0)
    assert lines[-4:] == [
        'rollingq wall time / vanilla wall time: 1.100 (target <= 1.02)',
        'rollingq CPU time / vanilla CPU time: 1.100 (target <= 1.02)',
        'concat wall time / vanilla wall time: 0.857',
        'concat CPU time / vanilla CPU time: 0.857']


def test_summary_without_vanilla_has_no_ratio(bench):
    summary = bench.summarise([record(bench, 'concat', 0, 0.8, 90.0)])
    assert 'wall_ratio_rollingq_vs_vanilla' not in summary
    assert 'wall time' not in bench.format_table(summary)


def write_scalars(work_dir: Path, lines: list) -> None:
    """A run's vis_data/scalars.json as LocalVisBackend writes it."""
    folder = work_dir / '20260101_000000' / 'vis_data'
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text(
        ''.join(json.dumps(line) + '\n' for line in lines))


def test_read_training_takes_the_best_epoch_and_the_last_air(bench, tmp_path):
    lines = []
    for epoch, (air, angle, fused) in enumerate(
            [(0.7, 0.0, 0.5), (0.8, 120.0, 0.7), (0.3, 0.0, 0.6)], 1):
        lines.append({'rollingq/air': air,
                      'rollingq/attn_audio': 0.5 + air / 4,
                      'rollingq/attn_visual': 0.4 - air / 4,
                      'rollingq/rotation_angle': angle, 'step': epoch})
        lines.append({'acc/fused_top1': fused, 'acc/audio_top1': fused - 0.1,
                      'acc/visual_top1': 0.3, 'step': epoch})
    write_scalars(tmp_path, lines)
    (tmp_path / 'best_acc_fused_top1_epoch_2.pth').write_bytes(b'')
    # Another metric's best checkpoint and a periodic one do not count.
    (tmp_path / 'best_loss_epoch_3.pth').write_bytes(b'')
    (tmp_path / 'epoch_3.pth').write_bytes(b'')
    run = bench.read_training(str(tmp_path), 'rollingq', 4, 12.5, 20.0)
    assert (run.method, run.seed, run.wall_s, run.cpu_s, run.best_epoch) == (
        'rollingq', 4, 12.5, 20.0, 2)
    assert run.val == pytest.approx(dict(fused=0.7, audio=0.6, visual=0.3))
    assert run.final_air == pytest.approx(0.3)
    assert run.final_attn == pytest.approx(dict(audio=0.575, visual=0.325))
    assert run.rotation_epochs == [2]


def test_read_training_refuses_ambiguous_or_missing_checkpoints(bench,
                                                                tmp_path):
    write_scalars(tmp_path, [{'acc/fused_top1': 0.5, 'step': 1}])
    with pytest.raises(FileNotFoundError, match='expected one best_acc'):
        bench.read_training(str(tmp_path), 'concat', 0, 1.0, 1.0)
    (tmp_path / 'best_acc_fused_top1_epoch_1.pth').write_bytes(b'')
    with pytest.raises(ValueError, match=r'acc/audio_top1 logged for the '
                       r'best epoch 1'):
        bench.read_training(str(tmp_path), 'concat', 0, 1.0, 1.0)
    (tmp_path / 'best_acc_fused_top1_epoch_2.pth').write_bytes(b'')
    with pytest.raises(FileNotFoundError, match='expected one best_acc'):
        bench.read_training(str(tmp_path), 'concat', 0, 1.0, 1.0)


@pytest.mark.parametrize('method', ['concat', 'rollingq'])
def test_test_config_adds_the_modality_ablation(bench, tmp_path, method):
    out = bench.write_test_config(f'configs/{method}_avdigits.py',
                                  {'test_dataloader.batch_size': 7},
                                  str(tmp_path / 'test.py'))
    cfg = Config.fromfile(out)
    assert cfg.tta_model == dict(type='ModalityAblationTTA', ablation='mean')
    assert cfg.test_dataloader.batch_size == 7
    types = [e['type'] for e in cfg.test_evaluator]
    assert types[0] == 'AccMetric'
    assert types[-1] == 'ModalityContributionMetric'
    assert ('AttentionShareMetric' in types) == (method == 'rollingq')


def prediction(clip_id, label, predicted, visual_share=None):
    """One dumped test prediction as tools/test.py --dump stores it."""
    scores = torch.full((10, ), 0.01)
    scores[predicted] = 0.91
    sample = dict(clip_id=clip_id, gt_label=torch.tensor([label]),
                  pred_score=dict(fused=scores, audio=scores))
    if visual_share is not None:
        sample['attn_share'] = torch.tensor([0.9 - visual_share,
                                             visual_share])
    return sample


def write_meta(path: Path, rows: list) -> None:
    """A {split}_meta.csv with the columns the benchmark reads."""
    path.write_text('clip_id,speaker,digit,corrupted\n' + ''.join(
        f'{clip},theo,{digit},{corrupted}\n'
        for clip, digit, corrupted in rows))


def test_quality_groups_of_the_predictions(bench, tmp_path):
    write_meta(tmp_path / 'meta.csv',
               [('1_theo_0', 1, 'none'), ('1_theo_1', 1, 'audio'),
                ('2_theo_0', 2, 'none'), ('2_theo_1', 2, 'visual'),
                ('3_theo_0', 3, 'audio')])
    dump([prediction('1_theo_0', 1, 1, 0.3),
          prediction('2_theo_0', 2, 5, 0.2),
          prediction('1_theo_1', 1, 1, 0.6),
          prediction('3_theo_0', 3, 1, 0.5),
          prediction('2_theo_1', 2, 2, 0.1)], str(tmp_path / 'p.pkl'))
    metrics = bench.quality_metrics(str(tmp_path / 'p.pkl'),
                                    str(tmp_path / 'meta.csv'))
    # Pearson's r of the visual share with each modality's quality (1:
    # not corrupted), computed independently by the standard library.
    shares = [0.3, 0.2, 0.6, 0.5, 0.1]  # none, none, audio, audio, visual
    image_ok, audio_ok = [1, 1, 1, 1, 0], [1, 1, 0, 0, 1]
    assert metrics == pytest.approx({
        'quality/none/fused_top1': 0.5, 'quality/audio/fused_top1': 0.5,
        'quality/visual/fused_top1': 1.0, 'quality/none/attn_visual': 0.25,
        'quality/audio/attn_visual': 0.55, 'quality/visual/attn_visual': 0.1,
        'quality/r_attn_visual_image': statistics.correlation(
            shares, image_ok),
        'quality/r_attn_visual_audio': statistics.correlation(
            shares, audio_ok)})
    # Runs recorded without the correlations get the same values from
    # their group means, the split's group sizes and the population std.
    counts = bench.group_counts(str(tmp_path / 'meta.csv'))
    assert counts == {'none': 2, 'audio': 2, 'visual': 1}
    grouped = {k: v for k, v in metrics.items() if '/r_' not in k}
    grouped['attn/visual_std'] = statistics.pstdev(shares)
    assert bench.correlations_from_groups(grouped, counts) == pytest.approx(
        {k: v for k, v in metrics.items() if '/r_' in k}, abs=1e-6)
    assert bench.correlations_from_groups(
        {'quality/none/attn_visual': 0.2, 'attn/visual_std': 0.1},
        counts) == {}
    # More attention on the image where it is clean, and where the audio
    # is corrupted: r > 0 for the image, r < 0 for the audio.
    assert metrics['quality/r_attn_visual_image'] > 0
    assert metrics['quality/r_attn_visual_audio'] < 0
    # Without corrupted samples of a modality there is no correlation.
    dump([prediction('1_theo_0', 1, 1, 0.3),
          prediction('2_theo_1', 2, 2, 0.1)], str(tmp_path / 'v.pkl'))
    only_visual = bench.quality_metrics(str(tmp_path / 'v.pkl'),
                                        str(tmp_path / 'meta.csv'))
    assert only_visual['quality/r_attn_visual_image'] == pytest.approx(1.0)
    assert 'quality/r_attn_visual_audio' not in only_visual

    # A head without attention: accuracy only.
    dump([prediction('1_theo_0', 1, 1)], str(tmp_path / 'c.pkl'))
    assert bench.quality_metrics(str(tmp_path / 'c.pkl'),
                                 str(tmp_path / 'meta.csv')) == {
                                     'quality/none/fused_top1': 1.0}


def test_quality_groups_refuse_unknown_or_mislabelled_clips(bench, tmp_path):
    write_meta(tmp_path / 'meta.csv', [('1_theo_0', 1, 'none')])
    dump([prediction('9_theo_0', 9, 9)], str(tmp_path / 'a.pkl'))
    with pytest.raises(KeyError, match=r"sample 0 \(clip_id '9_theo_0'\) "
                       r'is not listed in .*meta\.csv'):
        bench.quality_metrics(str(tmp_path / 'a.pkl'),
                              str(tmp_path / 'meta.csv'))
    dump([prediction('1_theo_0', 4, 4)], str(tmp_path / 'b.pkl'))
    with pytest.raises(ValueError, match=r'label 4, .*meta\.csv says 1'):
        bench.quality_metrics(str(tmp_path / 'b.pkl'),
                              str(tmp_path / 'meta.csv'))


def test_results_files(bench, tmp_path):
    records = [record(bench, 'vanilla', 0, 0.7, 100.0, air=0.6),
               record(bench, 'rollingq', 0, 0.75, 101.0, air=0.1)]
    table = bench.write_results(records, str(tmp_path), 'python bench')
    assert (tmp_path / 'results.md').read_text() == (
        f'Command: `python bench`\n\n{table}\n')
    runs = json.loads((tmp_path / 'runs.json').read_text())
    assert [r['method'] for r in runs] == ['vanilla', 'rollingq']
    with open(tmp_path / 'runs.csv') as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[1]['test_fused']) == pytest.approx(0.75)
    summary = json.loads((tmp_path / 'summary.json').read_text())
    assert summary['wall_ratio_rollingq_vs_vanilla'] == pytest.approx(1.01)


def test_from_runs_merges_invocations_and_keeps_a_rerun_once(
        bench, tmp_path, capsys):
    first, second = tmp_path / 'first', tmp_path / 'second'
    first.mkdir()
    second.mkdir()
    bench.write_results([record(bench, 'vanilla', 0, 0.7, 100.0, air=0.6),
                         record(bench, 'rollingq', 0, 0.75, 101.0, air=0.1)],
                        str(first), 'python bench')
    rerun = record(bench, 'vanilla', 0, 0.7, 300.0, air=0.6)
    rerun.test['attn/visual_norm_mean'] = 0.4  # a metric added since
    bench.write_results([rerun, record(bench, 'mbt', 0, 0.8, 250.0),
                         record(bench, 'mbt', 1, 0.9, 260.0)],
                        str(second), 'python bench')
    out = tmp_path / 'merged'
    records = bench.main(['--from-runs', str(first / 'runs.json'),
                          str(second / 'runs.json'), '--out-dir', str(out)])
    assert [(r.method, r.seed) for r in records] == [
        ('vanilla', 0), ('rollingq', 0), ('mbt', 0), ('mbt', 1)]
    assert records[0].wall_s == 100.0
    assert records[0].test['attn/visual_norm_mean'] == 0.4
    table = (out / 'results.md').read_text()
    assert '| vanilla (n=1) | rollingq (n=1) | mbt (n=2) |' in table
    # Times of different invocations are not compared.
    assert 'wall s / run' not in table and 'time / vanilla' not in table
    assert 'wall_ratio_mbt_vs_vanilla' not in json.loads(
        (out / 'summary.json').read_text())
    assert '| test fused top-1 |' in capsys.readouterr().out
    only = bench.main(['--from-runs', str(second / 'runs.json'), '--methods',
                       'mbt', '--out-dir', str(tmp_path / 'only')])
    assert {r.method for r in only} == {'mbt'}


def test_from_runs_labels_give_variants_their_own_column(bench, tmp_path):
    paper, option = tmp_path / 'paper', tmp_path / 'option'
    paper.mkdir()
    option.mkdir()
    bench.write_results([record(bench, 'vanilla', 0, 0.7, 100.0, air=0.6),
                         record(bench, 'rollingq', 0, 0.75, 101.0, air=0.1),
                         record(bench, 'concat', 0, 0.8, 99.0)],
                        str(paper), 'python bench')
    # The same method and seed with another AIRHook option: not a rerun.
    bench.write_results([record(bench, 'rollingq', 0, 0.78, 102.0, air=0.2)],
                        str(option), 'python bench --cfg-options ...')
    records = bench.main([
        '--from-runs', str(paper / 'runs.json'),
        f'f0.5={option / "runs.json"}', '--methods', 'vanilla', 'rollingq',
        '--out-dir', str(tmp_path / 'merged')])
    assert [(r.method, r.seed) for r in records] == [
        ('vanilla', 0), ('rollingq', 0), ('f0.5/rollingq', 0)]
    table = (tmp_path / 'merged' / 'results.md').read_text()
    assert ('| vanilla (n=1) | rollingq (n=1) | f0.5/rollingq (n=1) |'
            in table)
    assert '| test fused top-1 | 0.700 ± 0.000 | 0.750 ± 0.000 | ' \
        '0.780 ± 0.000 |' in table


def test_from_runs_refuses_two_different_runs_of_a_seed(bench, tmp_path):
    for name, fused in (('a', 0.7), ('b', 0.72)):
        (tmp_path / name).mkdir()
        bench.write_results([record(bench, 'vanilla', 3, fused, 100.0)],
                            str(tmp_path / name), 'python bench')
    with pytest.raises(ValueError, match=r'vanilla seed 3 differs between '
                       r'.*a/runs.json .* and .*b/runs.json'):
        bench.main(['--from-runs', str(tmp_path / 'a' / 'runs.json'),
                    str(tmp_path / 'b' / 'runs.json'), '--out-dir',
                    str(tmp_path / 'merged')])


@pytest.mark.slow
def test_one_tiny_real_run(bench, tmp_path, capsys):
    """rollingq for 1 epoch on 40 train / 20 val / 20 test clips."""
    subset = {'train': range(0, 2000, 50), 'val': range(0, 500, 25),
              'test': range(0, 500, 25)}
    options = ['train_cfg.max_epochs=1', 'train_dataloader.batch_size=20',
               'custom_hooks.0.begin_epoch=1'] + [
                   f'{split}_dataloader.dataset.indices=[' +
                   ','.join(map(str, indices)) + ']'
                   for split, indices in subset.items()]
    records = bench.main(['--methods', 'rollingq', '--seeds', '3',
                          '--out-dir', str(tmp_path), '--cfg-options',
                          *options])
    (run, ) = records
    assert (run.method, run.seed, run.best_epoch) == ('rollingq', 3, 1)
    assert run.wall_s > 0 and run.cpu_s > 0
    assert run.final_air is not None and run.rotation_epochs in ([], [1])
    for key in ('acc/fused_top1', 'acc/visual_top1', 'attn/air',
                'contrib/audio_drop', 'contrib/visual_drop',
                'quality/none/fused_top1', 'quality/none/attn_visual'):
        assert key in run.test
    assert 0.0 <= run.test['acc/fused_top1'] <= 1.0
    out = capsys.readouterr().out
    assert re.search(r'\[1/1\] rollingq seed 3: \d+ s \(\d+ s CPU\), best '
                     r'val fused \d\.\d{3} \(epoch 1\), test fused \d\.\d{3}',
                     out)
    assert '| test fused top-1 | ' in out
    with pytest.raises(FileExistsError, match='earlier run'):
        bench.main(['--methods', 'rollingq', '--seeds', '3', '--out-dir',
                    str(tmp_path)])


def test_one_tiny_warm_started_run(bench, tmp_path):
    """--warm-start: the seed's two tower runs, then vanilla from their best
    validation checkpoints (1 epoch each on 40 train / 20 val clips)."""
    subset = {'train': range(0, 2000, 50), 'val': range(0, 500, 25)}
    options = ['train_cfg.max_epochs=1', 'train_dataloader.batch_size=20'] + [
        f'{split}_dataloader.dataset.indices=[' +
        ','.join(map(str, indices)) + ']' for split, indices in subset.items()]
    records = bench.main(['--methods', 'vanilla', '--seeds', '3',
                          '--warm-start',
                          '--no-test', '--out-dir', str(tmp_path),
                          '--cfg-options', *options])
    assert [r.method for r in records] == ['audio_only', 'visual_only',
                                           'vanilla']
    log = (tmp_path / 'vanilla' / 'seed3' / 'train.log').read_text()
    for modality, tower in bench.TOWER_METHODS.items():
        checkpoint = (tmp_path / tower / 'seed3' /
                      'best_acc_fused_top1_epoch_1.pth')
        assert checkpoint.is_file()
        assert (f'load encoders.{modality}. in model from: {checkpoint}'
                in log)
    summary = json.loads((tmp_path / 'summary.json').read_text())
    assert set(summary) >= {'audio_only', 'visual_only', 'vanilla'}
