"""CLSQueryAttention: the [CLS] row of multi-head attention without K, V."""
import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401
from mmaction.registry import MODELS
from rollingq_mm.models.layers import CLSQueryAttention

C = 12


@pytest.mark.parametrize('num_heads', [1, 3])
def test_output_equals_torch_multihead_attention_of_the_query(num_heads):
    torch.manual_seed(0)
    layer = CLSQueryAttention(C, num_heads).double()
    mha = nn.MultiheadAttention(C, num_heads, batch_first=True).double()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([
            layer.q_proj.weight, layer.k_proj.weight, layer.v_proj.weight]))
        mha.in_proj_bias.copy_(torch.cat([
            layer.q_proj.bias, layer.k_proj.bias, layer.v_proj.bias]))
        mha.out_proj.load_state_dict(layer.out_proj.state_dict())
    sequences = [torch.randn(4, length, C, dtype=torch.float64)
                 for length in (1, 5, 7)]
    token = torch.randn(C, dtype=torch.float64)
    query = layer.q_proj(token)
    output, attention, means = layer(query, sequences)
    tokens = torch.cat(sequences, dim=1)
    # nn.MultiheadAttention projects its query input with W_Q itself.
    expected, weights = mha(token.expand(4, 1, C), tokens, tokens,
                            average_attn_weights=False)
    assert torch.allclose(output, expected[:, 0], atol=1e-10)
    assert torch.allclose(attention, weights[:, :, 0], atol=1e-10)
    for index, sequence in enumerate(sequences):
        assert torch.allclose(means[:, index], sequence.mean(1), atol=1e-12)


def test_bad_arguments_name_the_key():
    for kwargs, key in ((dict(dim=0), 'dim'),
                        (dict(dim=C, num_heads=5), 'num_heads'),
                        (dict(dim=C, attn_drop=1.0), 'attn_drop'),
                        (dict(dim=C, proj_drop=-0.1), 'proj_drop')):
        with pytest.raises(ValueError, match=key):
            CLSQueryAttention(**kwargs)


def test_head_loads_projections_saved_directly_under_it():
    """Checkpoints of versions before the layer hold q_proj.weight, ... at
    the head's level: they load into head.attn unchanged."""
    init_default_scope('mmaction')
    head = MODELS.build(dict(type='RollingQFusionHead', num_classes=3,
                             in_channels=C))
    state = {key.replace('attn.', ''): value.clone() + 1.0
             for key, value in head.state_dict().items()}
    assert 'q_proj.weight' in state and 'attn.q_proj.weight' not in state
    fresh = MODELS.build(dict(type='RollingQFusionHead', num_classes=3,
                              in_channels=C))
    result = fresh.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(fresh.attn.k_proj.weight, state['k_proj.weight'])
