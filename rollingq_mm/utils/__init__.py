"""Utilities shared by the command-line tools."""
from .launch import exit_distributed_cleanly, setup_cli_env

__all__ = ['exit_distributed_cleanly', 'setup_cli_env']
