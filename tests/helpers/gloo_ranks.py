"""Run a test file as ranks 0 and 1 of a local gloo group."""
import os
import socket
import subprocess
import sys
from pathlib import Path

HELPERS = Path(__file__).resolve().parent


def launch_two_ranks(script: str, work_dir: Path, *args: str,
                     timeout: int = 300) -> None:
    """Run ``python script work_dir *args`` as two ranks; assert both pass.

    Args:
        script (str): The file whose ``__main__`` is one rank's work.
        work_dir (Path): Its first argument.
        *args (str): Further arguments.
        timeout (int): Seconds before both are killed. Defaults to 300.
    """
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    # the script imports the helpers of this folder, as the tests do
    python_path = os.pathsep.join(
        p for p in (str(HELPERS), os.environ.get('PYTHONPATH')) if p)
    processes = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank),
                   WORLD_SIZE='2', MASTER_ADDR='127.0.0.1',
                   MASTER_PORT=str(port), OMP_NUM_THREADS='1',
                   PYTHONPATH=python_path)
        processes.append(subprocess.Popen(
            [sys.executable, script, str(work_dir), *args], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [process.communicate(timeout=timeout)[0]
                   for process in processes]
    finally:
        for process in processes:
            process.kill()
    for rank, (process, output) in enumerate(zip(processes, outputs)):
        assert process.returncode == 0, f'rank {rank}:\n{output[-3000:]}'
