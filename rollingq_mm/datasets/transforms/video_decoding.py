"""Decode selected RGB frames of a video with PyAV.

Two passes over the file: the first only demuxes the video packets to get
every frame's presentation time (cheap, no decoding; works for variable
frame rates), the second decodes frames in order up to the last wanted one
and converts only the wanted ones to RGB.

Rotation: phones store portrait or upside-down video as landscape frames
plus a display matrix. With ``apply_rotation=True`` every frame is turned by
the matrix's angle (counter-clockwise, as PyAV's ``VideoFrame.rotation``
reports it), so frames look as a player shows them; ``original_shape`` is
then the rotated shape. Only multiples of 90 degrees are supported. This
needs PyAV >= 14 (``VideoFrame.rotation``).
"""
from typing import List, Sequence

import av
import numpy as np

from ..errors import InvalidSampleError


def rotate_upright(image: np.ndarray, rotation: float) -> np.ndarray:
    """Turn a frame counter-clockwise by its display-matrix angle.

    Args:
        image (np.ndarray): The frame, shape (H, W, 3).
        rotation (float): Counter-clockwise angle in degrees, a multiple of
            90 (PyAV's ``VideoFrame.rotation``).

    Returns:
        np.ndarray: The upright frame (contiguous).
    """
    quarter_turns = int(round(rotation / 90.0))
    if abs(quarter_turns * 90 - rotation) > 1e-3:
        raise ValueError(f'only rotations by multiples of 90 degrees are '
                         f'supported, got {rotation}')
    if quarter_turns % 4 == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=quarter_turns % 4))


def _open_video(path: str) -> av.container.InputContainer:
    try:
        container = av.open(path)
    except FileNotFoundError:
        raise InvalidSampleError(f'video file not found: {path}') from None
    except ValueError as err:
        raise InvalidSampleError(
            f'cannot open video file {path}: {err}') from None
    if not container.streams.video:
        container.close()
        raise InvalidSampleError(f'{path} has no video stream')
    return container


def probe_frame_times(path: str) -> np.ndarray:
    """Presentation times of every video frame, from the packets.

    Args:
        path (str): The video file.

    Returns:
        np.ndarray: float64 seconds, sorted, relative to the first frame,
        shape (num_frames,).

    Raises:
        InvalidSampleError: For a missing/unreadable file, no video stream or
            no frame.
    """
    container = _open_video(path)
    with container:
        stream = container.streams.video[0]
        stamps = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                stamp = packet.pts if packet.pts is not None else packet.dts
                stamps.append(stamp)
        except ValueError as err:
            raise InvalidSampleError(
                f'cannot read the video packets of {path}: {err}') from None
        time_base = stream.time_base
        rate = stream.average_rate or stream.guessed_rate
    if not stamps:
        raise InvalidSampleError(f'the video stream of {path} has no frame')
    if any(stamp is None for stamp in stamps):
        if not rate:
            raise InvalidSampleError(
                f'{path}: video packets carry no timestamps and the stream '
                'has no frame rate')
        return np.arange(len(stamps), dtype=np.float64) / float(rate)
    times = np.sort(np.asarray(stamps, dtype=np.float64)) * float(time_base)
    return times - times[0]


def decode_frames(path: str,
                  indices: Sequence[int],
                  apply_rotation: bool = True) -> List[np.ndarray]:
    """Decode the frames at the given (0-based, decode-order) indices.

    Args:
        path (str): The video file.
        indices (Sequence[int]): Frame indices; repeats are allowed.
        apply_rotation (bool): Turn frames upright by the display matrix.
            Defaults to True.

    Returns:
        list[np.ndarray]: RGB uint8 frames (H, W, 3), in the order of
        ``indices``.

    Raises:
        InvalidSampleError: If the file cannot be decoded or has fewer
            frames than an index asks for.
    """
    wanted = set(int(i) for i in indices)
    last = max(wanted)
    decoded = {}
    container = _open_video(path)
    with container:
        stream = container.streams.video[0]
        count = 0
        try:
            for frame in container.decode(stream):
                if count in wanted:
                    image = frame.to_ndarray(format='rgb24')
                    if apply_rotation and frame.rotation:
                        image = rotate_upright(image, frame.rotation)
                    decoded[count] = image
                count += 1
                if count > last:
                    break
        except ValueError as err:
            raise InvalidSampleError(
                f'cannot decode the video of {path}: {err}') from None
    if last not in decoded:
        raise InvalidSampleError(
            f'{path}: decoded only {count} frames, frame {last} was asked '
            'for (truncated or corrupt video?)')
    return [decoded[int(i)] for i in indices]
