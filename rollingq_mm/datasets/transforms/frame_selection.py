"""Pure frame-selection rules: 1-fps candidates, segments, random draws.

Both the on-the-fly sampler (:class:`SampleSegmentFrames`) and the frame
extraction of the preparation tools use these, so frames sampled from a
video at 1 fps are the ones the tools would have written.
"""
from typing import Optional

import numpy as np


def one_fps_indices(frame_times: np.ndarray, fps: float = 1.0) -> np.ndarray:
    """Indices of the frames shown at the centre of each ``1 / fps`` slot.

    The slot centres are ``(k + 0.5) / fps`` for every ``k`` whose centre
    lies before the end of the video (its last frame time plus one typical
    frame duration), and at least one slot. Each centre takes the frame on
    screen at that time: the last frame whose timestamp is not after it.
    Works for variable frame rates, as it only uses the timestamps.

    Args:
        frame_times (np.ndarray): Presentation times in seconds, sorted,
            starting at 0, shape (num_frames,).
        fps (float): Slots per second. Defaults to 1.0.

    Returns:
        np.ndarray: int64 frame indices, one per slot (repeats when the
        video has fewer frames than slots).
    """
    if fps <= 0:
        raise ValueError(f'fps must be positive, got {fps}')
    frame_times = np.asarray(frame_times, dtype=np.float64)
    if frame_times.size == 0:
        raise ValueError('no frames to select from')
    step = float(np.median(np.diff(frame_times))) if frame_times.size > 1 \
        else 0.0
    duration = frame_times[-1] + step
    num_slots = max(1, int(np.ceil(duration * fps - 0.5)))
    centres = (np.arange(num_slots) + 0.5) / fps
    indices = np.searchsorted(frame_times, centres, side='right') - 1
    return np.clip(indices, 0, frame_times.size - 1).astype(np.int64)


def segment_positions(num_candidates: int,
                      num_segments: int,
                      test_mode: bool,
                      rng: Optional[np.random.RandomState] = None
                      ) -> np.ndarray:
    """Pick one position in each of ``num_segments`` equal segments.

    Segment ``i`` covers positions ``[floor(i K / N), floor((i+1) K / N))``
    (at least one position, so segments repeat when ``K < N``). Training
    takes a uniformly random position in each segment, testing the centre
    (``start + (length - 1) // 2``).

    Args:
        num_candidates (int): ``K``, the number of candidate frames.
        num_segments (int): ``N``, the number of segments.
        test_mode (bool): Centres instead of random positions.
        rng (np.random.RandomState, optional): Random source; None uses
            ``np.random`` (seeded per DataLoader worker by MMEngine).
            Defaults to None.

    Returns:
        np.ndarray: int64 positions in ``[0, K)``, shape (N,).
    """
    if num_candidates <= 0 or num_segments <= 0:
        raise ValueError('num_candidates and num_segments must be positive, '
                         f'got {num_candidates} and {num_segments}')
    edges = np.arange(num_segments + 1) * num_candidates // num_segments
    starts = edges[:-1]
    lengths = np.maximum(edges[1:] - starts, 1)
    starts = np.minimum(starts, num_candidates - 1)
    if test_mode:
        return (starts + (lengths - 1) // 2).astype(np.int64)
    rng = np.random if rng is None else rng
    return (starts + rng.randint(0, lengths)).astype(np.int64)


def random_positions(num_candidates: int,
                     num_samples: int,
                     rng: Optional[np.random.RandomState] = None
                     ) -> np.ndarray:
    """Draw positions uniformly at random with replacement, in time order.

    The CREMA-D training frames of the RollingQ release: any candidate may
    be drawn, repeats included, so a clip of ``K <= N`` frames does not
    always give the same frames (as ``N`` segments do). Sorted, so the
    frames stay in time order as with segments.

    Args:
        num_candidates (int): ``K``, the number of candidate frames.
        num_samples (int): ``N``, the number of draws.
        rng (np.random.RandomState, optional): Random source; None uses
            ``np.random``. Defaults to None.

    Returns:
        np.ndarray: int64 positions in ``[0, K)``, sorted, shape (N,).
    """
    if num_candidates <= 0 or num_samples <= 0:
        raise ValueError('num_candidates and num_samples must be positive, '
                         f'got {num_candidates} and {num_samples}')
    rng = np.random if rng is None else rng
    return np.sort(rng.randint(0, num_candidates, size=num_samples)).astype(
        np.int64)
