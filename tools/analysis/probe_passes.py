"""Noise probe: evaluate a trained model while its inputs are corrupted.

RollingQ (Ni et al., "RollingQ: Reviving the Cooperation Dynamics in
Multimodal Transformer", ICML 2025, https://arxiv.org/abs/2506.11465) shows
that a healthy fusion attends to each modality according to that sample's
quality, and degrades gracefully when a modality gets noisy. The probe
measures both on the test split of any config of this project:

* one clean pass, then for each corrupted modality m and each level l > 0
  a pass with Gaussian noise of std ``l`` times the sample's own std of m's
  input (:class:`AddGaussianNoise`, seeded per sample);
* one correlation pass in which every sample gets its own random level on
  every probed modality (:class:`AddRandomLevelNoise`, uniform in
  ``[0, random_max_level]``).

The noise goes into the test pipeline right before the first formatting
step (``Format*`` / ``Pack*``), i.e. after the spatial transforms and the
audio features, on the modality's input key
(``model.modalities.<m>.input_key``). The Runner and its model are built
once; each pass gets its own dataloader and a :class:`ProbeRecorder` that
keeps one record per sample, gathered to rank 0 by MMEngine's evaluator
(``collect_results``) in distributed runs.
"""
import copy
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.logging import print_log
from mmengine.runner import Runner, TestLoop

from rollingq_mm.keys import ATTN_SHARE_KEY, NOISE_LEVEL_KEY

from probe_summary import CLEAN, RANDOM, setting_summary

RECORD_META_KEYS = ('sample_idx', NOISE_LEVEL_KEY)
FORMAT_PREFIXES = ('Format', 'Pack')


@dataclass(frozen=True)
class NoiseSetting:
    """One evaluation pass of the probe.

    Attributes:
        name (str): ``'clean'``, ``'<modality>@<level>'`` or ``'random'``.
        corrupted (str): ``'none'``, the corrupted modality, or ``'all'``
            (the random pass corrupts every probed modality).
        level (float): The fixed level; NaN for the random pass.
        max_level (float, optional): Upper end of the random levels.
    """
    name: str
    corrupted: str
    level: float
    max_level: Optional[float] = None


def probe_settings(modalities: Sequence[str], levels: Sequence[float],
                   random_max_level: Optional[float]) -> List[NoiseSetting]:
    """The passes of a probe: clean, each modality at each level > 0, random.

    Args:
        modalities (Sequence[str]): Modalities to corrupt.
        levels (Sequence[float]): Noise levels (0 is the clean pass).
        random_max_level (float, optional): Upper end of the random levels
            of the correlation pass; None skips that pass.

    Returns:
        list[NoiseSetting]: The passes in running order.
    """
    settings = [NoiseSetting(CLEAN, 'none', 0.0)]
    for name in modalities:
        settings += [
            NoiseSetting(f'{name}@{level:g}', name, float(level))
            for level in levels if level > 0
        ]
    if random_max_level is not None:
        settings.append(
            NoiseSetting(RANDOM, 'all', math.nan, float(random_max_level)))
    return settings


def modality_input_keys(model_cfg: Mapping) -> Dict[str, str]:
    """Modality name -> input key, from ``model.modalities`` of a config.

    Args:
        model_cfg (Mapping): The config's ``model``.

    Returns:
        dict: e.g. ``{'audio': 'audios', 'visual': 'imgs'}``, in the
        model's modality order.

    Raises:
        KeyError: naming the missing ``model.modalities.<m>.input_key``.
    """
    modalities = model_cfg.get('modalities')
    if not isinstance(modalities, Mapping) or not modalities:
        raise KeyError('the noise probe needs model.modalities (name -> '
                       'dict(input_key=...)) in the config, as '
                       'AudioVisualRecognizer takes it')
    keys = {}
    for name, spec in modalities.items():
        if 'input_key' not in spec:
            raise KeyError(f'model.modalities.{name}.input_key is missing')
        keys[name] = spec['input_key']
    return keys


def check_probe_args(input_keys: Mapping[str, str],
                     modalities: Sequence[str], levels: Sequence[float],
                     random_max_level: Optional[float]) -> None:
    """Refuse bad probe arguments with a message naming the bad value.

    Args:
        input_keys (Mapping[str, str]): From :func:`modality_input_keys`.
        modalities (Sequence[str]): Modalities to corrupt.
        levels (Sequence[float]): Noise levels.
        random_max_level (float, optional): Upper end of random levels.

    Raises:
        ValueError: unknown or repeated modality, no/negative/repeated/
            non-finite level, or a random level range that is not > 0.
    """
    unknown = [m for m in modalities if m not in input_keys]
    if unknown or not modalities:
        raise ValueError(
            f'unknown modalities {unknown} (or none given): the model has '
            f'{list(input_keys)} (model.modalities)')
    if len(set(modalities)) != len(modalities):
        raise ValueError(f'modalities repeat: {list(modalities)}')
    if not levels:
        raise ValueError('give at least one noise level')
    bad = [x for x in levels if not math.isfinite(x) or x < 0]
    if bad:
        raise ValueError(f'noise levels must be finite and >= 0, got {bad}')
    if len(set(levels)) != len(levels):
        raise ValueError(f'noise levels repeat: {list(levels)}')
    if random_max_level is not None and not (
            math.isfinite(random_max_level) and random_max_level > 0):
        raise ValueError('the maximum random noise level must be finite and '
                         f'> 0, got {random_max_level}')


def corrupt_pipeline(pipeline: Sequence[dict],
                     corruptions: Sequence[dict]) -> List[dict]:
    """A test pipeline with corruptions before its first formatting step.

    The corruption transforms go right before the first step whose type
    starts with ``Format`` or ``Pack`` (after crops, resizes and audio
    features), and ``PackActionInputs`` keeps ``sample_idx`` and the
    recorded noise levels in each sample's metainfo.

    Args:
        pipeline (Sequence[dict]): The test pipeline configs.
        corruptions (Sequence[dict]): Transform configs to insert.

    Returns:
        list[dict]: A new pipeline (the input is not modified).

    Raises:
        ValueError: the pipeline has no formatting step or no
            ``PackActionInputs``.
    """
    steps = [copy.deepcopy(dict(step)) for step in pipeline]
    names = [getattr(s.get('type'), '__name__', s.get('type')) for s in steps]
    position = next((i for i, name in enumerate(names)
                     if str(name).startswith(FORMAT_PREFIXES)), None)
    packers = [s for s, name in zip(steps, names)
               if name in ('PackActionInputs', 'mmaction.PackActionInputs')]
    if position is None or not packers:
        raise ValueError(
            'test_dataloader.dataset.pipeline needs a formatting step '
            '(FormatShape / FormatAudioShape) and PackActionInputs to place '
            f'the noise before; got {names}')
    for packer in packers:
        meta_keys = tuple(packer.get(
            'meta_keys', ('img_shape', 'img_key', 'video_id', 'timestamp')))
        packer['meta_keys'] = meta_keys + tuple(
            k for k in RECORD_META_KEYS if k not in meta_keys)
    return steps[:position] + [dict(c) for c in corruptions] + steps[position:]


def setting_corruptions(setting: NoiseSetting, input_keys: Mapping[str, str],
                        modalities: Sequence[str], seed: int) -> List[dict]:
    """The corruption transforms of one pass.

    Args:
        setting (NoiseSetting): The pass.
        input_keys (Mapping[str, str]): Modality -> input key.
        modalities (Sequence[str]): Modalities the random pass corrupts.
        seed (int): Noise seed.

    Returns:
        list[dict]: Transform configs (empty for the clean pass).
    """
    if setting.corrupted == 'none':
        return []
    if setting.name == RANDOM:
        return [
            dict(type='AddRandomLevelNoise', key=input_keys[m],
                 max_level=setting.max_level, seed=seed,
                 level_key=NOISE_LEVEL_KEY)
            for m in modalities
        ]
    return [dict(type='AddGaussianNoise', key=input_keys[setting.corrupted],
                 level=setting.level, seed=seed)]


class ProbeRecorder(BaseMetric):
    """Keep one record per test sample of a noise-probe pass.

    A record holds the pass (``setting``, ``corrupted``, ``level``),
    ``sample_idx``, ``label``, ``pred_<key>`` (argmax of the ``fused``
    scores and of each modality's probe scores in ``pred_score``; other
    score sets, e.g. the recognizer's ablation ones, are left out),
    ``attn_<m>`` (from ``attn_share``, when the head has
    attention) and ``level_<m>`` (noise level applied to m). After
    :meth:`evaluate`, rank 0 holds all records of the split in
    :attr:`records`; the returned metrics are the pass's
    :func:`setting_summary` (top-1 per score set, mean attention).

    Args:
        setting (NoiseSetting): The pass being recorded.
        input_keys (Mapping[str, str]): Modality -> input key, in the head's
            modality order.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
    """

    default_prefix: Optional[str] = 'probe'

    def __init__(self, setting: NoiseSetting, input_keys: Mapping[str, str],
                 collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device)
        self.setting = setting
        self.input_keys = dict(input_keys)
        self.records: List[dict] = []

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Turn each predicted sample into a record.

        Args:
            data_batch (Any): The batch (unused).
            data_samples (Sequence[dict]): Predicted samples as dicts.
        """
        for sample in data_samples:
            self.results.append(self._record(sample))

    def _record(self, sample: dict) -> dict:
        """The record of one predicted sample."""
        if 'sample_idx' not in sample:
            raise KeyError('ProbeRecorder: a sample has no sample_idx; the '
                           'test dataset must set it (MMEngine datasets do)')
        record = dict(setting=self.setting.name,
                      corrupted=self.setting.corrupted,
                      level=self.setting.level,
                      sample_idx=int(sample['sample_idx']),
                      label=int(torch.as_tensor(
                          sample['gt_label']).reshape(-1)[0]))
        scores = sample['pred_score']
        if not isinstance(scores, dict):
            scores = dict(fused=scores)
        for key in ['fused', *self.input_keys]:
            if key in scores:
                record[f'pred_{key}'] = int(
                    torch.as_tensor(scores[key]).argmax())
        if ATTN_SHARE_KEY in sample:
            share = torch.as_tensor(sample[ATTN_SHARE_KEY]).float().reshape(-1)
            for index, name in enumerate(self.input_keys):
                record[f'attn_{name}'] = float(share[index])
        drawn = sample.get(NOISE_LEVEL_KEY) or {}
        for name, key in self.input_keys.items():
            if self.setting.name == RANDOM:
                level = float(drawn.get(key, 0.0))
            elif name == self.setting.corrupted:
                level = self.setting.level
            else:
                level = 0.0
            record[f'level_{name}'] = level
        return record

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Keep the gathered records (rank 0) and summarise the pass.

        Args:
            results (list[dict]): The records of every rank.

        Returns:
            dict: :func:`setting_summary` of the pass.
        """
        self.records = sorted(results, key=lambda r: r['sample_idx'])
        return setting_summary(self.records, list(self.input_keys))


def run_noise_probe(runner: Runner,
                    modalities: Sequence[str],
                    levels: Sequence[float] = (0.0, 0.25, 0.5, 1.0),
                    seed: int = 0,
                    random_max_level: Optional[float] = 1.0) -> List[dict]:
    """Evaluate the runner's model on its test split under every setting.

    The checkpoint named by the runner's ``load_from`` is loaded once. The
    hooks see one run as in ``tools/test.py`` (``before_run``, then every
    pass's test hooks, then ``after_run``), so e.g. ``LoggerHook`` logs the
    progress and each pass's summary.

    Args:
        runner (Runner): A runner built from a project config with
            ``test_dataloader`` and ``load_from`` set.
        modalities (Sequence[str]): Modalities to corrupt.
        levels (Sequence[float]): Noise levels. Defaults to
            (0.0, 0.25, 0.5, 1.0).
        seed (int): Noise seed. Defaults to 0.
        random_max_level (float, optional): Upper end of the random levels
            of the correlation pass; None skips it. Defaults to 1.0.

    Returns:
        list[dict]: Every pass's records on rank 0 (see
        :class:`ProbeRecorder`); an empty list on other ranks.
    """
    cfg = runner.cfg
    input_keys = modality_input_keys(cfg.model)
    check_probe_args(input_keys, modalities, levels, random_max_level)
    settings = probe_settings(modalities, levels, random_max_level)
    runner.call_hook('before_run')
    runner.load_or_resume()
    records = []
    for index, setting in enumerate(settings, start=1):
        print_log(f'noise probe pass {index}/{len(settings)}: '
                  f'{setting.name}', logger='current')
        loader_cfg = copy.deepcopy(cfg.test_dataloader)
        dataset_cfg = loader_cfg['dataset']
        while 'pipeline' not in dataset_cfg and 'dataset' in dataset_cfg:
            dataset_cfg = dataset_cfg['dataset']
        if 'pipeline' not in dataset_cfg:
            raise KeyError('test_dataloader.dataset has no pipeline to add '
                           'the noise to')
        dataset_cfg['pipeline'] = corrupt_pipeline(
            dataset_cfg['pipeline'],
            setting_corruptions(setting, input_keys, modalities, seed))
        recorder = ProbeRecorder(setting, input_keys)
        loop = TestLoop(runner, loader_cfg, Evaluator([recorder]),
                        fp16=bool((cfg.get('test_cfg') or {}).get('fp16')))
        loop.run()
        records += recorder.records
    runner.call_hook('after_run')
    return records
