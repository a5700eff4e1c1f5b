"""Hook that monitors attention imbalance and rotates the fusion query."""
from typing import Dict, Optional

import torch
from mmaction.registry import HOOKS
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop
from torch import nn

from rollingq_mm.models.heads import RollingQFusionHead
from rollingq_mm.models.rollingq import (DegenerateAnchorError, anchor_target,
                                         anchor_weights,
                                         attention_imbalance_rate,
                                         plane_rotation, rotation_angle,
                                         svd_rotation)

ROTATIONS = dict(plane=plane_rotation, svd=svd_rotation)
#: Prefix of the scalars this hook writes to the message hub and visualizer.
SCALAR_PREFIX = 'rollingq/'


@HOOKS.register_module()
class AIRHook(Hook):
    """Measure the Attention Imbalance Rate each epoch and roll the query.

    Implements the rotation schedule of RollingQ (Ni et al., "RollingQ:
    Reviving the Cooperation Dynamics in Multimodal Transformer", ICML 2025,
    https://arxiv.org/abs/2506.11465) for the model's
    :class:`~rollingq_mm.models.RollingQFusionHead`.

    The head gathers statistics during each training epoch's forward passes.
    At the end of the epoch this hook sums them over all ranks and computes
    the per-modality mean cosines c_m, the AIR (c_0 - c_1 for two modalities
    in the head's order, > 0: the query favours the first; max - min for
    more), the anchor weights α_m = softmax_m(-2 ρ c_m) and the attention
    shares. It rotates the query when all of these hold:

    * ``enable_rotation``;
    * |AIR| >= β (``air_threshold``);
    * fewer than ``max_rotations`` rotations were done (the count is saved
      in checkpoints, so it survives ``resume``);
    * the epoch (1-based) is ``begin_epoch``, ``begin_epoch + interval``, ...

    The target is t = |q| u/|u| with u = Σ_m α_m E_m/|E_m| (E_m: the epoch
    mean of the per-sample mean keys); the head composes R_new (q -> t) on
    the left of its rotation. R_new is computed in float64 and broadcast
    from rank 0, so every rank applies the same matrix. Degenerate
    statistics (no sample, zero query, zero mean key, cancelling anchor)
    skip the rotation with a logged warning.

    Every epoch it logs, under ``rollingq/<key>`` in the message hub and in
    the visualizer (step = epoch), ``air``, ``cos_<m>``, ``alpha_<m>``,
    ``attn_<m>``, ``rotation_angle`` (degrees, 0 without rotation) and
    ``num_rotations``, plus a one-line summary in the text log. The
    ``rollingq/`` prefix keeps these epoch values apart from the per-batch
    ``air`` and ``attn_<m>`` that the head reports with the losses.

    The priority ``ABOVE_NORMAL`` makes it run before ``CheckpointHook`` and
    before validation, so both see the rotated query.

    Args:
        air_threshold (float): β, the smallest |AIR| that triggers a
            rotation. Defaults to 0.0.
        rho (float): ρ >= 0, re-weighting of the anchor towards the
            less-attended modality (0: the bisector). Defaults to 0.0.
        max_rotations (int): Most rotations over the whole training.
            Defaults to 1.
        begin_epoch (int): First epoch (1-based) at whose end a rotation may
            happen. Defaults to 1.
        interval (int): Epochs between rotation checks. Defaults to 1.
        enable_rotation (bool): False only monitors (the vanilla baseline
            logs the same curves). Defaults to True.
        rotation_method (str): 'plane' (minimal rotation in span{q, t}) or
            'svd' (the authors' release, for parity). Defaults to 'plane'.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 air_threshold: float = 0.0,
                 rho: float = 0.0,
                 max_rotations: int = 1,
                 begin_epoch: int = 1,
                 interval: int = 1,
                 enable_rotation: bool = True,
                 rotation_method: str = 'plane') -> None:
        if air_threshold < 0:
            raise ValueError(
                f'AIRHook: air_threshold must be >= 0, got {air_threshold}.')
        if rho < 0:
            raise ValueError(f'AIRHook: rho must be >= 0, got {rho}.')
        for key, value, low in (('max_rotations', max_rotations, 0),
                                ('begin_epoch', begin_epoch, 1),
                                ('interval', interval, 1)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f'AIRHook: {key} must be an int >= {low}, '
                                 f'got {value!r}.')
        if rotation_method not in ROTATIONS:
            raise ValueError(f'AIRHook: rotation_method must be one of '
                             f'{sorted(ROTATIONS)}, got {rotation_method!r}.')
        self.air_threshold = air_threshold
        self.rho = rho
        self.max_rotations = max_rotations
        self.begin_epoch = begin_epoch
        self.interval = interval
        self.enable_rotation = enable_rotation
        self.rotation_method = rotation_method
        self._head: Optional[RollingQFusionHead] = None

    @staticmethod
    def find_head(model: nn.Module) -> RollingQFusionHead:
        """The single :class:`RollingQFusionHead` inside ``model``.

        Args:
            model (nn.Module): The runner's model, wrapped or not.

        Returns:
            RollingQFusionHead: The head.
        """
        if is_model_wrapper(model):
            model = model.module
        heads = [m for m in model.modules()
                 if isinstance(m, RollingQFusionHead)]
        if len(heads) != 1:
            raise ValueError(
                f'AIRHook needs exactly one RollingQFusionHead in the model '
                f"(config key model.fusion_head, type='RollingQFusionHead'); "
                f'{type(model).__name__} has {len(heads)}.')
        return heads[0]

    def before_train(self, runner) -> None:
        """Find the head; refuse iteration-based training."""
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            raise ValueError('AIRHook works at epoch ends: set train_cfg '
                             'by_epoch=True (EpochBasedTrainLoop).')
        self._head = self.find_head(runner.model)

    def before_train_epoch(self, runner) -> None:
        """Start the epoch's statistics."""
        self._head.air_statistics.reset()

    def _rotation_due(self, epoch: int, air: float) -> bool:
        """Whether the rule asks for a rotation at the end of ``epoch``."""
        return (self.enable_rotation and abs(air) >= self.air_threshold
                and int(self._head.num_rotations) < self.max_rotations
                and epoch >= self.begin_epoch
                and (epoch - self.begin_epoch) % self.interval == 0)

    @torch.no_grad()
    def _rotate(self, runner, epoch: int, air: float,
                summary: Dict[str, torch.Tensor],
                weights: torch.Tensor) -> float:
        """Rotate the head's query towards the anchor; return the angle."""
        head = self._head
        query = head.current_query().to(torch.float64)
        try:
            target = anchor_target(query, summary['mean_keys'].to(query),
                                   weights.to(query))
        except DegenerateAnchorError as error:
            runner.logger.warning(
                f'AIRHook epoch {epoch}: rotation skipped: {error}')
            return 0.0
        rotation = ROTATIONS[self.rotation_method](query, target)
        dist.broadcast(rotation, src=0)
        head.apply_rotation(rotation)
        angle = rotation_angle(rotation, query)
        runner.logger.info(
            f'AIRHook epoch {epoch}: rotated the fusion query by '
            f'{angle:.3f} deg ({self.rotation_method}) at AIR {air:+.4f} '
            f'(air_threshold {self.air_threshold}); rotation '
            f'{int(head.num_rotations)}/{self.max_rotations}.')
        return angle

    def after_train_epoch(self, runner) -> None:
        """Reduce the statistics, log them and rotate when the rule says."""
        head = self._head
        epoch = runner.epoch + 1
        statistics = head.air_statistics
        statistics.all_reduce()
        if statistics.count == 0:
            runner.logger.warning(
                f'AIRHook epoch {epoch}: no training sample went through '
                'RollingQFusionHead; AIR not measured, no rotation.')
            return
        summary = statistics.summary()
        cosines = summary['cosines']
        air = float(attention_imbalance_rate(cosines))
        weights = anchor_weights(cosines, self.rho)
        angle = 0.0
        if self._rotation_due(epoch, air):
            angle = self._rotate(runner, epoch, air, summary, weights)
        scalars = dict(air=air)
        for index, name in enumerate(head.modalities):
            scalars[f'cos_{name}'] = float(cosines[index])
            scalars[f'alpha_{name}'] = float(weights[index])
            scalars[f'attn_{name}'] = float(summary['attn_share'][index])
        scalars['rotation_angle'] = angle
        scalars['num_rotations'] = int(head.num_rotations)
        tagged = {SCALAR_PREFIX + key: value for key, value in scalars.items()}
        for key, value in tagged.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(tagged, step=epoch)
        runner.logger.info(
            f'AIRHook epoch {epoch} ({summary["count"]} samples): ' +
            ', '.join(f'{key} {value:.4f}' if isinstance(value, float) else
                      f'{key} {value}' for key, value in scalars.items()))
