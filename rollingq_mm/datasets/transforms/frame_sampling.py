"""``SampleSegmentFrames``: N frames, one per segment, from any visual."""
import os.path as osp
from typing import Optional

import av
import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from .frame_folders import frame_folder_numbers, read_rgb_image
from .frame_selection import (one_fps_indices, random_positions,
                              segment_positions)
from .video_decoding import decode_frames, probe_frame_times

#: The training rules of :class:`SampleSegmentFrames`.
TRAIN_SAMPLINGS = ('segments', 'random_with_replacement')


@TRANSFORMS.register_module()
class SampleSegmentFrames(BaseTransform):
    """Sample one RGB frame in each of ``num_segments`` equal segments.

    The visual recipe of RollingQ (Ni et al., ICML 2025, arXiv:2506.11465):
    frames at 1 fps, 3 of them per clip, a random frame of each third of the
    clip in training and the centre frames in testing.

    Sources, by the key present in ``results``:

    - ``filename``: a video, decoded with PyAV (any container FFmpeg reads).
      Candidates are all decoded frames, or with ``fps`` set the frame shown
      at the centre of each ``1 / fps`` slot, chosen by timestamp, so
      variable frame rates are handled (see
      :func:`~rollingq_mm.datasets.transforms.frame_selection.one_fps_indices`;
      the preparation tools extract the same frames). The display matrix's
      rotation is applied (``apply_rotation``).
    - ``frame_dir``: a folder of frames named by ``filename_tmpl``; the
      numbering may start anywhere but must have no gap. The frames are used
      as they are (the preparation tools write 1-fps frames); ``fps`` does
      not apply.
    - ``img_path``: a still image, a 1-frame video (repeated N times).

    Segment ``i`` of ``K`` candidates covers ``[floor(i K / N),
    floor((i+1) K / N))``; with ``K < N`` segments repeat frames.

    ``train_sampling='random_with_replacement'`` is the release's CREMA-D
    training rule instead: ``N`` frames drawn uniformly at random with
    replacement from all ``K`` candidates, sorted into time order (see
    :func:`~rollingq_mm.datasets.transforms.frame_selection.random_positions`);
    clips of ``K <= N`` frames then vary between epochs. Testing always
    takes the segment centres: deterministic, so an evaluation does not
    depend on a draw (unlike the release's test frames).

    Added keys: ``imgs`` (list of N RGB uint8 (H, W, 3)), ``frame_inds``
    (int64 (N,): decoded-frame index for videos, the file's frame number for
    folders, 0 for an image), ``total_frames``, ``num_clips`` (1),
    ``clip_len`` (N), ``original_shape`` and ``img_shape`` ((H, W)).
    Failures raise :class:`~rollingq_mm.datasets.InvalidSampleError` naming
    the file.

    Args:
        num_segments (int): Frames per clip. Defaults to 3.
        test_mode (bool): Segment centres instead of random frames. Defaults
            to False.
        train_sampling (str): The training rule: ``'segments'`` (a random
            frame of each segment) or ``'random_with_replacement'``.
            Defaults to ``'segments'``.
        fps (float, optional): Candidate frame rate for videos; None uses
            every frame. Defaults to None.
        filename_tmpl (str): Frame file names in a folder. Defaults to
            ``'img_{:05d}.jpg'``.
        apply_rotation (bool): Turn video frames upright by their display
            matrix (needs PyAV >= 14). Defaults to True.
    """

    def __init__(self,
                 num_segments: int = 3,
                 test_mode: bool = False,
                 train_sampling: str = 'segments',
                 fps: Optional[float] = None,
                 filename_tmpl: str = 'img_{:05d}.jpg',
                 apply_rotation: bool = True) -> None:
        if num_segments <= 0:
            raise ValueError('num_segments must be positive, got '
                             f'{num_segments}')
        if train_sampling not in TRAIN_SAMPLINGS:
            raise ValueError(f'train_sampling must be one of '
                             f'{TRAIN_SAMPLINGS}, got {train_sampling!r}')
        if fps is not None and fps <= 0:
            raise ValueError(f'fps must be positive, got {fps}')
        if apply_rotation and not hasattr(av.VideoFrame, 'rotation'):
            raise RuntimeError(
                f'PyAV {av.__version__} does not expose the display-matrix '
                'rotation (VideoFrame.rotation, PyAV >= 14): upgrade PyAV or '
                'pass apply_rotation=False')
        self.num_segments = num_segments
        self.test_mode = test_mode
        self.train_sampling = train_sampling
        self.fps = fps
        self.filename_tmpl = filename_tmpl
        self.apply_rotation = apply_rotation

    def _positions(self, num_candidates: int) -> np.ndarray:
        """The positions of the sampled frames among the candidates."""
        if self.test_mode or self.train_sampling == 'segments':
            return segment_positions(num_candidates, self.num_segments,
                                     self.test_mode)
        return random_positions(num_candidates, self.num_segments)

    def _from_video(self, path: str):
        times = probe_frame_times(path)
        candidates = np.arange(times.size) if self.fps is None \
            else one_fps_indices(times, self.fps)
        positions = self._positions(candidates.size)
        inds = candidates[positions]
        return decode_frames(path, inds, self.apply_rotation), inds, \
            times.size

    def _from_folder(self, frame_dir: str):
        numbers = np.asarray(frame_folder_numbers(frame_dir,
                                                  self.filename_tmpl))
        positions = self._positions(numbers.size)
        inds = numbers[positions]
        cache = {}
        for number in set(inds.tolist()):
            cache[number] = read_rgb_image(
                osp.join(frame_dir, self.filename_tmpl.format(number)))
        return [cache[n] for n in inds.tolist()], inds, numbers.size

    def transform(self, results: dict) -> dict:
        """Sample the frames of one clip.

        Args:
            results (dict): The pipeline results.

        Returns:
            dict: ``results`` with the frames and their bookkeeping keys.
        """
        if results.get('filename') is not None:
            imgs, inds, total = self._from_video(results['filename'])
        elif results.get('frame_dir') is not None:
            imgs, inds, total = self._from_folder(results['frame_dir'])
        elif results.get('img_path') is not None:
            image = read_rgb_image(results['img_path'])
            imgs = [image] * self.num_segments
            inds, total = np.zeros(self.num_segments, dtype=np.int64), 1
        else:
            raise KeyError('SampleSegmentFrames needs one of the keys '
                           "'filename', 'frame_dir' or 'img_path'")
        results['imgs'] = [np.array(img) for img in imgs]
        results['frame_inds'] = np.asarray(inds, dtype=np.int64)
        results['total_frames'] = int(total)
        results['num_clips'] = 1
        results['clip_len'] = self.num_segments
        results['original_shape'] = imgs[0].shape[:2]
        results['img_shape'] = imgs[0].shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'num_segments={self.num_segments}, '
                f'test_mode={self.test_mode}, '
                f'train_sampling={self.train_sampling!r}, fps={self.fps}, '
                f'filename_tmpl={self.filename_tmpl!r}, '
                f'apply_rotation={self.apply_rotation})')
