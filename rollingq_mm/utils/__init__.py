"""Utilities: command-line set-up, config validation, random-number state,
loader worker progress."""
from .config_validation import ConfigValidationError, validate_config
from .launch import (add_runner_args, apply_runner_args, build_runner,
                     exit_distributed_cleanly, setup_cli_env)
from .rng_state import (SampleSeededPipeline, get_rng_state, sample_seed,
                        set_rng_state)
from .worker_progress import WorkerProgress

__all__ = [
    'add_runner_args', 'apply_runner_args', 'build_runner',
    'exit_distributed_cleanly', 'setup_cli_env', 'SampleSeededPipeline',
    'get_rng_state', 'sample_seed', 'set_rng_state', 'ConfigValidationError',
    'validate_config', 'WorkerProgress'
]
