"""Benchmark one full-size training step of ``configs/rollingq_ks.py``.

The paper's model (two 4-layer ViT-B/16 towers: the fbank of 1024 frames
and 128 mel bins gives 513 audio tokens, 3 frames of 224 x 224 give 589
visual tokens; the ``RollingQFusionHead``) is built from the config with the
towers' ``init_cfg`` set to None (no pretrained file needed) and trained on
synthetic inputs of the shapes and types the data pipeline produces: the
config's own training pipeline is run once on a synthetic decoded clip
(noise frames and a second of noise audio in place of the file-reading
steps), and each sample of the batch is random data of its shapes and
dtypes (uint8 frames ``(1, 3, T, H, W)``, a float32 fbank), with
``ActionDataSample`` labels. One step is what
MMEngine's ``train_step`` does: ``data_preprocessor`` -> ``loss`` (under
``torch.autocast`` for bf16 / fp16) -> ``parse_losses`` -> backward
(``GradScaler`` for fp16) -> the config's optimizer (SGD lr 1e-3, momentum
0.9, weight decay 1e-4) -> ``zero_grad``.

Each precision runs in a fresh subprocess (so its memory figure is its own)
and reports:

* seconds per step (median of ``--steps`` timed steps after ``--warmup``),
  seconds per sample and samples per second;
* peak memory: on CUDA ``torch.cuda.max_memory_allocated`` over the steps
  (``peak_mib``) and its growth above the memory held before the first step
  (``step_peak_mib``: activations, gradients, momentum); on CPU the peak
  resident set size (``VmHWM``, reset through ``/proc/self/clear_refs``
  after the set-up) and its growth above the RSS before the first step;
* the fusion head's share of a step: the head's forward + backward (its
  ``loss`` on the towers' tokens, gradients to its weights and to the
  tokens; no optimizer step) timed alone on the same batch, divided by the
  step time;
* FLOPs of one forward + backward counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (CPU attention kernels
  registered here, which torch does not count), the achieved TFLOP/s and,
  on a device of :data:`PEAK_TFLOPS`, the model FLOPs utilisation against
  its dense peak for the precision (fp32 counts against the TF32 peak only
  when ``torch.backends.cuda.matmul.allow_tf32`` is on); "unknown device"
  otherwise.

Times and memory of every precision are also given as a ratio to the first
one (fp32 by default), measured in the same run. The table goes to stdout,
followed by one JSON line; ``--json PATH`` writes the same record to a file.

Run ``python benchmarks/bench_train_step.py --device cpu --precision fp32
bf16 --steps 3`` (about 3 minutes on 2 cores) or ``--device cuda`` (batch
16 per GPU, the paper's 64 on 4 GPUs). ``--tiny`` shrinks the model to one
32-wide layer per tower and the inputs to 32 x 32 frames and 64 fbank
frames (a test of the script, not a benchmark).
"""
import argparse
import copy
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple)

import numpy as np
import torch
from mmaction.registry import MODELS, TRANSFORMS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.registry import OPTIMIZERS, init_default_scope
from torch.utils import flop_counter

import rollingq_mm  # noqa: F401  (compat layer and registration)
from bench_fusion_head import process_status_kib

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = str(REPO / 'configs' / 'rollingq_ks.py')
#: Autocast data type of each precision (None: plain fp32).
PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
#: Dense (no sparsity) peak TFLOP/s by data type; the first name fragment
#: found in ``torch.cuda.get_device_name`` wins (H100 PCIe before H100).
PEAK_TFLOPS = (
    ('H200', dict(bf16=989.4, fp16=989.4, tf32=494.7, fp32=66.9)),
    ('H100 PCIe', dict(bf16=756.0, fp16=756.0, tf32=378.0, fp32=51.2)),
    ('H100', dict(bf16=989.4, fp16=989.4, tf32=494.7, fp32=66.9)),
    ('A100', dict(bf16=312.0, fp16=312.0, tf32=156.0, fp32=19.5)),
)
TINY_WIDTH = 32
TINY_ARCH = dict(embed_dims=TINY_WIDTH, num_layers=1, num_heads=2,
                 feedforward_channels=2 * TINY_WIDTH)
TINY_IMAGE = 32
TINY_AUDIO_FRAMES = 64
#: Pipeline steps that read files; :func:`pipeline_sample` replaces them.
DECODING_STEPS = ('SampleSegmentFrames', 'LoadAudio')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--batch-size', type=int, default=None,
                        help='samples per step (default: 2 on CPU, 16 on '
                        'CUDA, i.e. the paper\'s 64 on 4 GPUs)')
    parser.add_argument('--steps', type=int, default=None,
                        help='timed steps (default: 3 on CPU, 20 on CUDA)')
    parser.add_argument('--warmup', type=int, default=None,
                        help='untimed steps first (default: 1 on CPU, 5 on '
                        'CUDA)')
    parser.add_argument('--precision', nargs='+', default=['fp32', 'bf16'],
                        choices=list(PRECISIONS),
                        help='the first one is the baseline of the ratios')
    parser.add_argument('--tiny', action='store_true',
                        help='one 32-wide layer per tower, small inputs')
    parser.add_argument('--json', default=None,
                        help='also write the JSON record to this file')
    parser.add_argument('--measure-in-this-process', action='store_true',
                        help='internal: measure the single --precision here '
                        'and print its JSON record')
    args = parser.parse_args(argv)
    cuda = args.device == 'cuda'
    if cuda and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available')
    if args.batch_size is None:
        args.batch_size = 16 if cuda else 2
    if args.steps is None:
        args.steps = 20 if cuda else 3
    if args.warmup is None:
        args.warmup = 5 if cuda else 1
    if min(args.batch_size, args.steps) < 1 or args.warmup < 0:
        parser.error('--batch-size and --steps must be >= 1, --warmup >= 0')
    return args


def pipeline_steps(pipeline: list, prefix: str) -> Iterator[Tuple[str, Any]]:
    """Every step of a pipeline with its dotted config key, the inner
    ``transforms`` of wrappers (e.g. ``PerFrame``) included."""
    for index, step in enumerate(pipeline):
        key = f'{prefix}.{index}'
        yield key, step
        if isinstance(step.get('transforms'), list):
            yield from pipeline_steps(step.transforms, f'{key}.transforms')


def model_overrides(cfg: Config, tiny: bool = False) -> Dict[str, Any]:
    """Config keys (dotted, as ``--cfg-options`` takes them) of the run.

    Every tower loses its ``init_cfg`` (no pretrained file). With ``tiny``
    the towers become one 32-wide layer, the frames 32 x 32 and the fbank
    64 frames in every split's pipeline, and the backbones' ``img_size``
    match the new inputs (no position table is interpolated).

    Args:
        cfg (Config): The loaded config (read, not changed).
        tiny (bool): Shrink the model and inputs. Defaults to False.

    Returns:
        dict: Dotted key -> value.
    """
    options: Dict[str, Any] = {}
    if tiny:
        for split in ('train', 'val', 'test'):
            for key, step in pipeline_steps(
                    cfg[f'{split}_dataloader'].dataset.pipeline,
                    f'{split}_dataloader.dataset.pipeline'):
                if step.type == 'Resize':
                    options[f'{key}.scale'] = (TINY_IMAGE, TINY_IMAGE)
                elif step.type == 'KaldiFbank':
                    options[f'{key}.target_frames'] = TINY_AUDIO_FRAMES
        shrunk = copy.deepcopy(cfg)
        shrunk.merge_from_dict(options)
        shapes = sample_shapes(shrunk)
    for name, spec in cfg.model.modalities.items():
        prefix = f'model.modalities.{name}'
        options[f'{prefix}.backbone.init_cfg'] = None
        if not tiny:
            continue
        for key, value in TINY_ARCH.items():
            options[f'{prefix}.backbone.arch.{key}'] = value
        options[f'{prefix}.tokenizer.in_channels'] = TINY_WIDTH
        if 'img_size' in spec.backbone:
            options[f'{prefix}.backbone.img_size'] = tuple(
                shapes[spec.input_key][0][-2:])
    return options


def load_config(path: str, tiny: bool = False) -> Config:
    """The config with :func:`model_overrides` applied."""
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(model_overrides(cfg, tiny))
    return cfg


def pipeline_sample(cfg: Config, seed: int = 0) -> dict:
    """One training sample made by the config's own training pipeline.

    The file-reading steps (:data:`DECODING_STEPS`) are replaced by what
    they output for a decoded clip: ``SampleSegmentFrames.num_segments``
    RGB frames of 240 x 320 noise and one second of noise at 44.1 kHz
    (the fbank pads it to its ``target_frames``); every other step runs as
    configured, wrappers and ``PackActionInputs`` included.

    Args:
        cfg (Config): The config.
        seed (int): Seed of the noise. Defaults to 0.

    Returns:
        dict: ``inputs`` (input key -> tensor) and ``data_samples``.
    """
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    pipeline = cfg.train_dataloader.dataset.pipeline
    frames = next(step.num_segments for step in pipeline
                  if step.type == 'SampleSegmentFrames')
    rng = np.random.default_rng(seed)
    results = dict(
        imgs=[rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
              for _ in range(frames)],
        frame_inds=np.arange(frames), total_frames=frames, num_clips=1,
        clip_len=frames, original_shape=(240, 320), img_shape=(240, 320),
        modality='RGB', start_index=0, label=0, sample_rate=44100,
        audio=rng.normal(0, 0.1, 44100).astype(np.float32))
    for step in pipeline:
        if step.type not in DECODING_STEPS:
            results = TRANSFORMS.build(step)(results)
    return results


def sample_shapes(cfg: Config) -> Dict[str, Tuple[tuple, torch.dtype]]:
    """Shape and dtype of each input of a training sample
    (:func:`pipeline_sample`)."""
    inputs = pipeline_sample(cfg)['inputs']
    return {key: (tuple(value.shape), value.dtype)
            for key, value in inputs.items()}


def synthetic_batch(cfg: Config, batch_size: int, seed: int = 0) -> dict:
    """A batch as ``pseudo_collate`` gives it after ``PackActionInputs``.

    Args:
        cfg (Config): The config (shapes from :func:`sample_shapes`).
        batch_size (int): Samples.
        seed (int): Seed of the values and labels. Defaults to 0.

    Returns:
        dict: ``inputs`` (input key -> B tensors of the sample's shape and
        dtype: uint8 values in [0, 255], float standard normal) and
        ``data_samples`` (B ``ActionDataSample`` with ``gt_label``).
    """
    generator = torch.Generator().manual_seed(seed)
    inputs = {}
    for key, (shape, dtype) in sample_shapes(cfg).items():
        if dtype.is_floating_point:
            inputs[key] = [torch.randn(shape, generator=generator,
                                       dtype=dtype)
                           for _ in range(batch_size)]
        else:
            inputs[key] = [torch.randint(0, 256, shape, generator=generator,
                                         dtype=dtype)
                           for _ in range(batch_size)]
    labels = torch.randint(cfg.model.fusion_head.num_classes,
                           (batch_size, ), generator=generator)
    samples = [ActionDataSample().set_gt_label(int(label))
               for label in labels]
    return dict(inputs=inputs, data_samples=samples)


def build_model(cfg: Config, device: torch.device) -> torch.nn.Module:
    """The config's model, initialised, in training mode on ``device``."""
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    logger = logging.getLogger('mmengine')
    level = logger.level
    logger.setLevel(logging.WARNING)  # init_weights logs every parameter
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    return model.to(device).train()


def sync(device: torch.device) -> None:
    """Wait for queued kernels (CUDA) before reading a clock."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class TrainStep:
    """One training step of a model in one precision.

    Args:
        model (nn.Module): An ``AudioVisualRecognizer`` in training mode.
        optimizer (torch.optim.Optimizer): Its optimizer.
        precision (str): ``'fp32'``, ``'bf16'`` or ``'fp16'`` (autocast;
            fp16 with a ``GradScaler``).
    """

    def __init__(self, model: torch.nn.Module,
                 optimizer: torch.optim.Optimizer, precision: str) -> None:
        self.model = model
        self.optimizer = optimizer
        self.device = next(model.parameters()).device
        self.dtype = PRECISIONS[precision]
        self.scaler = torch.amp.GradScaler(self.device.type,
                                           enabled=precision == 'fp16')

    def autocast(self) -> torch.autocast:
        """The forward's autocast context (disabled for fp32)."""
        return torch.autocast(self.device.type, dtype=self.dtype,
                              enabled=self.dtype is not None)

    def forward_backward(self, batch: dict) -> torch.Tensor:
        """Preprocess, loss, backward; returns the summed loss."""
        data = self.model.data_preprocessor(batch, True)
        with self.autocast():
            losses = self.model(**data, mode='loss')
        loss, _ = self.model.parse_losses(losses)
        self.scaler.scale(loss).backward()
        return loss

    def __call__(self, batch: dict) -> None:
        """A whole step: forward, backward, optimizer step, zero_grad."""
        self.forward_backward(batch)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)

    def head_inputs(self, batch: dict) -> tuple:
        """The towers' tokens (detached) and the samples of ``batch``."""
        data = self.model.data_preprocessor(batch, True)
        with torch.no_grad(), self.autocast():
            feats = self.model.extract_feat(data['inputs'])
        return feats, data['data_samples']

    def head_step(self, feats: Dict[str, torch.Tensor],
                  data_samples: list) -> None:
        """The fusion head's forward + backward on fixed tokens.

        Gradients flow to the head's weights and to the tokens (as they
        would to the towers); they are dropped afterwards.
        """
        leaves = {name: tokens.detach().requires_grad_()
                  for name, tokens in feats.items()}
        with self.autocast():
            losses = self.model.fusion_head.loss(leaves, data_samples)
        loss, _ = self.model.parse_losses(losses)
        self.scaler.scale(loss).backward()
        self.optimizer.zero_grad(set_to_none=True)


def step_seconds(function: Callable[[], Any], device: torch.device,
                 warmup: int, steps: int) -> List[float]:
    """Wall time of each of ``steps`` calls of ``function`` after
    ``warmup`` untimed ones (CUDA synchronised around each)."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(steps):
        sync(device)
        start = time.perf_counter()
        function()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def register_cpu_attention_flops() -> None:
    """Count torch's CPU flash attention like its CUDA kernels.

    ``FlopCounterMode`` has formulas for the CUDA attention kernels only;
    without these the attention of every tower counts 0 FLOPs on CPU.
    """
    aten = torch.ops.aten
    forward = aten._scaled_dot_product_flash_attention_for_cpu
    backward = aten._scaled_dot_product_flash_attention_for_cpu_backward
    registry = flop_counter.flop_registry
    if forward not in registry and forward.default not in registry:
        flop_counter.register_flop_formula(forward)(
            lambda query_shape, key_shape, value_shape, *args, **kwargs:
            flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape))
    if backward not in registry and backward.default not in registry:
        flop_counter.register_flop_formula(backward)(
            lambda grad_out_shape, query_shape, key_shape, value_shape, *args,
            **kwargs: flop_counter.sdpa_backward_flop_count(
                grad_out_shape, query_shape, key_shape, value_shape))


def count_flops(function: Callable[[], Any]) -> int:
    """FLOPs (2 per multiply-add) of the matmuls, convolutions and
    attention kernels that ``function`` runs."""
    register_cpu_attention_flops()
    with flop_counter.FlopCounterMode(display=False) as counter:
        function()
    return int(counter.get_total_flops())


def peak_tflops(device_name: str, precision: str,
                tf32: bool = False) -> Optional[float]:
    """Dense peak TFLOP/s of a device for a precision, None if unknown.

    Args:
        device_name (str): E.g. ``torch.cuda.get_device_name()``.
        precision (str): ``'fp32'``, ``'bf16'`` or ``'fp16'``.
        tf32 (bool): fp32 matmuls run as TF32. Defaults to False.
    """
    kind = 'tf32' if precision == 'fp32' and tf32 else precision
    for fragment, peaks in PEAK_TFLOPS:
        if fragment in device_name:
            return peaks[kind]
    return None


def model_flops_utilization(flops: float, seconds: float,
                            peak: Optional[float]) -> Optional[float]:
    """Achieved FLOP/s over the peak (``peak`` in TFLOP/s), None without
    a peak."""
    if peak is None:
        return None
    return flops / seconds / (peak * 1e12)


def device_name(device: torch.device) -> str:
    """The CUDA device's name, or the CPU's model name."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    with open('/proc/cpuinfo') as cpuinfo:
        for line in cpuinfo:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return 'cpu'


def measure(args: argparse.Namespace) -> Dict[str, Any]:
    """Measure ``args.precision[0]`` in this process (see the module
    docstring for the figures)."""
    precision = args.precision[0]
    device = torch.device(args.device)
    torch.manual_seed(0)
    cfg = load_config(args.config, args.tiny)
    model = build_model(cfg, device)
    optimizer = OPTIMIZERS.build(
        dict(cfg.optim_wrapper.optimizer, params=model.parameters()))
    batch = synthetic_batch(cfg, args.batch_size)
    step = TrainStep(model, optimizer, precision)

    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
    else:
        with open('/proc/self/clear_refs', 'w') as clear_refs:
            clear_refs.write('5')  # reset VmHWM to the current RSS
        before = process_status_kib('VmRSS') * 1024
    times = step_seconds(lambda: step(batch), device, args.warmup,
                         args.steps)
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = process_status_kib('VmHWM') * 1024

    feats, samples = step.head_inputs(batch)
    head_times = step_seconds(lambda: step.head_step(feats, samples), device,
                              args.warmup, args.steps)
    flops = count_flops(lambda: step.forward_backward(batch))
    step.optimizer.zero_grad(set_to_none=True)

    seconds = statistics.median(times)
    head = statistics.median(head_times)
    name = device_name(device)
    tf32 = device.type == 'cuda' and torch.backends.cuda.matmul.allow_tf32
    peak_tf = peak_tflops(name, precision, tf32) if device.type == 'cuda' \
        else None
    return dict(
        precision=precision, device=name, batch_size=args.batch_size,
        seconds_per_step=seconds, step_times=times,
        seconds_per_sample=seconds / args.batch_size,
        samples_per_s=args.batch_size / seconds,
        peak_mib=peak / 2**20, step_peak_mib=(peak - before) / 2**20,
        head_seconds=head, head_fraction=head / seconds,
        flops_per_step=flops, achieved_tflops=flops / seconds / 1e12,
        peak_tflops=peak_tf,
        mfu=model_flops_utilization(flops, seconds, peak_tf),
        tf32=bool(tf32))


def child_command(args: argparse.Namespace, precision: str) -> List[str]:
    """This script measuring one precision in a fresh process."""
    command = [sys.executable, __file__, '--measure-in-this-process',
               '--config', args.config, '--device', args.device,
               '--batch-size', str(args.batch_size), '--steps',
               str(args.steps), '--warmup', str(args.warmup),
               '--precision', precision]
    return command + (['--tiny'] if args.tiny else [])


def run_benchmark(args: argparse.Namespace) -> Dict[str, Any]:
    """Measure every precision of ``args`` in its own process.

    Args:
        args (argparse.Namespace): Options of :func:`parse_args`.

    Returns:
        dict: ``device``, ``batch_size``, ``threads``, ``load_average``
        (1-minute, at the start and at the end: other jobs on the machine
        slow the steps) and ``results`` (precision -> the record of
        :func:`measure` plus ``time_ratio`` / ``memory_ratio`` to the first
        precision).

    Raises:
        RuntimeError: a measuring process failed (its output attached).
    """
    results: Dict[str, Dict[str, Any]] = {}
    load_average = os.getloadavg()[0]
    for precision in args.precision:
        run = subprocess.run(child_command(args, precision),
                             capture_output=True, text=True,
                             env=dict(os.environ, PYTHONUNBUFFERED='1'))
        if run.returncode != 0:
            raise RuntimeError(
                f'measuring {precision} failed (exit {run.returncode}):\n'
                f'{(run.stdout + run.stderr)[-4000:]}')
        results[precision] = json.loads(run.stdout.strip().splitlines()[-1])
    base = results[args.precision[0]]
    for record in results.values():
        record['time_ratio'] = (record['seconds_per_step'] /
                                base['seconds_per_step'])
        record['memory_ratio'] = record['peak_mib'] / base['peak_mib']
    return dict(config=args.config, device=base['device'],
                device_type=args.device, batch_size=args.batch_size,
                steps=args.steps, warmup=args.warmup, tiny=args.tiny,
                threads=torch.get_num_threads(),
                load_average=[load_average, os.getloadavg()[0]],
                baseline=args.precision[0], results=results)


def format_table(record: Dict[str, Any]) -> str:
    """The readable table of a :func:`run_benchmark` record."""
    cpu = record['device_type'] == 'cpu'
    memory = ('peak RSS (MiB) / growth during the steps' if cpu else
              'max_memory_allocated (MiB) / growth during the steps')
    tiny = ' (tiny)' if record['tiny'] else ''
    start, end = record['load_average']
    threads = (f', {record["threads"]} threads, load average {start:.1f} '
               f'at the start, {end:.1f} at the end' if cpu else '')
    lines = [
        f'Training step of {Path(record["config"]).name}{tiny} on '
        f'{record["device"]}{threads}, batch '
        f'{record["batch_size"]}, median of {record["steps"]} steps after '
        f'{record["warmup"]} warm-up; memory: {memory}',
        f'{"precision":9s} {"s/step":>8s} {"s/sample":>9s} {"samples/s":>9s}'
        f' {"peak MiB":>9s} {"growth":>8s} {"head %":>7s} {"TFLOP/s":>8s}'
        f' {"MFU":>6s} {"time x":>7s} {"mem x":>6s}'
    ]
    for name, r in record['results'].items():
        mfu = 'n/a' if r['mfu'] is None else f'{100 * r["mfu"]:.1f}%'
        lines.append(
            f'{name:9s} {r["seconds_per_step"]:8.3f} '
            f'{r["seconds_per_sample"]:9.4f} {r["samples_per_s"]:9.2f} '
            f'{r["peak_mib"]:9.0f} {r["step_peak_mib"]:8.0f} '
            f'{100 * r["head_fraction"]:6.2f}% {r["achieved_tflops"]:8.3f} '
            f'{mfu:>6s} {r["time_ratio"]:7.3f} {r["memory_ratio"]:6.3f}')
    first = next(iter(record['results'].values()))
    lines.append(f'FLOPs per step (forward + backward): '
                 f'{first["flops_per_step"] / 1e9:.4g} GFLOP; '
                 'ratios (time x, mem x) against '
                 f'{record["baseline"]} measured in this run')
    if not any(r['peak_tflops'] for r in record['results'].values()):
        lines.append(f'MFU: unknown device ({record["device"]}): no peak '
                     'FLOP/s in PEAK_TFLOPS')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run the benchmark; print the table and the JSON line."""
    args = parse_args(argv)
    if args.measure_in_this_process:
        if len(args.precision) != 1:
            raise SystemExit('--measure-in-this-process takes one precision')
        print(json.dumps(measure(args)))
        return {}
    record = run_benchmark(args)
    print(format_table(record))
    print(json.dumps(record))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)),
                    exist_ok=True)
        with open(args.json, 'w') as handle:
            json.dump(record, handle, indent=1)
    return record


if __name__ == '__main__':
    main()
