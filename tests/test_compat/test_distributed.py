"""The CPU-only distributed fallback: needed without CUDA, inert with it."""
import os
import socket
import subprocess
import sys
import textwrap

import torch
import torch.nn as nn
from mmengine.dist import utils as dist_utils
from mmengine.model.wrappers import MMDistributedDataParallel

from rollingq_mm.compat import distributed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def one_rank(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` as rank 0 of a 1-process ``torchrun``-like launch."""
    env = dict(os.environ, RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
               MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()),
               CUDA_VISIBLE_DEVICES='')
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          env=env, capture_output=True, text=True,
                          timeout=300)


def test_without_the_fix_mmengine_cannot_start_on_cpu():
    """The premise: mmengine's init_dist('pytorch') calls
    torch.cuda.set_device, and DDP is given device_ids for a CPU module."""
    run = one_rank('''
        import torch.distributed as dist
        import torch.nn as nn
        from mmengine.dist import init_dist
        from mmengine.model.wrappers import MMDistributedDataParallel
        try:
            init_dist('pytorch', backend='gloo')
        except Exception as err:
            print('init_dist failed:', type(err).__name__)
        dist.init_process_group('gloo')
        try:
            MMDistributedDataParallel(nn.Linear(2, 1), device_ids=[0])
        except Exception as err:
            print('DDP failed:', type(err).__name__)
    ''')
    assert run.returncode == 0, run.stderr[-3000:]
    assert 'init_dist failed:' in run.stdout
    assert 'DDP failed:' in run.stdout


def test_with_the_fix_a_cpu_process_group_starts_and_wraps():
    run = one_rank('''
        import rollingq_mm
        import torch.distributed as dist
        import torch.nn as nn
        from mmengine.dist import init_dist
        from mmengine.model.wrappers import MMDistributedDataParallel
        init_dist('pytorch', backend='nccl')
        print('backend', dist.get_backend())
        ddp = MMDistributedDataParallel(nn.Linear(2, 1), device_ids=[0])
        print('device_ids', ddp.device_ids)
        dist.destroy_process_group()
    ''')
    assert run.returncode == 0, run.stderr[-3000:]
    assert 'backend gloo' in run.stdout
    assert 'device_ids None' in run.stdout


def recorder(calls: list):
    def record(*args, **kwargs):
        calls.append((args, kwargs))
    return record


def test_with_cuda_mmengine_runs_with_unchanged_arguments(monkeypatch):
    """CUDA emulated as available: both wrappers call mmengine's originals
    with exactly the arguments they got (NCCL, device_ids kept)."""
    import rollingq_mm  # noqa: F401
    assert dist_utils._init_dist_pytorch is \
        distributed._init_dist_pytorch_cpu_aware
    assert (MMDistributedDataParallel.__init__
            is distributed._ddp_init_cpu_aware)
    calls = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setitem(distributed._ORIGINAL, 'init_dist_pytorch',
                        recorder(calls))
    monkeypatch.setitem(distributed._ORIGINAL, 'ddp_init', recorder(calls))

    dist_utils._init_dist_pytorch('nccl', init_backend='torch', timeout=7)
    assert calls.pop() == (('nccl', ), dict(init_backend='torch', timeout=7))

    wrapper = object.__new__(MMDistributedDataParallel)
    module = nn.Linear(2, 1)
    MMDistributedDataParallel.__init__(
        wrapper, module, device_ids=[3], output_device=3,
        broadcast_buffers=False)
    assert calls.pop() == ((wrapper, module),
                           dict(device_ids=[3], output_device=3,
                                broadcast_buffers=False))
