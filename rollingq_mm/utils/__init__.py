"""Utilities: command-line set-up, config validation, random-number state,
seeded per-sample random streams, loader worker progress."""
from .config_validation import ConfigValidationError, validate_config
from .launch import (add_runner_args, apply_runner_args, build_runner,
                     exit_distributed_cleanly, set_deterministic_env,
                     setup_cli_env, unscaled_batch_message)
from .rng_state import SampleSeededPipeline, get_rng_state, set_rng_state
from .sample_random import sample_rng, sample_seed
from .worker_progress import WorkerProgress

__all__ = [
    'add_runner_args', 'apply_runner_args', 'build_runner',
    'exit_distributed_cleanly', 'set_deterministic_env', 'setup_cli_env',
    'unscaled_batch_message', 'SampleSeededPipeline',
    'get_rng_state', 'sample_rng', 'sample_seed', 'set_rng_state',
    'ConfigValidationError', 'validate_config', 'WorkerProgress'
]
