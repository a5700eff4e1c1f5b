"""Hook that monitors attention imbalance and rotates the fusion query."""
import copy
import time
from typing import Dict, Optional

import torch
from mmaction.registry import DATASETS, HOOKS
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop
from torch import nn
from torch.utils.data import DataLoader

from rollingq_mm.engine.air_statistics_pass import (eval_pass_loader,
                                                    update_air_statistics)
from rollingq_mm.keys import (AIR_NORM_SCALAR, ATTN_NORM_SCALAR, ATTN_SCALAR,
                              SCALAR_PREFIX)
from rollingq_mm.models.heads import RollingQFusionHead
from rollingq_mm.models.rollingq import (DegenerateAnchorError, anchor_target,
                                         anchor_weights,
                                         attention_imbalance_rate,
                                         plane_rotation, projection_target,
                                         rotation_angle, svd_rotation,
                                         token_normalised_air)

ROTATIONS = ('plane', 'svd')
#: Where the epoch statistics come from (see :class:`AIRHook`).
STATISTICS = ('online', 'eval_pass')
#: When the eval pass runs (see :class:`AIRHook`).
EVAL_PASS_EPOCHS = ('every', 'rotation')
#: What ``air_threshold`` is compared with: the logged scalar of that name.
TRIGGERS = ('air', AIR_NORM_SCALAR)
#: Where a rotation turns the query (see :class:`AIRHook`).
TARGETS = ('anchor', 'projection')


@HOOKS.register_module()
class AIRHook(Hook):
    """Measure the Attention Imbalance Rate each epoch and roll the query.

    Implements the rotation schedule of RollingQ (Ni et al., "RollingQ:
    Reviving the Cooperation Dynamics in Multimodal Transformer", ICML 2025,
    https://arxiv.org/abs/2506.11465) for the model's
    :class:`~rollingq_mm.models.RollingQFusionHead`.

    With ``statistics='online'`` (the default) the head gathers statistics
    during each training epoch's forward passes, at no extra cost. With
    ``statistics='eval_pass'`` the hook instead runs, at the end of each
    epoch, the model in eval mode (no dropout, no gradient) over a fixed
    subset of the training data, as the paper measured AIR; the subset is
    drawn once from ``eval_pass_seed`` and split across ranks without
    padding, so every sample counts once, and the global random generators
    are restored afterwards, so the pass does not change the training's
    random streams. The pass costs one forward over the subset. With
    ``eval_pass_epochs='every'`` it runs after every epoch and its
    statistics are logged and decide; with ``'rotation'`` (the authors'
    release) it runs only after the epochs at which the schedule allows a
    rotation, its statistics decide and build the anchor (logged as
    ``eval_pass_air`` and ``eval_pass_air_norm``), and the online
    statistics are logged every epoch.

    At the end of the epoch this hook sums the statistics over all ranks and
    computes
    the per-modality mean cosines c_m, the AIR (c_0 - c_1 for two modalities
    in the head's order, > 0: the query favours the first; max - min for
    more), the anchor weights α_m = softmax_m(-2 ρ c_m) and the attention
    shares. It rotates the query when all of these hold:

    * ``enable_rotation``;
    * |AIR| >= β (``air_threshold``), or with ``trigger='air_norm'`` the
      per-token AIR |n_0 - n_1| >= β (n_m: the token-count-normalised
      shares, :func:`~rollingq_mm.models.rollingq.token_normalised_air`);
    * fewer than ``max_rotations`` rotations were done (the count is saved
      in checkpoints, so it survives ``resume``);
    * the epoch (1-based) is ``begin_epoch``, ``begin_epoch + interval``, ...;
    * with ``min_probe_accuracy_margin`` set, every modality's unimodal probe
      has a top-1 accuracy above chance 1/K by that margin (see below).

    The target is t = |q| u/|u| with u = Σ_m α_m E_m/|E_m| (E_m: the epoch
    mean of the per-sample mean keys), or with
    ``rotation_target='projection'`` the nearest query of the same norm
    that sees every E_m/|E_m| alike (:func:`~rollingq_mm.models.rollingq.
    projection_target`: q keeps every component except its imbalance, and
    ρ is not used); the head composes R_new (q -> t) on
    the left of its rotation; with ``rotation_fraction`` f < 1, R_new turns
    q only by f times the angle to t, in the plane of q and t, so repeated
    rotations (``max_rotations`` > 1) approach the target step by step.
    R_new is computed in float64 and broadcast
    from rank 0, so every rank applies the same matrix; whether to rotate
    is decided on rank 0 too and broadcast with it. Degenerate
    statistics (no sample, zero query, zero mean key, cancelling anchor)
    skip the rotation with a logged warning.

    The probe accuracies are the top-1 of the head's unimodal probes over
    the samples of the statistics (training forwards or the eval pass). A
    rotation they hold waits for the next epoch the schedule allows, and
    each hold is logged; docs/diagnostics.md ("Choosing the rotation
    schedule") says when to use it.

    Every epoch it logs, under ``rollingq/<key>`` in the message hub and in
    the visualizer (step = epoch), ``air``, ``air_norm`` (the per-token
    AIR), ``cos_<m>``, ``alpha_<m>``,
    ``attn_<m>``, ``norm_attn_<m>`` (the token-count-normalised share,
    :func:`~rollingq_mm.models.rollingq.token_normalised_share`),
    ``probe_acc_<m>``, ``rotation_angle`` (degrees, 0 without rotation) and
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
        rotation_method (str): 'plane' (minimal rotation in span{q, t},
            deterministic) or
            'svd' (the authors' release, for parity). Defaults to 'plane'.
        statistics (str): 'online' (training forwards) or 'eval_pass' (a
            dedicated eval-mode pass each epoch). Defaults to 'online'.
        eval_pass_samples (int, optional): Size of the fixed subset of the
            eval pass. Defaults to None: the whole dataset.
        eval_pass_seed (int): Seed of the subset's choice. Defaults to 0.
        eval_pass_dataset (dict, optional): Dataset config of the eval pass
            (e.g. the training annotations with the test pipeline).
            Defaults to None: the training dataloader's dataset. Batch size,
            workers and collate function are the training dataloader's.
        eval_pass_epochs (str): 'every' epoch or only the epochs at which a
            'rotation' may happen. Defaults to 'every'.
        min_probe_accuracy_margin (float, optional): Hold rotations until
            the probe top-1 accuracy of every modality exceeds 1/K + this
            margin, in [0, 1). Defaults to None: probes are not consulted.
        rotation_fraction (float): f in (0, 1], the part of the angle
            between q and the anchor target that a rotation turns (the
            fractional plane rotation; 'svd' accepts only 1.0). Defaults to
            1.0: all the way, as in the paper.
        trigger (str): What is compared with ``air_threshold``: 'air' (the
            paper's AIR of the query-key cosines) or 'air_norm' (the
            per-token AIR of the token-count-normalised attention shares,
            in [-1, 1] for two modalities). Defaults to 'air'.
        rotation_target (str): 'anchor' (the paper's t = |q| u/|u|) or
            'projection' (q without its component along the differences
            of the modalities' mean key directions, rescaled to |q|; ``rho``
            is not used). Defaults to 'anchor'.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 air_threshold: float = 0.0,
                 rho: float = 0.0,
                 max_rotations: int = 1,
                 begin_epoch: int = 1,
                 interval: int = 1,
                 enable_rotation: bool = True,
                 rotation_method: str = 'plane',
                 statistics: str = 'online',
                 eval_pass_samples: Optional[int] = None,
                 eval_pass_seed: int = 0,
                 eval_pass_dataset: Optional[dict] = None,
                 eval_pass_epochs: str = 'every',
                 min_probe_accuracy_margin: Optional[float] = None,
                 rotation_fraction: float = 1.0,
                 trigger: str = 'air',
                 rotation_target: str = 'anchor') -> None:
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
        if statistics not in STATISTICS:
            raise ValueError(f'AIRHook: statistics must be one of '
                             f'{list(STATISTICS)}, got {statistics!r}.')
        if eval_pass_samples is not None and (
                not isinstance(eval_pass_samples, int)
                or eval_pass_samples < 1):
            raise ValueError('AIRHook: eval_pass_samples must be None or an '
                             f'int >= 1, got {eval_pass_samples!r}.')
        if not isinstance(eval_pass_seed, int):
            raise ValueError('AIRHook: eval_pass_seed must be an int, got '
                             f'{eval_pass_seed!r}.')
        if eval_pass_dataset is not None and not isinstance(
                eval_pass_dataset, dict):
            raise ValueError('AIRHook: eval_pass_dataset must be a dataset '
                             f'config dict, got {eval_pass_dataset!r}.')
        if eval_pass_epochs not in EVAL_PASS_EPOCHS:
            raise ValueError('AIRHook: eval_pass_epochs must be one of '
                             f'{list(EVAL_PASS_EPOCHS)}, got '
                             f'{eval_pass_epochs!r}.')
        if statistics == 'online' and (eval_pass_samples is not None
                                       or eval_pass_dataset is not None
                                       or eval_pass_epochs != 'every'):
            raise ValueError(
                'AIRHook: eval_pass_samples / eval_pass_dataset / '
                "eval_pass_epochs are only used with statistics='eval_pass', "
                "but statistics='online'.")
        if min_probe_accuracy_margin is not None and (
                isinstance(min_probe_accuracy_margin, bool)
                or not isinstance(min_probe_accuracy_margin, (int, float))
                or not 0.0 <= min_probe_accuracy_margin < 1.0):
            raise ValueError(
                'AIRHook: min_probe_accuracy_margin must be None or a number '
                f'in [0, 1), got {min_probe_accuracy_margin!r}.')
        if isinstance(rotation_fraction, bool) or not isinstance(
                rotation_fraction, (int, float)) or \
                not 0.0 < rotation_fraction <= 1.0:
            raise ValueError('AIRHook: rotation_fraction must be a number in '
                             f'(0, 1], got {rotation_fraction!r}.')
        if rotation_method == 'svd' and rotation_fraction != 1.0:
            raise ValueError(
                "AIRHook: rotation_method='svd' turns the directions off the "
                'plane of q and t as its SVD routine chooses, so a fraction '
                'of it has no defined path; it needs rotation_fraction=1.0, '
                f'got rotation_fraction={rotation_fraction!r} with '
                f'rotation_method={rotation_method!r}.')
        if trigger not in TRIGGERS:
            raise ValueError(f'AIRHook: trigger must be one of '
                             f'{list(TRIGGERS)}, got {trigger!r}.')
        if rotation_target not in TARGETS:
            raise ValueError(f'AIRHook: rotation_target must be one of '
                             f'{list(TARGETS)}, got {rotation_target!r}.')
        self.air_threshold = air_threshold
        self.rho = rho
        self.max_rotations = max_rotations
        self.begin_epoch = begin_epoch
        self.interval = interval
        self.enable_rotation = enable_rotation
        self.rotation_method = rotation_method
        self.statistics = statistics
        self.eval_pass_samples = eval_pass_samples
        self.eval_pass_seed = eval_pass_seed
        self.eval_pass_dataset = eval_pass_dataset
        self.eval_pass_epochs = eval_pass_epochs
        self.min_probe_accuracy_margin = min_probe_accuracy_margin
        self.rotation_fraction = rotation_fraction
        self.trigger = trigger
        self.rotation_target = rotation_target
        self._head: Optional[RollingQFusionHead] = None
        self._eval_loader: Optional[DataLoader] = None

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
        if self.statistics == 'eval_pass':
            self._eval_loader = self._build_eval_loader(runner)

    def _build_eval_loader(self, runner) -> DataLoader:
        """This rank's loader over the eval pass's fixed subset."""
        dataset = runner.train_dataloader.dataset
        if self.eval_pass_dataset is not None:
            dataset = DATASETS.build(copy.deepcopy(self.eval_pass_dataset))
        return eval_pass_loader(
            dataset, runner.train_dataloader, self.eval_pass_samples,
            self.eval_pass_seed,
            persistent_workers=self.eval_pass_epochs == 'every')

    def after_train(self, runner) -> None:
        """Release the eval pass's loader (and its persistent workers)."""
        self._eval_loader = None

    def before_train_epoch(self, runner) -> None:
        """Start the epoch's statistics."""
        self._head.air_statistics.reset()

    def _eval_pass(self, runner) -> float:
        """Refill the head's statistics from the eval-mode pass over the
        fixed subset; return its wall time in seconds."""
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        start = time.perf_counter()
        update_air_statistics(model, self._head, self._eval_loader)
        return time.perf_counter() - start

    def _rotation_scheduled(self, epoch: int) -> bool:
        """Whether the schedule allows a rotation at the end of ``epoch``
        (the AIR threshold aside)."""
        return (self.enable_rotation
                and int(self._head.num_rotations) < self.max_rotations
                and epoch >= self.begin_epoch
                and (epoch - self.begin_epoch) % self.interval == 0)

    def imbalance(self, summary: Dict[str, torch.Tensor]) -> float:
        """The value of ``trigger`` in ``summary`` (epoch statistics from
        :meth:`AIRStatistics.summary`): the AIR of its ``cosines`` or the
        per-token AIR of its ``attn_share_norm``."""
        if self.trigger == AIR_NORM_SCALAR:
            return float(token_normalised_air(summary['attn_share_norm']))
        return float(attention_imbalance_rate(summary['cosines']))

    def _rotation_due(self, epoch: int,
                      summary: Dict[str, torch.Tensor]) -> bool:
        """Whether the rule asks for a rotation at the end of ``epoch``."""
        return (self._rotation_scheduled(epoch)
                and abs(self.imbalance(summary)) >= self.air_threshold)

    def _probes_above_chance(self, runner, epoch: int,
                             summary: Dict[str, torch.Tensor]) -> bool:
        """Whether every probe's accuracy in ``summary`` exceeds chance by
        ``min_probe_accuracy_margin`` (always, when it is None); logs why a
        rotation is held otherwise."""
        if self.min_probe_accuracy_margin is None:
            return True
        chance = 1.0 / self._head.num_classes
        needed = chance + self.min_probe_accuracy_margin
        accuracy = summary.get('probe_accuracy')
        if accuracy is not None and all(
                float(value) > needed for value in accuracy):
            return True
        measured = 'not measured (no labelled sample)' if accuracy is None \
            else ', '.join(f'{name} {float(value):.4f}' for name, value in
                           zip(self._head.modalities, accuracy))
        runner.logger.info(
            f'AIRHook epoch {epoch}: rotation held: probe top-1 accuracy '
            f'{measured} over {summary["count"]} samples; each must exceed '
            f'chance {chance:.4f} + min_probe_accuracy_margin '
            f'{self.min_probe_accuracy_margin} = {needed:.4f}.')
        return False

    def _rotation_on_rank0(self, runner, epoch: int,
                           summary: Dict[str, torch.Tensor],
                           weights: torch.Tensor) -> Optional[torch.Tensor]:
        """Rank 0's decision and R_new (float64), or None for no rotation.

        Only rank 0 applies the rule and builds the rotation; every rank
        receives the decision, then R_new, by broadcast. Ranks that decided
        on their own could disagree (a degenerate anchor on one rank, a
        tie at the threshold) and leave the others waiting at a broadcast
        they never join.
        """
        rotation = None
        if dist.get_rank() == 0 and self._rotation_due(epoch, summary) and \
                self._probes_above_chance(runner, epoch, summary):
            query = self._head.current_query().detach().to(torch.float64)
            try:
                means = summary['mean_keys'].to(query)
                if self.rotation_target == 'anchor':
                    target = anchor_target(query, means, weights.to(query))
                else:
                    target = projection_target(query, means)
                if self.rotation_method == 'plane':
                    rotation = plane_rotation(
                        query, target, fraction=self.rotation_fraction)
                else:
                    rotation = svd_rotation(query, target)
            except DegenerateAnchorError as error:
                runner.logger.warning(
                    f'AIRHook epoch {epoch}: rotation skipped: {error}')
        if dist.get_world_size() == 1:
            return rotation
        size = self._head.fusion_dim
        decision = torch.tensor([float(rotation is not None)])
        dist.broadcast(decision, src=0)
        if not decision.item():
            return None
        if rotation is None:
            rotation = torch.empty(size, size, dtype=torch.float64)
        rotation = rotation.cpu()
        dist.broadcast(rotation, src=0)
        return rotation

    @torch.no_grad()
    def _rotate(self, runner, epoch: int, imbalance: float,
                rotation: torch.Tensor) -> float:
        """Apply rank 0's rotation to the head's query; return the angle
        it turned the query by (degrees)."""
        head = self._head
        query = head.current_query().detach().to(torch.float64)
        head.apply_rotation(rotation)
        angle = rotation_angle(rotation.to(query), query)
        trigger = 'AIR' if self.trigger == 'air' else 'per-token AIR'
        fraction = '' if self.rotation_fraction == 1.0 else \
            f', rotation_fraction {self.rotation_fraction}'
        if self.rotation_target != 'anchor':
            fraction += f', rotation_target {self.rotation_target}'
        runner.logger.info(
            f'AIRHook epoch {epoch}: rotated the fusion query by '
            f'{angle:.3f} deg ({self.rotation_method}{fraction}) at '
            f'{trigger} {imbalance:+.4f} (air_threshold '
            f'{self.air_threshold}); rotation '
            f'{int(head.num_rotations)}/{self.max_rotations}.')
        return angle

    def _reduced_summary(self, runner, epoch: int,
                         source: str) -> Optional[Dict[str, torch.Tensor]]:
        """The head's statistics summed over all ranks, or None (with a
        warning) when no sample went through the head."""
        statistics = self._head.air_statistics
        statistics.all_reduce()
        if statistics.count == 0:
            runner.logger.warning(
                f'AIRHook epoch {epoch}: no sample went through '
                f'RollingQFusionHead ({source}); AIR not measured, no '
                'rotation.')
            return None
        return statistics.summary()

    def _timed_eval_pass(self, runner) -> str:
        """Run the eval pass; describe it for the log."""
        seconds = self._eval_pass(runner)
        return f'eval pass, {seconds:.1f} s on rank {dist.get_rank()}'

    def after_train_epoch(self, runner) -> None:
        """Reduce the statistics, log them and rotate when the rule says."""
        head = self._head
        epoch = runner.epoch + 1
        eval_pass = self.statistics == 'eval_pass'
        source = 'training forwards'
        if eval_pass and self.eval_pass_epochs == 'every':
            source = self._timed_eval_pass(runner)
        summary = self._reduced_summary(runner, epoch, source)
        if summary is None:
            return
        cosines = summary['cosines']
        air = float(attention_imbalance_rate(cosines))
        weights = anchor_weights(cosines, self.rho)
        scalars = {'air': air, AIR_NORM_SCALAR: float(
            token_normalised_air(summary['attn_share_norm']))}
        decision = (summary, weights)
        if eval_pass and self.eval_pass_epochs == 'rotation' and \
                self._rotation_scheduled(epoch):
            pass_source = self._timed_eval_pass(runner)
            source = f'{source}; rotation decided on the {pass_source}'
            decision = None
            pass_summary = self._reduced_summary(runner, epoch, pass_source)
            if pass_summary is not None:
                pass_cosines = pass_summary['cosines']
                scalars['eval_pass_air'] = float(
                    attention_imbalance_rate(pass_cosines))
                scalars['eval_pass_' + AIR_NORM_SCALAR] = float(
                    token_normalised_air(pass_summary['attn_share_norm']))
                decision = (pass_summary,
                            anchor_weights(pass_cosines, self.rho))
        angle = 0.0
        if self.enable_rotation and decision is not None:
            rotation = self._rotation_on_rank0(runner, epoch, *decision)
            if rotation is not None:
                angle = self._rotate(runner, epoch,
                                     self.imbalance(decision[0]), rotation)
        for index, name in enumerate(head.modalities):
            scalars[f'cos_{name}'] = float(cosines[index])
            scalars[f'alpha_{name}'] = float(weights[index])
            scalars[ATTN_SCALAR.format(name)] = float(
                summary['attn_share'][index])
            scalars[ATTN_NORM_SCALAR.format(name)] = float(
                summary['attn_share_norm'][index])
            if 'probe_accuracy' in summary:
                scalars[f'probe_acc_{name}'] = float(
                    summary['probe_accuracy'][index])
        scalars['rotation_angle'] = angle
        scalars['num_rotations'] = int(head.num_rotations)
        tagged = {SCALAR_PREFIX + key: value for key, value in scalars.items()}
        for key, value in tagged.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(tagged, step=epoch)
        runner.logger.info(
            f'AIRHook epoch {epoch} ({summary["count"]} samples, '
            f'{source}): ' +
            ', '.join(f'{key} {value:.4f}' if isinstance(value, float) else
                      f'{key} {value}' for key, value in scalars.items()))
