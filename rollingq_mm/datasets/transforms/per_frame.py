"""``PerFrame``: run image transforms on each frame of a clip separately."""
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

#: Clip-level geometry that per-frame transforms would leave inconsistent.
UNSUPPORTED_KEYS = ('keypoint', 'gt_bboxes', 'proposals', 'lazy')
#: The key holding what the wrapped transforms set for each frame.
PER_FRAME_INFO = 'per_frame_info'
#: Keys rebuilt at the clip level from the frames.
_CLIP_KEYS = ('imgs', 'img_shape', PER_FRAME_INFO)


@TRANSFORMS.register_module()
class PerFrame(BaseTransform):
    """Apply image transforms to every frame of a clip independently.

    mmaction2's ``RandomResizedCrop`` and ``Flip`` draw one crop and one flip
    per clip. The release of RollingQ (Ni et al., ICML 2025,
    arXiv:2506.11465) draws them for each of a clip's frames; wrapping the
    transforms gives that::

        dict(type='PerFrame', transforms=[
            dict(type='RandomResizedCrop'),
            dict(type='Resize', scale=(224, 224), keep_ratio=False),
            dict(type='Flip', flip_ratio=0.5)])

    A wrapper rather than a ``per_frame`` option of one crop or flip: it
    reuses mmaction2's transforms unchanged and works for any image
    transform (``ColorJitter``, ``CenterCrop``, ...).

    Each frame of ``imgs``, in order, goes through the transforms in a copy
    of ``results`` holding only that frame: ``imgs`` is ``[frame]`` (a copy:
    ``Flip`` flips in place and frames may share memory), ``img_shape`` and
    ``original_shape`` its (H, W), plus what earlier ``PerFrame`` transforms
    recorded for it. The draws use the global random streams, as the wrapped
    transforms do (frame 1 draws after frame 0), so per-sample seeding
    (:class:`~rollingq_mm.utils.SampleSeededPipeline`) keeps them
    reproducible, and a one-frame clip gets exactly the wrapped transforms'
    result.

    Modified keys: ``imgs`` (the frames, in order), ``img_shape`` (their
    common (H, W)) and ``per_frame_info``: one dict per frame of the keys the
    transforms added or changed for it, other than ``imgs`` and
    ``img_shape`` (e.g. ``crop_bbox``, ``crop_quadruple``, ``scale_factor``,
    ``flip``, ``flip_direction``). Those keys have one value per frame, so
    they are removed from the clip level.

    Args:
        transforms (Sequence[dict | callable]): Transform configs (built in
            mmaction2's ``TRANSFORMS``) or transforms. Their outputs must
            have the same shape for every frame: end with a fixed-size
            ``Resize`` when the crop is random.

    Raises:
        ValueError: At call time, when the frames come out with different
            shapes or a transform does not return exactly one frame (the
            message names the transforms), or when ``results`` holds
            clip-level geometry (``keypoint``, ``gt_bboxes``, ``proposals``,
            a lazy ``lazy`` record).
    """

    def __init__(self, transforms: Sequence[Union[dict, Callable]]) -> None:
        if not transforms:
            raise ValueError('PerFrame needs at least one transform')
        self.transforms: List[Callable] = []
        for transform in transforms:
            if isinstance(transform, dict):
                transform = TRANSFORMS.build(transform)
            if not callable(transform):
                raise TypeError('PerFrame transforms must be configs or '
                                f'callables, got {type(transform)}')
            self.transforms.append(transform)

    def _one_frame(self, results: dict, frame: np.ndarray, info: dict
                   ) -> Optional[Tuple[np.ndarray, dict]]:
        """One frame through the transforms: (frame, what they set).

        None when a transform drops the sample.
        """
        shape = frame.shape[:2]
        start = {
            key: value
            for key, value in results.items() if key not in _CLIP_KEYS
        }
        start.update(info)
        start.update(imgs=[np.array(frame)], img_shape=shape,
                     original_shape=shape)
        out = dict(start)
        for transform in self.transforms:
            out = transform(out)
            if out is None:
                return None
        if 'lazy' in out:
            raise ValueError(f'{self!r}: lazy transforms are not supported '
                             '(their frames are only cropped by a Fuse)')
        if len(out.get('imgs', ())) != 1:
            raise ValueError(
                f'{self!r} must return one frame for each frame, got '
                f'{len(out.get("imgs", ()))}')
        return out['imgs'][0], {
            key: value
            for key, value in out.items()
            if key not in _CLIP_KEYS and
            (key not in start or value is not start[key])
        }

    def transform(self, results: dict) -> Optional[dict]:
        """Transform each frame of a clip on its own.

        Args:
            results (dict): The pipeline results, with ``imgs``.

        Returns:
            dict | None: ``results`` with the transformed frames, or None
            when a wrapped transform drops the sample.
        """
        found = [key for key in UNSUPPORTED_KEYS if key in results]
        if found:
            raise ValueError(
                f'PerFrame cannot keep clip-level {found} consistent across '
                'frames: apply it to frames only, before any lazy transform')
        frames = results['imgs']
        if len(frames) == 0:
            raise ValueError('PerFrame got a clip without frames')
        infos = results.get(PER_FRAME_INFO) or [{} for _ in frames]
        if len(infos) != len(frames):
            raise ValueError(
                f'{PER_FRAME_INFO} has {len(infos)} entries for '
                f'{len(frames)} frames')
        outputs, changed = [], []
        for frame, info in zip(frames, infos):
            done = self._one_frame(results, frame, info)
            if done is None:
                return None
            outputs.append(done[0])
            changed.append({**info, **done[1]})
        shapes = [img.shape for img in outputs]
        if len(set(shapes)) > 1:
            raise ValueError(
                f'{self!r} gave frames of different shapes {shapes}: end '
                "the transforms with a fixed-size Resize, e.g. dict(type="
                "'Resize', scale=(224, 224), keep_ratio=False)")
        for key in set().union(*changed):
            results.pop(key, None)
        results['imgs'] = outputs
        results['img_shape'] = shapes[0][:2]
        results[PER_FRAME_INFO] = changed
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(transforms={self.transforms!r})'
