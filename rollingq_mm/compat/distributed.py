"""Distributed training on CPU (gloo) with mmengine 0.10.7.

mmengine's ``init_dist(launcher='pytorch')`` calls ``torch.cuda.set_device``
and ``MMDistributedDataParallel`` is given ``device_ids=[LOCAL_RANK]``; both
fail without CUDA. Here, only when CUDA is unavailable, the process group is
initialised with ``gloo`` and CPU modules are wrapped with ``device_ids=None``.
Where CUDA is available both call mmengine's originals with the arguments
unchanged (NCCL); tests/test_compat/test_distributed.py checks it.
"""
import os

import torch
import torch.distributed as torch_dist
from mmengine.logging import print_log


def _init_dist_pytorch_cpu_aware(backend: str, init_backend: str = 'torch',
                                 **kwargs) -> None:
    """mmengine's ``_init_dist_pytorch``, falling back to gloo without CUDA."""
    if torch.cuda.is_available() or init_backend != 'torch':
        return _ORIGINAL['init_dist_pytorch'](
            backend, init_backend=init_backend, **kwargs)
    if backend != 'gloo':
        print_log(f'CUDA is not available: using the gloo backend instead of '
                  f'{backend}.', logger='current')
    torch_dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)


def _ddp_init_cpu_aware(self, module: torch.nn.Module, *args,
                        **kwargs) -> None:
    """``MMDistributedDataParallel.__init__`` that accepts CPU modules
    when CUDA is unavailable (with CUDA: mmengine's, arguments unchanged)."""
    on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
    if on_cpu and not torch.cuda.is_available():
        kwargs['device_ids'] = None
        kwargs.pop('output_device', None)
    _ORIGINAL['ddp_init'](self, module, *args, **kwargs)


_ORIGINAL: dict = {}


def install_cpu_distributed() -> None:
    """Patch mmengine once so that ``launcher='pytorch'`` works on CPU."""
    from mmengine.dist import utils as dist_utils
    from mmengine.model.wrappers import MMDistributedDataParallel

    if 'init_dist_pytorch' in _ORIGINAL:
        return
    _ORIGINAL['init_dist_pytorch'] = dist_utils._init_dist_pytorch
    _ORIGINAL['ddp_init'] = MMDistributedDataParallel.__init__
    dist_utils._init_dist_pytorch = _init_dist_pytorch_cpu_aware
    MMDistributedDataParallel.__init__ = _ddp_init_cpu_aware
