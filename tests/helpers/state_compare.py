"""Bit-for-bit comparison of checkpoint contents, for the resume tests."""
import torch


def assert_same_tensors(actual, expected, where: str) -> None:
    """Nested dicts / lists / tensors equal bit for bit; ``where`` names
    the first difference."""
    if isinstance(expected, torch.Tensor):
        assert torch.equal(actual, expected), where
    elif isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            assert_same_tensors(actual[key], expected[key], f'{where}.{key}')
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_same_tensors(a, e, f'{where}[{index}]')
    else:
        assert actual == expected, where
