"""extract_clip / run_extraction on real clips in a tmp folder."""
import os

import cv2
import numpy as np
import pytest
import soundfile

from rollingq_mm.datasets.preparation import (ClipTask, audio_file,
                                              extract_clip, feature_file,
                                              frame_dir, run_extraction)
from rollingq_mm.datasets.transforms.frame_selection import one_fps_indices
from rollingq_mm.datasets.transforms.video_decoding import (decode_frames,
                                                            probe_frame_times)

FBANK = [dict(type='LoadAudio'), dict(type='KaldiFbank')]


def test_frames_audio_and_features(tmp_path, av_clips):
    video = str(av_clips / 'kinetics_style_makeup.avi')
    task = ClipTask('makeup', video, str(tmp_path), feature_pipeline=FBANK)
    assert extract_clip(task).status == 'done'
    frames = sorted(os.listdir(frame_dir(str(tmp_path), 'makeup')))
    assert frames == [f'img_{n:05d}.jpg' for n in range(1, 8)]
    # the written frames are the 1-fps frames the sampler would decode
    expected = decode_frames(
        video, one_fps_indices(probe_frame_times(video)))[3]
    written = cv2.imread(os.path.join(frame_dir(str(tmp_path), 'makeup'),
                                      'img_00004.jpg'))[:, :, ::-1]
    assert np.abs(written.astype(int) - expected).mean() < 4
    samples, rate = soundfile.read(audio_file(str(tmp_path), 'makeup'))
    assert rate == 44100 and samples.ndim == 1
    assert abs(samples.size / rate - 6.56) < 0.05
    feature = np.load(feature_file(str(tmp_path), 'makeup'))
    assert feature.shape == (1024, 128) and feature.dtype == np.float32


def test_resume_skips_complete_outputs(tmp_path, av_clips):
    task = ClipTask('c', str(av_clips / 'grid_samples' / 'swiz3n.mpg'),
                    str(tmp_path), short_side=64)
    assert extract_clip(task).status == 'done'
    wav = audio_file(str(tmp_path), 'c')
    stamp = os.stat(wav).st_mtime_ns
    assert extract_clip(task).status == 'skipped'
    assert os.stat(wav).st_mtime_ns == stamp
    first = cv2.imread(os.path.join(frame_dir(str(tmp_path), 'c'),
                                    'img_00001.jpg'))
    assert min(first.shape[:2]) == 64
    os.remove(wav)
    assert extract_clip(task).status == 'done' and os.path.isfile(wav)


def test_separate_wav_is_copied_byte_for_byte(tmp_path, av_clips, fsdd_dir):
    wav = sorted(fsdd_dir.glob('*.wav'))[5]
    task = ClipTask('x', str(av_clips / 'chaplin.mp4'), str(tmp_path),
                    audio=str(wav))
    assert extract_clip(task).status == 'done'
    with open(audio_file(str(tmp_path), 'x'), 'rb') as handle:
        assert handle.read() == wav.read_bytes()


def test_failures_leave_no_partial_output_and_are_reported(tmp_path,
                                                           av_clips):
    out = str(tmp_path / 'out')
    tasks = [
        ClipTask('ok', str(av_clips / 'kinetics_style_makeup.avi'), out),
        ClipTask('silent_video', str(av_clips / 'no_audio_track.mp4'), out),
        ClipTask('absent', str(tmp_path / 'absent.mp4'), out),
    ]
    report = str(tmp_path / 'failed.tsv')
    results = run_extraction(tasks, workers=2, report_file=report)
    assert [r.status for r in results] == ['done', 'failed', 'failed']
    assert 'has no audio track' in results[1].reason
    lines = open(report).read().splitlines()
    assert lines[0].startswith('# clip_id') and len(lines) == 3
    assert lines[1].startswith('silent_video\t') and 'no audio' in lines[1]
    assert lines[2].startswith('absent\t') and 'not found' in lines[2]
    leftovers = [name for _, dirs, files in os.walk(out)
                 for name in dirs + files if name.endswith('.partial')]
    assert leftovers == []
    assert not os.path.exists(audio_file(out, 'silent_video'))
    again = run_extraction(tasks, workers=1, report_file=report)
    assert [r.status for r in again] == ['skipped', 'failed', 'failed']


def test_workers_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match='workers'):
        run_extraction([], 0, str(tmp_path / 'r.tsv'))
