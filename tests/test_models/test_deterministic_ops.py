"""No config trains with an op that ``--deterministic`` refuses on CUDA.

``torch.use_deterministic_algorithms(True)`` makes a few CUDA ops raise a
``RuntimeError`` because they have no deterministic kernel. Every config in
``configs/`` is built (shrunk as ``tests/test_configs/test_all_configs.py``
shrinks it), one training step (data preprocessor, loss, backward, optimizer
step: ``model.train_step``) runs on CPU on a small random batch, every aten
op it dispatches is recorded, and none may be one of those ops.

A CPU run records the CPU decomposition of each op; the ops listed here are
the same on CUDA (CUDA-only kernels such as cuDNN's are not seen).
"""
import importlib.util
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch.utils._python_dispatch import TorchDispatchMode

import rollingq_mm  # noqa: F401
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample


def _load_config_test_helpers():
    """``tests/test_configs/test_all_configs.py`` as a module (tests are
    not a package)."""
    path = Path(__file__).resolve().parents[1] / 'test_configs' / \
        'test_all_configs.py'
    spec = importlib.util.spec_from_file_location('_all_configs', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_all_configs = _load_config_test_helpers()
CONFIGS, CONFIG_DIR = _all_configs.CONFIGS, _all_configs.CONFIG_DIR
shrink_model = _all_configs.shrink_model

# Small enough that the small inputs below are still pooled by TokenNeck.
TINY_MAX_TOKENS = 7
# Frames and audio (T, F) of the CNN encoders.
CNN_INPUT_SIZE = (64, 64)

Predicate = Optional[Callable[[dict], bool]]

# torch.use_deterministic_algorithms (the docstring of the installed torch,
# 2.14): "The following normally-nondeterministic operations will throw a
# RuntimeError when mode=True", as the aten op (overload packet) that runs
# for each entry: the backward op where the entry says "when attempting to
# differentiate a CUDA tensor". Value: (the entry, None or a predicate on
# the op's arguments for entries that throw only with some arguments).
NONDETERMINISTIC_CUDA_OPS: Dict[str, Tuple[str, Predicate]] = {
    'avg_pool3d_backward': ('torch.nn.AvgPool3d', None),
    '_adaptive_avg_pool2d_backward': ('torch.nn.AdaptiveAvgPool2d', None),
    '_adaptive_avg_pool3d_backward': ('torch.nn.AdaptiveAvgPool3d', None),
    'adaptive_avg_pool3d_backward': ('torch.nn.AdaptiveAvgPool3d', None),
    'adaptive_max_pool2d_backward': ('torch.nn.AdaptiveMaxPool2d', None),
    'fractional_max_pool2d_backward': ('torch.nn.FractionalMaxPool2d', None),
    'fractional_max_pool3d_backward': ('torch.nn.FractionalMaxPool3d', None),
    'max_unpool2d': ('torch.nn.MaxUnpool1d / MaxUnpool2d', None),
    'max_unpool3d': ('torch.nn.MaxUnpool3d', None),
    'upsample_linear1d_backward': ("F.interpolate(mode='linear')", None),
    'upsample_bilinear2d_backward': ("F.interpolate(mode='bilinear')", None),
    '_upsample_bilinear2d_aa_backward': (
        "F.interpolate(mode='bilinear', antialias=True)", None),
    'upsample_bicubic2d_backward': ("F.interpolate(mode='bicubic')", None),
    '_upsample_bicubic2d_aa_backward': (
        "F.interpolate(mode='bicubic', antialias=True)", None),
    'upsample_trilinear3d_backward': ("F.interpolate(mode='trilinear')",
                                      None),
    'reflection_pad1d_backward': ('torch.nn.ReflectionPad1d', None),
    'reflection_pad2d_backward': ('torch.nn.ReflectionPad2d', None),
    'reflection_pad3d_backward': ('torch.nn.ReflectionPad3d', None),
    # The documentation says NLLLoss; the kernel that raises is the one of
    # (N, C, H, W) inputs (aten/src/ATen/native/cuda/NLLLoss2d.cu, reduced
    # outputs). The (N, C) classification loss reduces in one thread block
    # (native/cuda/Loss.cu) and does not raise.
    'nll_loss2d_forward': ('torch.nn.NLLLoss',
                           lambda args: args.get('reduction') != 0),
    '_ctc_loss_backward': ('torch.nn.CTCLoss', None),
    '_embedding_bag_backward': ("torch.nn.EmbeddingBag(mode='max')",
                                lambda args: args.get('mode') == 2),
    '_embedding_bag_dense_backward': ("torch.nn.EmbeddingBag(mode='max')",
                                      lambda args: args.get('mode') == 2),
    # accumulate=False raises everywhere, accumulate=True on CUDA.
    'put_': ('torch.Tensor.put_', None),
    'put': ('torch.Tensor.put_', None),
    'histc': ('torch.histc', None),
    'bincount': ('torch.bincount with weights',
                 lambda args: args.get('weights') is not None),
    # nanmedian with indices runs the same CUDA kernel as median.
    'median': ('torch.median with indices output',
               lambda args: 'dim' in args),
    'nanmedian': ('torch.median with indices output',
                  lambda args: 'dim' in args),
    'grid_sampler_2d_backward': ('F.grid_sample', None),
    'grid_sampler_3d_backward': ('F.grid_sample', None),
    'scatter_reduce': ("torch.Tensor.scatter_reduce(reduce='prod')",
                       lambda args: args.get('reduce') == 'prod'),
    'scatter_reduce_': ("torch.Tensor.scatter_reduce(reduce='prod')",
                        lambda args: args.get('reduce') == 'prod'),
    'resize_': ('torch.Tensor.resize_ of a quantized tensor',
                lambda args: args['self'].is_quantized),
}


class NondeterministicOpRecorder(TorchDispatchMode):
    """Record, as ``'op.overload (documentation entry)'``, every dispatched
    aten op of :data:`NONDETERMINISTIC_CUDA_OPS` (forward and backward)."""

    def __init__(self) -> None:
        super().__init__()
        self.found = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        if name in NONDETERMINISTIC_CUDA_OPS:
            entry, predicate = NONDETERMINISTIC_CUDA_OPS[name]
            bound = dict(
                zip((arg.name for arg in func._schema.arguments), args),
                **kwargs)
            if predicate is None or predicate(bound):
                self.found.add(f'aten.{name}.{func._overloadname} ({entry})')
        return func(*args, **kwargs)


def shrink_for_scan(cfg: Config) -> None:
    """Tiny model of a config, shaped for the inputs of :func:`batch`."""
    shrink_model(cfg.model)
    for spec in cfg.model.modalities.values():
        backbone, tokenizer = spec.backbone, spec.tokenizer
        if 'img_size' in backbone:
            # Inputs of the tower's own size (as the pipelines make them):
            # 2 x 2 patches.
            patch = backbone.patch_size
            patch = (patch, patch) if isinstance(patch, int) else patch
            backbone.img_size = tuple(2 * p for p in patch)
        if tokenizer.get('max_tokens') is not None:
            tokenizer.max_tokens = TINY_MAX_TOKENS


def batch(cfg: Config) -> dict:
    """One random clip as the dataloader gives it to the data
    preprocessor."""
    pipeline = cfg.train_dataloader.dataset.pipeline
    num_frames = next(step.num_segments for step in pipeline
                      if step.type == 'SampleSegmentFrames')
    inputs = {}
    for spec in cfg.model.modalities.values():
        size = tuple(spec.backbone.get('img_size', CNN_INPUT_SIZE))
        if spec.input_key == 'imgs':
            inputs['imgs'] = [
                torch.randint(0, 256, (1, 3, num_frames, *size),
                              dtype=torch.uint8)
            ]
        else:
            inputs[spec.input_key] = [torch.randn(1, 1, *size)]
    return dict(
        inputs=inputs,
        data_samples=[ActionDataSample().set_gt_label(0)])


def test_recorder_sees_forward_and_backward_ops():
    """The two ops TokenNeck used before are found in their backward; the
    classification loss is not."""
    x = torch.randn(2, 4, 12, requires_grad=True)
    logits = torch.randn(3, 5, requires_grad=True)
    with NondeterministicOpRecorder() as recorder:
        pooled = F.adaptive_avg_pool1d(x, 5)
        resized = F.interpolate(x, size=7, mode='linear',
                                align_corners=False)
        (pooled.sum() + resized.sum()).backward()
        F.cross_entropy(logits, torch.tensor([0, 1, 4])).backward()
    assert {name.split(' ')[0] for name in recorder.found} == {
        'aten._adaptive_avg_pool2d_backward.default',
        'aten.upsample_linear1d_backward.default'
    }


def test_recorder_checks_arguments():
    with NondeterministicOpRecorder() as recorder:
        torch.bincount(torch.tensor([0, 1, 1]))
        torch.median(torch.randn(5))
        torch.randn(3).scatter_reduce(0, torch.tensor([0, 0]),
                                      torch.randn(2), reduce='sum')
    assert not recorder.found
    with NondeterministicOpRecorder() as recorder:
        torch.bincount(torch.tensor([0, 1, 1]), weights=torch.ones(3))
    assert recorder.found == {
        'aten.bincount.default (torch.bincount with weights)'
    }


def test_every_listed_op_exists():
    for name in NONDETERMINISTIC_CUDA_OPS:
        assert isinstance(getattr(torch.ops.aten, name),
                          torch._ops.OpOverloadPacket), name


@pytest.mark.parametrize('name', CONFIGS)
def test_training_step_has_deterministic_cuda_kernels(name):
    init_default_scope('mmaction')
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    shrink_for_scan(cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    with NondeterministicOpRecorder() as recorder:
        log_vars = model.train_step(batch(cfg), optim_wrapper)
    assert torch.isfinite(log_vars['loss'])
    assert not recorder.found, (
        f'{name}: a training step runs ops without a deterministic CUDA '
        f'implementation (--deterministic raises): {sorted(recorder.found)}')
