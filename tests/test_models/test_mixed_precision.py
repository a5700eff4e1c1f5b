"""Mixed precision (``--amp``) as far as a CPU allows: bfloat16 autocast."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import AmpOptimWrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from rollingq_mm.models.rollingq import svd_rotation

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def scope():
    init_default_scope('mmaction')
    torch.manual_seed(0)


def test_rotated_query_stays_float32_under_autocast():
    """R q in bfloat16 would move the query by a fraction of a degree,
    as much as a small rotation of RollingQ itself."""
    head = MODELS.build(dict(type='RollingQFusionHead', num_classes=3,
                             in_channels=768))
    query = head.current_query().detach().double()
    head.apply_rotation(svd_rotation(query, torch.randn(768).double()))
    reference = head.current_query().detach()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        query = head.current_query()
    assert query.dtype == torch.float32
    assert torch.equal(query.detach(), reference)


@pytest.mark.slow
def test_paper_size_train_step_under_bf16_autocast(monkeypatch):
    """One real training step of configs/rollingq_ks.py's model (two 4-layer
    ViT-B/16 towers, 513 audio + 589 visual tokens) through mmengine's
    AmpOptimWrapper, whose autocast is bfloat16 on CPU: finite losses close
    to float32's, every trained parameter updated in float32."""
    # AmpOptimWrapper refuses machines without an accelerator before it
    # starts; its autocast and (disabled) GradScaler run on CPU.
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    cfg = Config.fromfile(str(REPO / 'configs' / 'rollingq_ks.py'))
    for spec in cfg.model.modalities.values():
        spec.backbone.init_cfg = None
    cfg.model.fusion_head.attn_drop = cfg.model.fusion_head.proj_drop = 0.0
    model = MODELS.build(cfg.model)
    model.init_weights()
    generator = torch.Generator().manual_seed(0)
    data = pseudo_collate([
        dict(inputs=dict(
            audios=torch.randn(1, 1, 128, 1024, generator=generator),
            imgs=torch.rand(1, 3, 3, 224, 224, generator=generator) * 255),
             data_samples=ActionDataSample().set_gt_label(label))
        for label in (0, 7)
    ])
    with torch.no_grad():
        fp32 = model(**model.data_preprocessor(data, True), mode='loss')
    dtypes = []
    model.encoders['visual'].layers[0].attn.qkv.register_forward_hook(
        lambda module, args, out: dtypes.append(out.dtype))
    before = {name: p.detach().clone()
              for name, p in model.named_parameters()}
    wrapper = AmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=1e-3,
                                  momentum=0.9),
        dtype='bfloat16')
    log_vars = model.train_step(data, wrapper)
    assert dtypes == [torch.bfloat16]
    for key in ('loss_cls', 'loss_probe_audio', 'loss_probe_visual'):
        value = float(log_vars[key].detach())
        assert math.isfinite(value)
        assert value == pytest.approx(float(fp32[key]), rel=0.05), key
    unchanged = [name for name, p in model.named_parameters()
                 if p.dtype != torch.float32 or torch.equal(p, before[name])]
    # b_K adds b_K . q to every attention logit alike, which the softmax
    # cancels: its gradient is zero up to bfloat16 rounding.
    assert set(unchanged) <= {'fusion_head.attn.k_proj.bias'}, unchanged
    assert model.fusion_head.current_query().dtype == torch.float32
