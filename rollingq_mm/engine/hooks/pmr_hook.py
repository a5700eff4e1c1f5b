"""Hook that switches PMR on for a fusion head and refreshes its prototypes."""
import time
from typing import Optional

import torch
from mmaction.registry import HOOKS
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop
from torch import nn
from torch.utils.data import DataLoader

from rollingq_mm.engine.air_statistics_pass import eval_pass_loader
from rollingq_mm.engine.prototype_pass import update_prototypes
from rollingq_mm.keys import PMR_SCALAR_PREFIX
from rollingq_mm.models.balancing import PMRRegulariser
from rollingq_mm.models.heads import BaseAVHead


@HOOKS.register_module()
class PMRHook(Hook):
    """Prototypical modal rebalance on the model's fusion head.

    Implements PMR (Fan et al., "PMR: Prototypical Modal Rebalance for
    Multimodal Learning", CVPR 2023, https://arxiv.org/abs/2211.07089) for
    any :class:`~rollingq_mm.models.BaseAVHead` with two modalities: naming
    this hook in ``custom_hooks`` is the whole switch. Before training it
    gives the head a :class:`~rollingq_mm.models.balancing.PMRRegulariser`
    (``head.feature_regulariser``), so the head's ``loss`` adds
    ``loss_pmr_<m>`` (PCE for the slower modality, PER for the dominant one,
    Eqs. 10, 11, 13) from its pooled, not detached, features.

    At the start of every active epoch it recomputes the class prototypes
    (Eq. 6, momentum Eq. 12) in an eval-mode pass over a fixed subset of the
    training data: ``subset_ratio`` of the dataset drawn once from
    ``subset_seed``, the same every epoch, split across ranks without
    padding, class sums all-reduced, so every rank holds the same
    prototypes; the global random generators are restored after the pass.
    The batch ratio rho of Eq. 8 is summed over all ranks too, so every
    replica uses the same coefficients.

    At the end of each active epoch it logs under ``pmr/`` (message hub and
    visualizer, step = epoch) the epoch means ``ratio`` (rho), ``coef_<m>``
    (beta for the first modality, gamma for the second) and
    ``proto_acc_<m>`` (top-1 of the prototype classifier on the epoch's
    training samples, all ranks). The prototypes and their momentum history
    are saved in checkpoints and restored on resume.

    Args:
        alpha (float): alpha of Eq. 10, the weight of the PCE. Defaults to
            1.0.
        mu (float): mu of Eq. 13, the weight of the entropy
            regularisation. Defaults to 0.01.
        momentum (float): eps of Eq. 12 in [0, 1), the weight of the
            previous prototypes. Defaults to 0.2.
        begin_epoch (int): First epoch (1-based) with PMR. Defaults to 1.
        end_epoch (int, optional): Last epoch with PMR. Defaults to None
            (to the end).
        entropy_epochs (int): E_r: the entropy regularisation acts in
            epochs 1..E_r only (0: never). Defaults to 0.
        subset_ratio (float): Share of the training dataset in the
            prototype subset, in (0, 1]. Defaults to 0.1 (the paper's).
        subset_seed (int): Seed of the subset's choice. Defaults to 0.
    """

    priority = 'NORMAL'

    def __init__(self,
                 alpha: float = 1.0,
                 mu: float = 0.01,
                 momentum: float = 0.2,
                 begin_epoch: int = 1,
                 end_epoch: Optional[int] = None,
                 entropy_epochs: int = 0,
                 subset_ratio: float = 0.1,
                 subset_seed: int = 0) -> None:
        for key, value in (('alpha', alpha), ('mu', mu)):
            if isinstance(value, bool) or not isinstance(
                    value, (int, float)) or value < 0:
                raise ValueError(
                    f'PMRHook: {key} must be a number >= 0, got {value!r}.')
        if isinstance(momentum, bool) or not isinstance(
                momentum, (int, float)) or not 0.0 <= momentum < 1.0:
            raise ValueError('PMRHook: momentum must be in [0, 1), got '
                             f'{momentum!r}.')
        for key, value, low in (('begin_epoch', begin_epoch, 1),
                                ('entropy_epochs', entropy_epochs, 0),
                                ('subset_seed', subset_seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or \
                    value < low:
                raise ValueError(f'PMRHook: {key} must be an int >= {low}, '
                                 f'got {value!r}.')
        if end_epoch is not None and (
                isinstance(end_epoch, bool) or not isinstance(end_epoch, int)
                or end_epoch < begin_epoch):
            raise ValueError('PMRHook: end_epoch must be None or an int >= '
                             f'begin_epoch ({begin_epoch}), got '
                             f'{end_epoch!r}.')
        if isinstance(subset_ratio, bool) or not isinstance(
                subset_ratio, (int, float)) or not 0.0 < subset_ratio <= 1.0:
            raise ValueError('PMRHook: subset_ratio must be in (0, 1], got '
                             f'{subset_ratio!r}.')
        self.alpha = alpha
        self.mu = mu
        self.momentum = momentum
        self.begin_epoch = begin_epoch
        self.end_epoch = end_epoch
        self.entropy_epochs = entropy_epochs
        self.subset_ratio = subset_ratio
        self.subset_seed = subset_seed
        self.regulariser: Optional[PMRRegulariser] = None
        self._head: Optional[BaseAVHead] = None
        self._loader: Optional[DataLoader] = None
        self._loaded_prototypes: Optional[dict] = None

    @staticmethod
    def find_head(model: nn.Module) -> BaseAVHead:
        """The single :class:`BaseAVHead` inside ``model`` (wrapped or
        not)."""
        if is_model_wrapper(model):
            model = model.module
        heads = [m for m in model.modules() if isinstance(m, BaseAVHead)]
        if len(heads) != 1:
            raise ValueError(
                'PMRHook needs exactly one fusion head (a BaseAVHead, config '
                f'key model.fusion_head); {type(model).__name__} has '
                f'{len(heads)}.')
        return heads[0]

    def before_train(self, runner) -> None:
        """Give the head its regulariser; build the subset's loader."""
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            raise ValueError('PMRHook works per epoch: set train_cfg '
                             'by_epoch=True (EpochBasedTrainLoop).')
        head = self.find_head(runner.model)
        self.regulariser = PMRRegulariser(
            head.modalities, head.num_classes, alpha=self.alpha, mu=self.mu,
            momentum=self.momentum)
        if self._loaded_prototypes is not None:
            self.regulariser.prototypes = self._loaded_prototypes
        head.feature_regulariser = self.regulariser
        self._head = head
        dataset = runner.train_dataloader.dataset
        num_samples = max(1, round(self.subset_ratio * len(dataset)))
        self._loader = eval_pass_loader(
            dataset, runner.train_dataloader, num_samples, self.subset_seed,
            persistent_workers=True)

    def after_train(self, runner) -> None:
        """Detach the regulariser from the head; release the loader."""
        if self._head is not None:
            self._head.feature_regulariser = None
        self._loader = None

    def _active(self, epoch: int) -> bool:
        """Whether PMR acts in ``epoch`` (1-based)."""
        return epoch >= self.begin_epoch and (self.end_epoch is None
                                              or epoch <= self.end_epoch)

    def before_train_epoch(self, runner) -> None:
        """Recompute the prototypes (active epochs) and set the terms."""
        epoch = runner.epoch + 1
        regulariser = self.regulariser
        regulariser.reset_epoch()
        regulariser.active = self._active(epoch)
        regulariser.entropy_active = regulariser.active and \
            epoch <= self.entropy_epochs
        if not regulariser.active:
            return
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        start = time.perf_counter()
        count = update_prototypes(model, self._head, regulariser,
                                  self._loader)
        runner.logger.info(
            f'PMRHook epoch {epoch}: prototypes from {count} features of the '
            f'fixed subset ({time.perf_counter() - start:.1f} s on rank '
            f'{dist.get_rank()}); entropy regularisation '
            f'{"on" if regulariser.entropy_active else "off"}.')

    def after_train_epoch(self, runner) -> None:
        """Log the epoch's ratio, coefficients and prototype accuracies."""
        scalars = self.regulariser.epoch_scalars()
        if not scalars:
            return
        epoch = runner.epoch + 1
        tagged = {PMR_SCALAR_PREFIX + key: value
                  for key, value in scalars.items()}
        for key, value in tagged.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(tagged, step=epoch)
        runner.logger.info(f'PMRHook epoch {epoch}: ' + ', '.join(
            f'{key} {value:.4f}' for key, value in scalars.items()))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Save the prototypes (the momentum history of Eq. 12)."""
        if self.regulariser is not None and \
                self.regulariser.prototypes is not None:
            checkpoint['pmr_prototypes'] = {
                m: value.cpu()
                for m, value in self.regulariser.prototypes.items()
            }

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the saved prototypes for the resumed training."""
        saved = checkpoint.get('pmr_prototypes')
        if saved is not None:
            device = next(runner.model.parameters()).device
            self._loaded_prototypes = {
                m: torch.as_tensor(value).to(device)
                for m, value in saved.items()
            }
