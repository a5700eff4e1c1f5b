"""Hook that modulates each modality's encoder gradients (OGM-GE)."""
from typing import Dict, List, Optional, Sequence

import torch
from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.runner import IterBasedTrainLoop
from torch import nn

from rollingq_mm.keys import OGM_SCALAR_PREFIX
from rollingq_mm.models.balancing import (OGMScores, discrepancy_ratios,
                                          modulate_gradient_,
                                          modulation_coefficients)
from rollingq_mm.models.heads import BaseAVHead

#: Checkpoint ``meta`` key of the number of modulated optimizer steps.
STEPS_META_KEY = 'ogm_ge_steps'


@HOOKS.register_module()
class OGMGEHook(Hook):
    """On-the-fly Gradient Modulation with Generalisation Enhancement.

    Implements OGM-GE (Peng et al., "Balanced Multimodal Learning via
    On-the-fly Gradient Modulation", CVPR 2022,
    https://arxiv.org/abs/2203.15332) for a model with a
    :class:`~rollingq_mm.models.BaseAVHead` as ``fusion_head``; the maths is
    :mod:`rollingq_mm.models.balancing.ogm_ge`. Each optimizer step, from
    each modality's own output over the step's samples (the per-modality
    parts of ``ConcatFusionHead``'s classifier, else the head's probes), it
    computes s_m = Σ_i softmax(o_m,i)[y_i], the ratio ρ_m of s_m to the mean
    of the other modalities' and k_m = 1 - tanh(α ρ_m) where ρ_m > 1, else
    1; it scales the gradients of modality m's encoder by k_m and, with
    ``noise``, adds Gaussian noise with the standard deviation of each
    unmodulated parameter gradient (every modality's, as in the paper).

    It runs as a pre-hook of ``torch.optim.Optimizer.step``, so once per
    optimizer step: after DDP's gradient all-reduce, after every micro-batch
    of gradient accumulation (the scores summed over them) and after
    ``GradScaler`` unscaled the gradients (``GradScaler.step`` unscales before
    it calls ``optimizer.step``, and skips both on overflow). The scores are
    summed over all ranks before k is computed, and the noise comes from a
    generator seeded with ``seed`` + the number of modulated steps on every
    rank, so the replicas stay identical. The step count is saved in
    checkpoints.

    Every optimizer step while active it logs ``ogm/coef_<m>`` and
    ``ogm/ratio_<m>`` under ``train/`` in the message hub, so they reach the
    text log and the visualizer with the losses.

    Args:
        alpha (float): α >= 0. Defaults to 0.1 (the authors' default).
        begin_epoch (int): First epoch (1-based) that is modulated. Defaults
            to 1.
        end_epoch (int, optional): Last epoch (1-based, included) that is
            modulated. Defaults to None: to the end.
        noise (bool): Add the GE noise (False: OGM alone). Defaults to True.
        encoder_modules (dict, optional): Per modality, the dotted names of
            the modules (in the unwrapped model) whose parameters are that
            modality's encoder. Defaults to None: the whole tower,
            ``encoders.<m>`` and ``tokenizers.<m>`` of
            ``AudioVisualRecognizer`` (the release's rule of convolution
            weights only does not fit transformer towers).
        seed (int): Seed of the noise. Defaults to 0.
    """

    priority = 'NORMAL'

    def __init__(self,
                 alpha: float = 0.1,
                 begin_epoch: int = 1,
                 end_epoch: Optional[int] = None,
                 noise: bool = True,
                 encoder_modules: Optional[Dict[str, Sequence[str]]] = None,
                 seed: int = 0) -> None:
        if not alpha >= 0:
            raise ValueError(f'OGMGEHook: alpha must be >= 0, got {alpha}.')
        if not isinstance(begin_epoch, int) or begin_epoch < 1:
            raise ValueError('OGMGEHook: begin_epoch must be an int >= 1, '
                             f'got {begin_epoch!r}.')
        if end_epoch is not None and (not isinstance(end_epoch, int)
                                      or end_epoch < begin_epoch):
            raise ValueError('OGMGEHook: end_epoch must be None or an int '
                             f'>= begin_epoch ({begin_epoch}), got '
                             f'{end_epoch!r}.')
        self.alpha = alpha
        self.begin_epoch = begin_epoch
        self.end_epoch = end_epoch
        self.noise = noise
        self.encoder_modules = encoder_modules
        self.seed = seed
        self.num_steps = 0
        self._head: Optional[BaseAVHead] = None
        self._params: Dict[str, List[nn.Parameter]] = {}
        self._handle = None
        self._runner = None

    def _encoder_parameters(self, model: nn.Module,
                            modalities: List[str]
                            ) -> Dict[str, List[nn.Parameter]]:
        """Each modality's encoder parameters, checked to be disjoint."""
        modules = self.encoder_modules
        if modules is None:
            modules = {m: [f'encoders.{m}', f'tokenizers.{m}']
                       for m in modalities}
        if sorted(modules) != sorted(modalities):
            raise ValueError(f'OGMGEHook: encoder_modules must have one '
                             f'entry per modality {modalities}, got '
                             f'{sorted(modules)}.')
        params, owner = {}, {}
        for name in modalities:
            params[name] = []
            if isinstance(modules[name], str) or not all(
                    isinstance(path, str) for path in modules[name]):
                raise ValueError(f"OGMGEHook: encoder_modules['{name}'] "
                                 'must be a list of module names, got '
                                 f'{modules[name]!r}.')
            for path in modules[name]:
                try:
                    module = model.get_submodule(path)
                except AttributeError as error:
                    raise ValueError(f"OGMGEHook: the model has no module "
                                     f"'{path}' (encoder_modules of "
                                     f"'{name}').") from error
                for param in module.parameters():
                    if id(param) in owner:
                        raise ValueError(
                            f"OGMGEHook: a parameter of '{path}' is also in "
                            f"the encoder of '{owner[id(param)]}'.")
                    owner[id(param)] = name
                    params[name].append(param)
        return params

    def before_train(self, runner) -> None:
        """Give the head its score sums; hook the optimizer's step."""
        if isinstance(runner.train_loop, IterBasedTrainLoop) and (
                self.begin_epoch != 1 or self.end_epoch is not None):
            raise ValueError('OGMGEHook: begin_epoch and end_epoch need '
                             'epoch-based training (by_epoch=True).')
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        head = getattr(model, 'fusion_head', None)
        if not isinstance(head, BaseAVHead):
            raise ValueError('OGMGEHook needs a model with a BaseAVHead as '
                             f'fusion_head; {type(model).__name__} has '
                             f'{type(head).__name__}.')
        if not isinstance(runner.optim_wrapper, OptimWrapper):
            raise ValueError('OGMGEHook needs one OptimWrapper, got '
                             f'{type(runner.optim_wrapper).__name__}.')
        self._params = self._encoder_parameters(model, head.modalities)
        head.ogm_scores = OGMScores(len(head.modalities))
        self._head = head
        self._runner = runner
        self._handle = runner.optim_wrapper.optimizer.register_step_pre_hook(
            self._before_optimizer_step)

    def after_train(self, runner) -> None:
        """Unhook the optimizer and the head."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        if self._head is not None:
            self._head.ogm_scores = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Clear the scores once the optimizer step (done or skipped on
        overflow) ended the accumulation."""
        if runner.optim_wrapper.should_update():
            self._head.ogm_scores.reset()

    def _active(self) -> bool:
        epoch = self._runner.epoch + 1
        return self.begin_epoch <= epoch and (self.end_epoch is None
                                              or epoch <= self.end_epoch)

    def _before_optimizer_step(self, optimizer, args, kwargs) -> None:
        """Modulate the encoders' gradients of this step (pre-hook)."""
        if not self._active():
            return
        modalities = self._head.modalities
        device = next(p.device for params in self._params.values()
                      for p in params)
        sums = self._head.ogm_scores.reduced(device)
        if sums[-1] == 0:
            return
        ratios = discrepancy_ratios(sums[:-1])
        coefficients = modulation_coefficients(ratios, self.alpha)
        generator = None
        if self.noise:
            generator = torch.Generator(device=device)
            generator.manual_seed(self.seed + self.num_steps)
        coefficients, ratios = coefficients.tolist(), ratios.tolist()
        for name, coefficient in zip(modalities, coefficients):
            for param in self._params[name]:
                if param.grad is not None:
                    modulate_gradient_(param.grad, coefficient, generator)
        self.num_steps += 1
        hub = self._runner.message_hub
        prefix = f'train/{OGM_SCALAR_PREFIX}'
        for name, coefficient, ratio in zip(modalities, coefficients, ratios):
            hub.update_scalar(f'{prefix}coef_{name}', coefficient)
            hub.update_scalar(f'{prefix}ratio_{name}', ratio)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Save the number of modulated steps (the noise's seed offset)."""
        checkpoint.setdefault('meta', {})[STEPS_META_KEY] = self.num_steps

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Continue the noise's seeds where the checkpoint left them."""
        self.num_steps = checkpoint.get('meta', {}).get(STEPS_META_KEY, 0)
