"""SampleSegmentFrames on videos, frame folders and images; the pure rules."""
import multiprocessing

import cv2
import numpy as np
import pytest
from mmaction.registry import TRANSFORMS

from rollingq_mm.datasets import InvalidSampleError, SampleSegmentFrames
from rollingq_mm.datasets.transforms.frame_selection import (
    one_fps_indices, random_positions, segment_positions)
from rollingq_mm.datasets.transforms.video_decoding import (decode_frames,
                                                            rotate_upright)
from rollingq_mm.utils import SampleSeededPipeline

# file, (H, W) after rotation, decoded frames
VIDEOS = [
    ('chaplin.mp4', (360, 640), 241),
    ('fire2.mp4', (720, 1280), 25),
    ('flipping_a_pancake.mkv', (240, 426), 310),
    ('kinetics_style_makeup.avi', (240, 320), 164),
    ('no_audio_track.mp4', (256, 340), 280),
]


@pytest.mark.parametrize('name,shape,total', VIDEOS)
def test_every_clip_gives_three_rgb_frames(av_clips, name, shape, total):
    out = SampleSegmentFrames(test_mode=True)(
        dict(filename=str(av_clips / name)))
    assert len(out['imgs']) == 3 and out['clip_len'] == 3
    assert out['num_clips'] == 1 and out['total_frames'] == total
    assert out['original_shape'] == shape == out['img_shape']
    for img in out['imgs']:
        assert img.dtype == np.uint8 and img.shape == shape + (3, )
    # segment centres of [0, K/3), [K/3, 2K/3), [2K/3, K)
    edges = np.arange(4) * total // 3
    expected = edges[:-1] + (edges[1:] - edges[:-1] - 1) // 2
    np.testing.assert_array_equal(out['frame_inds'], expected)


def test_rgb_channel_order(av_clips):
    frame = SampleSegmentFrames(num_segments=1, test_mode=True)(
        dict(filename=str(av_clips / 'chaplin.mp4')))['imgs'][0]
    path = str(av_clips / 'chaplin.mp4')
    capture = cv2.VideoCapture(path)
    capture.set(cv2.CAP_PROP_POS_FRAMES, 120)
    ok, bgr = capture.read()
    capture.release()
    assert ok
    difference = np.abs(frame.astype(int) - bgr[:, :, ::-1].astype(int))
    assert difference.mean() < 3


def test_rotation_metadata_is_applied(av_clips):
    path = str(av_clips / 'fire2.mp4')
    upright = decode_frames(path, [3], apply_rotation=True)[0]
    stored = decode_frames(path, [3], apply_rotation=False)[0]
    np.testing.assert_array_equal(upright, stored[::-1, ::-1])


def test_rotate_upright_quarter_turns():
    image = np.arange(6).reshape(2, 3, 1)
    assert rotate_upright(image, 0) is image
    np.testing.assert_array_equal(rotate_upright(image, 90),
                                  np.rot90(image, 1))
    np.testing.assert_array_equal(rotate_upright(image, -90),
                                  np.rot90(image, 3))
    with pytest.raises(ValueError, match='multiples of 90'):
        rotate_upright(image, 45)


def test_variable_frame_rate_one_fps_uses_timestamps(av_clips):
    out = SampleSegmentFrames(test_mode=True, fps=1.0)(
        dict(filename=str(av_clips / 'fire2.mp4')))
    # 2.38 s -> slots centred at 0.5 s and 1.5 s; 3 segments over 2 slots
    assert len(out['imgs']) == 3
    assert out['frame_inds'][0] == out['frame_inds'][1]
    assert out['frame_inds'][2] > out['frame_inds'][1]


def test_one_fps_on_a_constant_rate_clip(av_clips):
    out = SampleSegmentFrames(test_mode=True, fps=1.0)(
        dict(filename=str(av_clips / 'chaplin.mp4')))
    # 25 fps, 9.64 s: slots at 0.5 s ... 9.5 s are frames 12, 37, ..., 237;
    # 10 slots in 3 segments -> centres of [0,3), [3,6), [6,10)
    np.testing.assert_array_equal(out['frame_inds'], [37, 112, 187])


def test_training_samples_random_frames_inside_segments(av_clips):
    transform = SampleSegmentFrames(fps=1.0)
    seen = set()
    for _ in range(20):
        out = transform(
            dict(filename=str(av_clips / 'kinetics_style_makeup.avi')))
        seen.add(tuple(out['frame_inds']))
        # 6.56 s at 25 fps: 7 slots (frames 12, 37, ..., 162) in 3 segments
        first, second, third = out['frame_inds']
        assert first in (12, 37) and second in (62, 87)
        assert third in (112, 137, 162)
    assert len(seen) > 3


def test_grid_and_flv(grid_dir, flv_clip):
    paths = sorted(grid_dir.glob('*.mpg')) + [flv_clip]
    assert len(paths) == 10
    for path in paths:
        out = SampleSegmentFrames(test_mode=True, fps=1.0)(
            dict(filename=str(path)))
        assert len(out['imgs']) == 3
        assert out['imgs'][0].std() > 5


def test_frame_folder_with_any_start_and_template(tmp_path):
    folder = tmp_path / 'clip'
    folder.mkdir()
    for number in range(0, 10):
        image = np.full((8, 12, 3), number * 20, np.uint8)
        cv2.imwrite(str(folder / f'frame_{number:05d}.png'), image)
    out = SampleSegmentFrames(test_mode=True,
                              filename_tmpl='frame_{:05d}.png')(
                                  dict(frame_dir=str(folder)))
    np.testing.assert_array_equal(out['frame_inds'], [1, 4, 7])
    assert [int(img[0, 0, 0]) for img in out['imgs']] == [20, 80, 140]
    assert out['total_frames'] == 10 and out['img_shape'] == (8, 12)


def test_frame_folder_errors(tmp_path):
    folder = tmp_path / 'gappy'
    folder.mkdir()
    for number in (1, 2, 4):
        cv2.imwrite(str(folder / f'img_{number:05d}.jpg'),
                    np.zeros((4, 4, 3), np.uint8))
    transform = SampleSegmentFrames()
    with pytest.raises(InvalidSampleError, match='img_00003.jpg is missing'):
        transform(dict(frame_dir=str(folder)))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(InvalidSampleError, match='no frame named like'):
        transform(dict(frame_dir=str(tmp_path / 'empty')))
    with pytest.raises(InvalidSampleError, match='frame folder not found'):
        transform(dict(frame_dir=str(tmp_path / 'nowhere')))
    broken = tmp_path / 'broken'
    broken.mkdir()
    (broken / 'img_00001.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(InvalidSampleError, match='cannot decode image'):
        transform(dict(frame_dir=str(broken)))


def test_still_image_is_a_one_frame_video(tmp_path):
    image = np.zeros((10, 20, 3), np.uint8)
    image[..., 2] = 255  # red in BGR
    cv2.imwrite(str(tmp_path / 'still.png'), image)
    out = SampleSegmentFrames()(dict(img_path=str(tmp_path / 'still.png')))
    assert len(out['imgs']) == 3 and out['total_frames'] == 1
    assert out['imgs'][0][0, 0].tolist() == [255, 0, 0]
    out['imgs'][0][0, 0] = 0
    assert out['imgs'][1][0, 0].tolist() == [255, 0, 0]


def test_video_errors(tmp_path, fsdd_dir, av_clips):
    transform = SampleSegmentFrames()
    with pytest.raises(InvalidSampleError, match='not found'):
        transform(dict(filename=str(tmp_path / 'gone.mp4')))
    wav = sorted(fsdd_dir.glob('*.wav'))[0]
    with pytest.raises(InvalidSampleError, match='has no video stream'):
        transform(dict(filename=str(wav)))
    cut = tmp_path / 'cut.mp4'
    cut.write_bytes((av_clips / 'chaplin.mp4').read_bytes()[:100000])
    with pytest.raises(InvalidSampleError, match='cut.mp4'):
        transform(dict(filename=str(cut)))
    with pytest.raises(KeyError, match='filename'):
        transform(dict(audio_path='x.wav'))


def test_segment_positions_rules():
    np.testing.assert_array_equal(segment_positions(10, 3, True), [1, 4, 7])
    np.testing.assert_array_equal(segment_positions(2, 3, True), [0, 0, 1])
    np.testing.assert_array_equal(segment_positions(1, 3, False), [0, 0, 0])
    rng = np.random.RandomState(0)
    draws = np.stack([segment_positions(9, 3, False, rng)
                      for _ in range(300)])
    for segment in range(3):
        assert set(draws[:, segment]) == {3 * segment + k for k in range(3)}


def test_one_fps_indices_rules():
    np.testing.assert_array_equal(
        one_fps_indices(np.arange(250) / 25.0), 12 + 25 * np.arange(10))
    times = np.array([0.0, 0.1, 0.15, 1.6, 2.2])  # irregular frame times
    # duration 2.2 + median step 0.35: slots at 0.5, 1.5, 2.5 s
    np.testing.assert_array_equal(one_fps_indices(times), [2, 2, 4])
    np.testing.assert_array_equal(one_fps_indices(np.zeros(1)), [0])


def test_registry_and_mmaction_image_transforms(av_clips):
    pipeline = [
        dict(type='SampleSegmentFrames', num_segments=3, fps=1.0),
        dict(type='Resize', scale=(-1, 128)),
        dict(type='RandomResizedCrop'),
        dict(type='Resize', scale=(112, 112), keep_ratio=False),
        dict(type='Flip', flip_ratio=1.0),
        dict(type='FormatShape', input_format='NCTHW'),
    ]
    results = dict(filename=str(av_clips / 'chaplin.mp4'), modality='RGB')
    for cfg in pipeline:
        results = TRANSFORMS.build(cfg)(results)
    assert results['imgs'].shape == (1, 3, 3, 112, 112)


def write_frame_folder(folder, count):
    """``count`` 4x4 frames img_00001.png ..., frame k of value 20 k."""
    folder.mkdir()
    for number in range(1, count + 1):
        cv2.imwrite(str(folder / f'img_{number:05d}.png'),
                    np.full((4, 4, 3), 20 * number, np.uint8))
    return folder


def test_random_positions_rules():
    rng = np.random.RandomState(0)
    draws = np.stack([random_positions(10, 3, rng) for _ in range(300)])
    assert draws.min() == 0 and draws.max() == 9
    assert set(draws.ravel()) == set(range(10))
    assert (np.diff(draws, axis=1) >= 0).all()  # time order
    repeats = (np.diff(draws, axis=1) == 0).any(axis=1)
    assert 0 < repeats.sum() < len(draws)
    np.testing.assert_array_equal(random_positions(1, 3), [0, 0, 0])
    with pytest.raises(ValueError, match='positive'):
        random_positions(0, 3)


def test_random_with_replacement_training_frames(tmp_path):
    folder = write_frame_folder(tmp_path / 'long', 10)
    transform = SampleSegmentFrames(
        train_sampling='random_with_replacement',
        filename_tmpl='img_{:05d}.png')
    np.random.seed(0)
    draws = [transform(dict(frame_dir=str(folder))) for _ in range(40)]
    inds = np.stack([out['frame_inds'] for out in draws])
    assert set(inds.ravel()) == set(range(1, 11))  # beyond the first 3 too
    assert any(len(set(row)) < 3 for row in inds.tolist())  # repeats
    for out in draws:
        assert [int(img[0, 0, 0]) for img in out['imgs']] == \
            [20 * k for k in out['frame_inds']]

    # a 3-frame clip: segments always give frames 1, 2, 3; draws vary
    short = write_frame_folder(tmp_path / 'short', 3)
    segments = SampleSegmentFrames(filename_tmpl='img_{:05d}.png')
    assert {tuple(segments(dict(frame_dir=str(short)))['frame_inds'])
            for _ in range(10)} == {(1, 2, 3)}
    assert len({tuple(transform(dict(frame_dir=str(short)))['frame_inds'])
                for _ in range(10)}) > 1

    # testing keeps the deterministic segment centres
    centres = SampleSegmentFrames(test_mode=True,
                                  train_sampling='random_with_replacement',
                                  filename_tmpl='img_{:05d}.png')
    np.testing.assert_array_equal(
        centres(dict(frame_dir=str(folder)))['frame_inds'], [2, 5, 8])
    with pytest.raises(ValueError, match='train_sampling'):
        SampleSegmentFrames(train_sampling='with_replacement')


def test_random_with_replacement_follows_the_sample_seed(tmp_path):
    folder = write_frame_folder(tmp_path / 'clip', 10)
    epoch = multiprocessing.RawValue('q', 0)
    pipeline = SampleSeededPipeline(
        SampleSegmentFrames(train_sampling='random_with_replacement',
                            filename_tmpl='img_{:05d}.png'),
        seed=1, epoch=epoch)

    def draw(index):
        out = pipeline(dict(frame_dir=str(folder), sample_idx=index))
        return tuple(out['frame_inds'])

    first = [draw(index) for index in range(8)]
    assert [draw(index) for index in range(8)] == first
    assert len(set(first)) > 1
    epoch.value = 1
    assert [draw(index) for index in range(8)] != first


def test_random_with_replacement_on_a_real_video(av_clips):
    transform = SampleSegmentFrames(fps=1.0,
                                    train_sampling='random_with_replacement')
    np.random.seed(2)
    outs = [transform(dict(filename=str(av_clips / 'chaplin.mp4')))
            for _ in range(3)]
    # 10 one-fps frames: 12, 37, ..., 237
    for out in outs:
        assert set(out['frame_inds']) <= set(12 + 25 * np.arange(10))
        assert len(out['imgs']) == 3
        assert out['imgs'][0].shape == (360, 640, 3)
    assert max(max(out['frame_inds']) for out in outs) > 62
