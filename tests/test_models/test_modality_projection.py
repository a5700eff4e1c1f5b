"""Tests of the projection of each modality's tokens to the fusion width."""
import pytest
import torch

from rollingq_mm.models.layers import ModalityProjection


def test_only_differing_widths_are_projected_in_modality_order():
    layer = ModalityProjection(dict(audio=8, visual=16), fusion_dim=16)
    assert list(layer.keys()) == ['audio']
    audio, visual = torch.randn(2, 3, 8), torch.randn(2, 5, 16)
    out = layer(dict(visual=visual, audio=audio))
    assert [t.shape for t in out] == [(2, 3, 16), (2, 5, 16)]
    assert torch.equal(out[0], layer['audio'](audio))
    assert out[1] is visual


def test_width_defaults_to_the_common_one_and_is_checked():
    assert ModalityProjection(dict(audio=4, visual=4)).fusion_dim == 4
    with pytest.raises(ValueError, match='set fusion_dim'):
        ModalityProjection(dict(audio=4, visual=8))
    with pytest.raises(ValueError, match='fusion_dim must be a positive'):
        ModalityProjection(dict(audio=4, visual=8), fusion_dim=0)
