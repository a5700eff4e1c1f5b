"""Turn one raw clip into 1-fps frames, a wav and optionally a feature file.

Output layout under ``out_root`` (paths relative to it go into the
annotation files):

- ``frames/<clip_id>/img_00001.jpg, ...``: the frame shown at the centre of
  each second (``fps`` slots per second, see
  :func:`~rollingq_mm.datasets.transforms.frame_selection.one_fps_indices`),
  upright (display-matrix rotation applied), optionally resized so the
  short side is ``short_side``.
- ``audio/<clip_id>.wav``: 16-bit PCM at the source sample rate, channels
  averaged to mono (what :class:`~rollingq_mm.datasets.LoadAudio` reads);
  a source that already is a ``.wav`` file is copied byte for byte. Audio
  that :class:`~rollingq_mm.datasets.LoadAudio` would reject (missing,
  truncated, empty, silent, NaN/Inf) fails here already.
- ``features/<clip_id>.npy``: float32 (T, F) from ``feature_pipeline`` (a
  list of transform configs that ends with ``audios``), e.g. the fbank or
  log-STFT recipe.

Every output is written under a temporary name and renamed when complete,
so an existing output is a complete one: a re-run skips it (resumable), and
a killed run leaves no half-written file behind.
"""
import os
import os.path as osp
import shutil
from dataclasses import dataclass, field
from typing import List, Optional

import cv2
import numpy as np
import soundfile
from mmaction.registry import TRANSFORMS

from ..transforms.audio_decoding import check_waveform, decode_audio
from ..transforms.frame_selection import one_fps_indices
from ..transforms.video_decoding import decode_frames, probe_frame_times

FRAME_TEMPLATE = 'img_{:05d}.jpg'
PARTIAL_SUFFIX = '.partial'
SILENCE_THRESHOLD = 1e-5


@dataclass
class ClipTask:
    """What to extract from one clip.

    Args:
        clip_id (str): The clip's id; names the outputs.
        video (str): The video file.
        out_root (str): The output root folder.
        audio (str, optional): A separate audio file; None takes the video's
            audio track. Defaults to None.
        fps (float): Frames per second to keep. Defaults to 1.0.
        short_side (int, optional): Resize frames so their short side has
            this length; None keeps the size. Defaults to None.
        jpeg_quality (int): JPEG quality 0-100. Defaults to 95.
        feature_pipeline (list[dict], optional): Transform configs from a
            sample dict with ``audio_path`` to ``audios``; None writes no
            feature file. Defaults to None.
    """

    clip_id: str
    video: str
    out_root: str
    audio: Optional[str] = None
    fps: float = 1.0
    short_side: Optional[int] = None
    jpeg_quality: int = 95
    feature_pipeline: Optional[List[dict]] = field(default=None)


@dataclass
class ClipResult:
    """The outcome of one :class:`ClipTask`.

    Args:
        clip_id (str): The clip's id.
        status (str): ``'done'`` (something written), ``'skipped'`` (all
            outputs existed) or ``'failed'``.
        reason (str): Why it failed; empty otherwise. Defaults to ``''``.
        stage (str): The output that failed, ``'frames'``, ``'audio'`` or
            ``'features'``; empty otherwise. Defaults to ``''``.
    """

    clip_id: str
    status: str
    reason: str = ''
    stage: str = ''


def frame_dir(out_root: str, clip_id: str) -> str:
    """The frame folder of a clip."""
    return osp.join(out_root, 'frames', clip_id)


def audio_file(out_root: str, clip_id: str) -> str:
    """The wav file of a clip."""
    return osp.join(out_root, 'audio', f'{clip_id}.wav')


def feature_file(out_root: str, clip_id: str) -> str:
    """The feature file of a clip."""
    return osp.join(out_root, 'features', f'{clip_id}.npy')


def _resize_short_side(image: np.ndarray, short_side: int) -> np.ndarray:
    height, width = image.shape[:2]
    scale = short_side / min(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _write_frames(task: ClipTask, target: str) -> None:
    times = probe_frame_times(task.video)
    indices = one_fps_indices(times, task.fps)
    frames = decode_frames(task.video, indices, apply_rotation=True)
    partial = target + PARTIAL_SUFFIX
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    for number, image in enumerate(frames, start=1):
        if task.short_side:
            image = _resize_short_side(image, task.short_side)
        path = osp.join(partial, FRAME_TEMPLATE.format(number))
        if not cv2.imwrite(path, image[:, :, ::-1],
                           [cv2.IMWRITE_JPEG_QUALITY, task.jpeg_quality]):
            raise OSError(f'cannot write frame {path}')
    os.replace(partial, target)


def _write_audio(task: ClipTask, target: str) -> None:
    source = task.audio if task.audio is not None else task.video
    partial = target + PARTIAL_SUFFIX
    waveform, rate = decode_audio(source)
    check_waveform(waveform, source, allow_silent=False,
                   silence_threshold=SILENCE_THRESHOLD)
    if osp.splitext(source)[1].lower() == '.wav':
        shutil.copyfile(source, partial)
    else:
        soundfile.write(partial, waveform, rate, subtype='PCM_16',
                        format='WAV')
    os.replace(partial, target)


def _write_features(task: ClipTask, wav: str, target: str) -> None:
    results = dict(audio_path=wav)
    for cfg in task.feature_pipeline:
        results = TRANSFORMS.build(cfg)(results)
    features = np.ascontiguousarray(results['audios'][0], dtype=np.float32)
    partial = target + PARTIAL_SUFFIX
    with open(partial, 'wb') as handle:
        np.save(handle, features)
    os.replace(partial, target)


def _exists(path: str) -> bool:
    if osp.isdir(path):
        return bool(os.listdir(path))
    return osp.isfile(path)


def extract_clip(task: ClipTask) -> ClipResult:
    """Write the missing outputs of one clip.

    Args:
        task (ClipTask): The clip and the options.

    Returns:
        ClipResult: ``'done'``, ``'skipped'`` or ``'failed'`` with the
        reason (the file and the error) and the stage that failed; partial
        outputs are removed.
    """
    frames = frame_dir(task.out_root, task.clip_id)
    wav = audio_file(task.out_root, task.clip_id)
    feature = feature_file(task.out_root, task.clip_id)
    wrote = False
    stage = 'frames'
    try:
        if not _exists(frames):
            os.makedirs(osp.dirname(frames), exist_ok=True)
            _write_frames(task, frames)
            wrote = True
        stage = 'audio'
        if not _exists(wav):
            os.makedirs(osp.dirname(wav), exist_ok=True)
            _write_audio(task, wav)
            wrote = True
        stage = 'features'
        if task.feature_pipeline is not None and not _exists(feature):
            os.makedirs(osp.dirname(feature), exist_ok=True)
            _write_features(task, wav, feature)
            wrote = True
    except (ValueError, OSError, KeyError, RuntimeError, cv2.error) as err:
        for path in (frames, wav, feature):
            partial = path + PARTIAL_SUFFIX
            if osp.isdir(partial):
                shutil.rmtree(partial, ignore_errors=True)
            elif osp.isfile(partial):
                os.remove(partial)
        return ClipResult(task.clip_id, 'failed',
                          f'{type(err).__name__}: {err}', stage)
    return ClipResult(task.clip_id, 'done' if wrote else 'skipped')
