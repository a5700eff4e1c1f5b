"""Frame folders (``img_00001.jpg``, ...) and still images."""
import os
import os.path as osp
import re
from string import Formatter
from typing import List, Pattern

import cv2
import numpy as np

from ..errors import InvalidSampleError


def template_pattern(filename_tmpl: str) -> Pattern:
    """A regex matching the file names of a one-field template.

    Args:
        filename_tmpl (str): E.g. ``'img_{:05d}.jpg'``; exactly one
            replacement field, for the frame number.

    Returns:
        re.Pattern: Full-match pattern whose group 1 is the number.
    """
    parts = list(Formatter().parse(filename_tmpl))
    fields = [field for _, field, _, _ in parts if field is not None]
    if len(fields) != 1:
        raise ValueError('filename_tmpl must have exactly one replacement '
                         f'field for the frame number, got {filename_tmpl!r}')
    regex = ''.join(
        re.escape(literal) + (r'(\d+)' if field is not None else '')
        for literal, field, _, _ in parts)
    return re.compile(regex)


def frame_folder_numbers(frame_dir: str, filename_tmpl: str) -> List[int]:
    """The frame numbers present in a folder, checked to be contiguous.

    The first number (0 or 1, or anything else) is taken from the folder, so
    no ``start_index`` needs configuring.

    Args:
        frame_dir (str): The folder.
        filename_tmpl (str): The frame file-name template.

    Returns:
        list[int]: Sorted frame numbers, without gaps.

    Raises:
        InvalidSampleError: For a missing folder, no matching frame, or a gap
            in the numbering (naming the first missing file).
    """
    if not osp.isdir(frame_dir):
        raise InvalidSampleError(f'frame folder not found: {frame_dir}')
    pattern = template_pattern(filename_tmpl)
    numbers = sorted(
        int(match.group(1)) for match in
        (pattern.fullmatch(entry) for entry in os.listdir(frame_dir))
        if match is not None)
    if not numbers:
        raise InvalidSampleError(
            f'no frame named like {filename_tmpl!r} in {frame_dir}')
    present = set(numbers)
    if len(present) != len(numbers):
        repeated = next(n for n in numbers if numbers.count(n) > 1)
        raise InvalidSampleError(
            f'frame folder {frame_dir} holds several files for frame '
            f'{repeated}')
    missing = [n for n in range(numbers[0], numbers[-1]) if n not in present]
    if missing:
        raise InvalidSampleError(
            f'frame folder {frame_dir} has a gap: '
            f'{filename_tmpl.format(missing[0])} is missing')
    return numbers


def read_rgb_image(path: str) -> np.ndarray:
    """Read an image file as RGB uint8.

    Args:
        path (str): The image file.

    Returns:
        np.ndarray: uint8 (H, W, 3).

    Raises:
        InvalidSampleError: For a missing or undecodable file.
    """
    if not osp.isfile(path):
        raise InvalidSampleError(f'image file not found: {path}')
    with open(path, 'rb') as handle:
        content = np.frombuffer(handle.read(), dtype=np.uint8)
    image = cv2.imdecode(content, cv2.IMREAD_COLOR) if content.size else None
    if image is None:
        raise InvalidSampleError(f'cannot decode image file {path}')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
