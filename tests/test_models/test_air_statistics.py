"""Tests of the online per-epoch AIR statistics."""

import pytest
import torch

from rollingq_mm.models import AIRStatistics, RollingQFusionHead

NUM_MODALITIES, CHANNELS = 2, 5


def random_batches(seed: int, sizes=(3, 1, 4, 2)):
    """(mean_keys, cosines, shares, normalised shares) per batch."""
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, NUM_MODALITIES, CHANNELS, generator=generator),
             torch.rand(size, NUM_MODALITIES, generator=generator) * 2 - 1,
             torch.rand(size, NUM_MODALITIES, generator=generator),
             torch.rand(size, NUM_MODALITIES, generator=generator))
            for size in sizes]


def test_online_means_equal_one_shot_means():
    batches = random_batches(0)
    statistics = AIRStatistics(NUM_MODALITIES, CHANNELS)
    for batch in batches:
        statistics.update(*batch)
    summary = statistics.summary()
    keys, cosines, shares, norm_shares = (torch.cat(parts).double()
                                          for parts in zip(*batches))
    assert summary['count'] == keys.shape[0] == 10
    assert summary['mean_keys'].dtype == torch.float64
    assert torch.allclose(summary['mean_keys'], keys.mean(dim=0), atol=1e-12)
    assert torch.allclose(summary['cosines'], cosines.mean(dim=0), atol=1e-12)
    assert torch.allclose(summary['attn_share'], shares.mean(dim=0),
                          atol=1e-12)
    assert torch.allclose(summary['attn_share_norm'],
                          norm_shares.mean(dim=0), atol=1e-12)


def test_reset_forgets_and_summary_of_nothing_is_an_error():
    statistics = AIRStatistics(NUM_MODALITIES, CHANNELS)
    for batch in random_batches(1):
        statistics.update(*batch)
    statistics.reset()
    assert statistics.count == 0
    with pytest.raises(RuntimeError, match='no sample'):
        statistics.summary()
    batch = random_batches(2, sizes=(2, ))[0]
    statistics.update(*batch)
    assert torch.allclose(statistics.summary()['cosines'],
                          batch[1].double().mean(dim=0))


def test_all_reduce_runs_once_per_epoch():
    """Single process: a no-op, guarded against a second call. (The sum over
    two gloo ranks, one of them empty, is tested in test_air_hook.py.)"""
    statistics = AIRStatistics(NUM_MODALITIES, CHANNELS)
    statistics.update(*random_batches(3, sizes=(2, ))[0])
    before = statistics.summary()
    statistics.all_reduce()
    assert torch.equal(statistics.summary()['mean_keys'], before['mean_keys'])
    with pytest.raises(RuntimeError, match='already'):
        statistics.all_reduce()
    with pytest.raises(RuntimeError, match='reset'):
        statistics.update(*random_batches(4, sizes=(1, ))[0])
    statistics.reset()
    statistics.all_reduce()
    assert statistics.count == 0


def test_update_rejects_wrong_shapes():
    statistics = AIRStatistics(NUM_MODALITIES, CHANNELS)
    keys, cosines, shares, norm_shares = random_batches(5, sizes=(2, ))[0]
    with pytest.raises(ValueError, match='mean_keys'):
        statistics.update(keys[..., :3], cosines, shares, norm_shares)
    with pytest.raises(ValueError, match='attn_share'):
        statistics.update(keys, cosines, shares[:1], norm_shares)
    with pytest.raises(ValueError, match='attn_share_norm'):
        statistics.update(keys, cosines, shares, norm_shares[:1])
    with pytest.raises(ValueError, match='num_modalities'):
        AIRStatistics(0, CHANNELS)


def test_statistics_are_not_module_state():
    head = RollingQFusionHead(num_classes=3, in_channels=CHANNELS)
    head.train()
    head(dict(audio=torch.randn(2, 3, CHANNELS),
              visual=torch.randn(2, 4, CHANNELS)))
    assert head.air_statistics.count == 2
    names = set(head.state_dict())
    assert {'rotation', 'num_rotations'} <= names
    assert not any('stat' in name or 'sum' in name for name in names)
