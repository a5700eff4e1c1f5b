"""Process set-up and tear-down for ``tools/train.py`` and ``tools/test.py``."""
import logging
import os
import sys

import torch.distributed as torch_dist


def setup_cli_env(local_rank: int) -> None:
    """Export ``LOCAL_RANK`` for launchers that pass ``--local-rank`` only."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))


def exit_distributed_cleanly() -> None:
    """End a finished distributed run without the gloo/NCCL exit-time abort.

    About one in ten 2-process runs aborted at interpreter exit
    (``terminate called without an active exception``) while the process
    group's threads were torn down. After a finished run this waits for every
    rank, destroys the process group, flushes logs and leaves with
    ``os._exit(0)``, skipping the racy interpreter shutdown. Does nothing in a
    non-distributed run.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
