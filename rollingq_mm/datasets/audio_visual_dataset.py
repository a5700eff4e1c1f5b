"""Audio-visual clip dataset (video / frames / image + audio, one label)."""
import logging
import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS
from mmengine.logging import print_log

from .annotation_formats import (ANN_FORMATS, AnnotationRecord,
                                 iter_annotation_lines, parse_annotation_line,
                                 visual_kind)
from .class_names import CREMAD_CLASSES, build_class_lookup, resolve_classes
from ..keys import CLIP_ID_KEY
from .errors import (AnnotationError, InvalidSampleError,
                     MissingClassListError)

_MAX_LISTED_PROBLEMS = 5


@DATASETS.register_module()
class AudioVisualDataset(BaseActionDataset):
    """Clips with a visual part, an audio part and a single label.

    Used for the Kinetics-Sounds and CREMA-D recipes of RollingQ (Ni et al.,
    "RollingQ: Reviving the Cooperation Dynamics in Multimodal Transformer",
    ICML 2025, arXiv:2506.11465). The annotation formats are described in
    :mod:`rollingq_mm.datasets.annotation_formats` and
    ``docs/data_preparation.md``.

    Each sample's info dict holds one of ``filename`` (video file),
    ``frame_dir`` (folder of frames) or ``img_path`` (still image), chosen by
    the visual path's suffix; ``audio_path`` (audio file, container or
    ``.npy`` feature; None for the audio track of ``filename``); ``label``
    (int); ``clip_id``; and ``sample_idx`` (added by MMEngine).

    Every line is validated when the dataset is built: a malformed line, an
    unknown class name or a label outside ``[0, num_classes)`` raises
    :class:`~rollingq_mm.datasets.AnnotationError` naming ``file:line``, and
    so does a missing media file when ``check_files=True``.

    With ``skip_invalid=True`` (training only) such lines are skipped
    instead, and so are samples whose media fail to decode at load time
    (:class:`~rollingq_mm.datasets.InvalidSampleError`, after which MMEngine
    fetches another index); both are counted and reported with a warning.

    Args:
        ann_file (str): The annotation file.
        pipeline (list[dict | callable]): Data transforms.
        data_prefix (dict): Folders that the ``video`` and ``audio`` paths
            are relative to. Defaults to ``dict(video='', audio='')``.
        ann_format (str): ``'generic'``, ``'ogm_ge_ks'``, ``'space_list'`` or
            ``'cremad'``. Defaults to ``'generic'``.
        visual_template (str): Clip id to visual path, for the id-based
            formats (``'{}'``: a frame folder named like the clip,
            ``'{}.mp4'``: a video). Defaults to ``'{}'``.
        audio_template (str, optional): Clip id to audio path for the
            id-based formats (``'{}.wav'``, ``'{}.npy'``); None takes the
            audio track of the visual video. Defaults to ``'{}.wav'``.
        num_classes (int, optional): Number of classes, to check integer
            labels when no class list is given. Defaults to None (from
            ``metainfo['classes']`` if given; ``'cremad'`` defaults to the 6
            CREMA-D emotions).
        check_files (bool): Check at build time that every referenced file
            or folder exists. Defaults to True.
        skip_invalid (bool): Skip, count and report invalid lines and
            undecodable samples instead of raising; not allowed with
            ``test_mode=True``. Defaults to False.
        **kwargs: Passed to :class:`mmaction.datasets.BaseActionDataset`
            (``metainfo=dict(classes=...)`` takes a list of names, a list
            file, or a shipped list name such as ``'kinetics_sounds_31'``).
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[dict, Callable]],
                 data_prefix: dict = dict(video='', audio=''),
                 ann_format: str = 'generic',
                 visual_template: str = '{}',
                 audio_template: Optional[str] = '{}.wav',
                 num_classes: Optional[int] = None,
                 check_files: bool = True,
                 skip_invalid: bool = False,
                 **kwargs) -> None:
        if ann_format not in ANN_FORMATS:
            raise ValueError(
                f'ann_format must be one of {ANN_FORMATS}, got {ann_format!r}')
        if skip_invalid and kwargs.get('test_mode', False):
            raise ValueError(
                'skip_invalid=True is for training only: an evaluation must '
                'see every sample of its split')
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        if 'classes' in metainfo:
            metainfo['classes'] = resolve_classes(metainfo['classes'])
        elif ann_format == 'cremad':
            metainfo['classes'] = CREMAD_CLASSES
        classes = metainfo.get('classes')
        if classes is not None and num_classes is not None \
                and num_classes != len(classes):
            raise ValueError(
                f'num_classes={num_classes} disagrees with the '
                f'{len(classes)} class names')
        self.ann_format = ann_format
        self.visual_template = visual_template
        self.audio_template = audio_template
        self.check_files = check_files
        self.skip_invalid = skip_invalid
        self.invalid_lines: List[str] = []
        self.num_skipped_samples = 0
        super().__init__(
            ann_file,
            pipeline=pipeline,
            data_prefix=data_prefix,
            num_classes=len(classes) if classes is not None else num_classes,
            metainfo=metainfo,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Parse and validate the annotation file.

        Returns:
            list[dict]: One info dict per valid clip.
        """
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'annotation file not found: {self.ann_file} (the dataset '
                "config's ann_file; docs/data_preparation.md says how to "
                'prepare Kinetics-Sounds, CREMA-D or your own clips)')
        classes: Sequence[str] = self.metainfo.get('classes') or ()
        class_lookup = build_class_lookup(classes)
        data_list = []
        for line_no, text in iter_annotation_lines(self.ann_file):
            where = f'{self.ann_file}:{line_no}'
            try:
                record = parse_annotation_line(
                    text, self.ann_format, where, class_lookup,
                    num_classes=self.num_classes,
                    visual_template=self.visual_template,
                    audio_template=self.audio_template)
                data_list.append(self._to_data_info(record, where))
            except MissingClassListError as err:
                raise MissingClassListError(
                    f'{err}: set metainfo=dict(classes=...) in the dataset '
                    'config (a file, a shipped list or the names)') from err
            except AnnotationError as err:
                if not self.skip_invalid:
                    raise
                self.invalid_lines.append(str(err))
        if self.invalid_lines:
            listed = '\n  '.join(self.invalid_lines[:_MAX_LISTED_PROBLEMS])
            print_log(
                f'AudioVisualDataset skipped {len(self.invalid_lines)} '
                f'invalid line(s) of {self.ann_file} (kept {len(data_list)}); '
                f'first ones:\n  {listed}',
                logger='current', level=logging.WARNING)
        if not data_list:
            raise AnnotationError(
                f'{self.ann_file}: no valid clip in the annotation file')
        return data_list

    def _to_data_info(self, record: AnnotationRecord, where: str) -> dict:
        """Join the prefixes, pick the visual key, check the files."""
        visual_key = visual_kind(record.visual)
        visual = osp.join(self.data_prefix.get('video', ''), record.visual)
        audio = None if record.audio is None else osp.join(
            self.data_prefix.get('audio', ''), record.audio)
        if record.audio is None and visual_key != 'filename':
            raise AnnotationError(
                f'{where}: no audio file is given, so the visual part must be '
                f'a video file with an audio track, not a {visual_key}: '
                f'{visual}')
        if self.check_files:
            visual_exists = osp.isdir(visual) if visual_key == 'frame_dir' \
                else osp.isfile(visual)
            if not visual_exists:
                raise AnnotationError(f'{where}: {visual_key} not found: '
                                      f'{visual}')
            if audio is not None and not osp.isfile(audio):
                raise AnnotationError(f'{where}: audio file not found: '
                                      f'{audio}')
        return {visual_key: visual, 'audio_path': audio,
                'label': record.label, CLIP_ID_KEY: record.clip_id}

    def prepare_data(self, idx: int) -> Optional[dict]:
        """Run the pipeline on sample ``idx``.

        With ``skip_invalid=True`` an :class:`InvalidSampleError` is counted,
        reported and turned into None, so MMEngine fetches another index.

        Args:
            idx (int): The sample index.

        Returns:
            dict, optional: The pipeline output, or None for a skipped
            sample.
        """
        try:
            return super().prepare_data(idx)
        except InvalidSampleError as err:
            if not self.skip_invalid:
                raise
            self.num_skipped_samples += 1
            print_log(
                f'AudioVisualDataset skipped sample {idx}: {err} '
                f'({self.num_skipped_samples} skipped so far in this '
                'process)',
                logger='current', level=logging.WARNING)
            return None
