"""benchmarks/gpu_acceptance.py and bench_train_step.py: FLOP / MFU
arithmetic, the synthetic clips through the real dataset, the option
round trip, and the whole acceptance check in its tiny CPU mode."""
import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import soundfile
import torch
import torch.nn.functional as F
from mmaction.registry import DATASETS
from mmengine.config import DictAction
from mmengine.registry import init_default_scope

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / 'benchmarks'
CONFIG = str(REPO / 'configs' / 'rollingq_ks.py')


def load_script(name: str):
    """A script of benchmarks/ as the module ``name`` (its folder on
    sys.path, as when it runs; in sys.modules, so that a process pool can
    pickle its functions)."""
    if name in sys.modules:
        return sys.modules[name]
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name,
                                                  BENCHMARKS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def bench():
    return load_script('bench_train_step')


@pytest.fixture(scope='module')
def acceptance():
    return load_script('gpu_acceptance')


def test_flops_of_a_linear_layer_forward_and_backward(bench):
    batch, inputs, outputs = 8, 48, 24
    layer = torch.nn.Linear(inputs, outputs)
    x = torch.randn(batch, inputs, requires_grad=True)
    flops = bench.count_flops(lambda: layer(x).sum().backward())
    # forward, gradient to the input, gradient to the weight: 2 B I O each
    assert flops == 6 * batch * inputs * outputs


def test_cpu_attention_is_counted_like_cuda_attention(bench):
    b, h, s, d = 2, 3, 40, 16
    q, k, v = (torch.randn(b, h, s, d, requires_grad=True) for _ in range(3))
    forward = bench.count_flops(
        lambda: F.scaled_dot_product_attention(q, k, v).detach())
    assert forward == 4 * b * h * s * s * d  # QK^T and AV
    both = bench.count_flops(
        lambda: F.scaled_dot_product_attention(q, k, v).sum().backward())
    # backward as torch counts its CUDA kernels: QK^T recomputed, then the
    # gradients of V, of the attention, of Q and of K: 5 products
    assert both == forward + 10 * b * h * s * s * d


def test_peak_table_and_model_flops_utilization(bench):
    assert bench.peak_tflops('NVIDIA H200', 'bf16') == 989.4
    assert bench.peak_tflops('NVIDIA H100 80GB HBM3', 'fp32') == 66.9
    assert bench.peak_tflops('NVIDIA H100 80GB HBM3', 'fp32',
                             tf32=True) == 494.7
    assert bench.peak_tflops('NVIDIA H100 PCIe', 'fp16') == 756.0
    assert bench.peak_tflops('NVIDIA A100-SXM4-80GB', 'bf16') == 312.0
    assert bench.peak_tflops('NVIDIA GeForce GTX 1080', 'bf16') is None
    # 247.35 TFLOP in 0.5 s on a 989.4 TFLOP/s device: half the peak
    assert bench.model_flops_utilization(247.35e12, 0.5,
                                         989.4) == pytest.approx(0.5)
    assert bench.model_flops_utilization(1e12, 1.0, None) is None


def test_format_option_round_trips_through_dict_action(acceptance):
    options = {'a.scale': (32, 32), 'b.init_cfg': None, 'c.rate': 0.0,
               'd.persistent': False, 'e.path': '/tmp/x-y/train.txt',
               'f.interval': 5, 'g.list': [1, 2]}
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parsed = parser.parse_args(['--cfg-options'] + [
        f'{key}={acceptance.format_option(value)}'
        for key, value in options.items()
    ]).cfg_options
    assert parsed == options
    # DictAction would drop the space: refused rather than changed
    with pytest.raises(ValueError, match='cannot pass through'):
        acceptance.format_option('/tmp/x y/train.txt')


def test_synthetic_clips_load_through_the_real_dataset(acceptance, bench,
                                                       tmp_path):
    root = str(tmp_path / 'ks')
    counts = acceptance.write_dataset(
        root, train_clips=3, val_clips=2, num_classes=31, seconds=4,
        frame_size=(40, 30), sample_rate=22050, processes=2)
    assert counts == dict(train=3, val=2, test=2)
    lines = (tmp_path / 'ks' / 'train.txt').read_text().split('\n')
    assert lines[:3] == [f'frames/train_{i:05d} audio/train_{i:05d}.wav {i}'
                         for i in range(3)]
    frames = sorted((tmp_path / 'ks' / 'frames' / 'train_00002').iterdir())
    assert [p.name for p in frames] == [f'img_{i:05d}.jpg'
                                        for i in range(1, 5)]
    assert cv2.imread(str(frames[0])).shape == (30, 40, 3)
    info = soundfile.info(str(tmp_path / 'ks' / 'audio' /
                              'train_00002.wav'))
    assert (info.samplerate, info.frames, info.channels,
            info.subtype) == (22050, 4 * 22050, 1, 'PCM_16')

    cfg = bench.load_config(CONFIG, tiny=True)
    sizes = dict(acceptance.MODES['tiny'], workers=0)
    cfg.merge_from_dict(acceptance.run_options(cfg, root, sizes, tiny=True))
    init_default_scope('mmaction')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    sample = dataset[2]
    assert int(sample['data_samples'].gt_label) == 2
    synthetic = bench.synthetic_batch(cfg, 1)
    for key, value in sample['inputs'].items():
        assert value.shape == synthetic['inputs'][key][0].shape, key
        assert value.dtype == synthetic['inputs'][key][0].dtype, key
    assert acceptance.compare_with_synthetic_batch(cfg)[0]


def test_tensor_differences_finds_one_changed_element(acceptance):
    state = dict(w=torch.zeros(3), nested=[dict(m=torch.ones(2))], lr=0.1)
    changed = dict(w=torch.zeros(3), nested=[dict(m=torch.ones(2))], lr=0.1)
    assert acceptance.tensor_differences(changed, state) == []
    changed['nested'][0]['m'][1] = 1 + 1e-7
    assert acceptance.tensor_differences(changed, state) == ['.nested[0].m']


@pytest.mark.skipif(torch.cuda.is_available(), reason='a CUDA device exists')
def test_full_mode_refuses_to_run_without_cuda(acceptance, capsys):
    with pytest.raises(SystemExit) as error:
        acceptance.parse_args(['--out', 'unused'])
    assert error.value.code == 2
    assert 'no CUDA device' in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_acceptance_passes_every_check_on_cpu(tmp_path):
    """40-60 s on 2 cores (seven processes start: two trainings
    at a time, the resume, two benchmark precisions)."""
    out = tmp_path / 'acceptance'
    run = subprocess.run(
        [sys.executable, str(BENCHMARKS / 'gpu_acceptance.py'), '--tiny',
         '--device', 'cpu', '--out', str(out), '--writer-processes', '2'],
        cwd=str(REPO), capture_output=True, text=True, timeout=400)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    summary = json.loads((out / 'summary.json').read_text())
    checks = summary['checks']
    assert {name: check['status'] for name, check in checks.items()} == {
        'data': 'pass', 'train_fp32': 'pass', 'kill': 'pass',
        'resume': 'pass', 'resume_matches_reference': 'pass',
        'train_amp': 'skipped', 'performance': 'pass'
    }, output[-5000:]
    assert summary['passed'] is True
    assert 'PASS: 6 passed, 0 failed, 1 skipped' in run.stdout
    # the kill hit epoch 3 after epoch_2.pth; the count went on from there
    assert 'SIGKILL at epoch 3 iter' in checks['kill']['detail']
    assert '2 rotations saved' in checks['kill']['detail']
    assert 'trained epochs [3]' in checks['resume']['detail']
    detail = checks['resume_matches_reference']['detail']
    assert '0 differing' in detail
    assert 'logged losses before the kill identical' in detail
    bench_record = summary['performance']['bench_train_step']
    assert set(bench_record['results']) == {'fp32', 'bf16'}
    for result in bench_record['results'].values():
        assert result['samples_per_s'] > 0 and result['mfu'] is None
        assert result['head_fraction'] > 0
        assert result['flops_per_step'] > 0
    assert (out / 'bench_train_step.json').is_file()
    killed = out / 'runs' / 'killed'
    assert (killed / 'epoch_3.pth').is_file()
    assert len(list(killed.glob('2*/vis_data/scalars.json'))) == 2
