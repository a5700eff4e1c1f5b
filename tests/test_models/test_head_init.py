"""The heads' default initialisation is the authors' release's: every Linear
Xavier-normal with zero bias; ``init_cfg=None`` keeps PyTorch's."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401
from mmaction.registry import MODELS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def scope():
    init_default_scope('mmaction')
    torch.manual_seed(0)


def linears(head):
    return {name: module for name, module in head.named_modules()
            if isinstance(module, torch.nn.Linear)}


def xavier_std(linear: torch.nn.Linear) -> float:
    return math.sqrt(2.0 / (linear.in_features + linear.out_features))


@pytest.mark.parametrize('head', [
    dict(type='RollingQFusionHead', in_channels=768),
    dict(type='RollingQFusionHead', in_channels=dict(audio=512, visual=768),
         fusion_dim=768),
    dict(type='ConcatFusionHead', in_channels=768),
    dict(type='UnimodalHead', in_channels=768, modality='audio'),
])
def test_every_linear_is_xavier_normal_with_zero_bias(head):
    head = MODELS.build(dict(head, num_classes=31))
    head.init_weights()
    found = linears(head)
    assert {'probes.audio', 'probes.visual', 'fc_cls'} <= set(found)
    if head.__class__.__name__ == 'RollingQFusionHead':
        assert {'attn.q_proj', 'attn.k_proj', 'attn.v_proj',
                'attn.out_proj'} <= set(found)
    for name, linear in found.items():
        assert torch.count_nonzero(linear.bias) == 0, name
        weight = linear.weight.detach()
        assert abs(float(weight.mean())) < 0.1 * xavier_std(linear), name
        assert float(weight.std()) == pytest.approx(xavier_std(linear),
                                                    rel=0.1), name


def test_init_cfg_none_keeps_pytorch_defaults():
    head = MODELS.build(dict(type='RollingQFusionHead', num_classes=31,
                             in_channels=768, init_cfg=None))
    head.init_weights()
    q_proj = head.attn.q_proj
    # PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
    assert float(q_proj.weight.std()) == pytest.approx(
        1 / math.sqrt(3 * 768), rel=0.05)
    assert torch.count_nonzero(q_proj.bias) > 700


def test_paper_model_gets_it_through_the_recognizer():
    """configs/rollingq_ks.py's head after the model's init_weights (what
    the Runner calls): W_Q std 0.036, not PyTorch's 0.021, and no random
    b_Q dominating the initial query."""
    cfg = Config.fromfile(str(REPO / 'configs' / 'rollingq_ks.py'))
    for spec in cfg.model.modalities.values():
        spec.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.init_weights()
    head = model.fusion_head
    assert float(head.attn.q_proj.weight.std()) == pytest.approx(
        0.0361, rel=0.05)
    assert torch.count_nonzero(head.attn.q_proj.bias) == 0
    assert float(head.cls_token.std()) == pytest.approx(0.02, rel=0.15)
