"""LoadAudio on real containers and audio files, and every bad input."""
import shutil

import av
import numpy as np
import pytest
from mmaction.registry import TRANSFORMS

from rollingq_mm.datasets import InvalidSampleError, LoadAudio
from rollingq_mm.datasets.transforms.audio_decoding import resample_waveform

# (file, seconds of audio per the data README)
CLIP_AUDIO = [
    ('chaplin.mp4', 9.6),
    ('flipping_a_pancake.mkv', 10.4),
    ('kinetics_style_makeup.avi', 6.56),
]


def load(path, **kwargs):
    return LoadAudio(**kwargs)(dict(audio_path=str(path)))


@pytest.mark.parametrize('name,seconds', CLIP_AUDIO)
def test_containers_decode_to_mono_float(av_clips, name, seconds):
    results = LoadAudio()(dict(filename=str(av_clips / name)))
    audio = results['audio']
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size / results['sample_rate'] - seconds) < 0.1
    assert 0.01 < np.abs(audio).max() <= 1.0


def test_audio_path_wins_over_filename(av_clips, fsdd_dir):
    wav = sorted(fsdd_dir.glob('*.wav'))[0]
    results = LoadAudio()(dict(filename=str(av_clips / 'chaplin.mp4'),
                               audio_path=str(wav)))
    assert results['sample_rate'] == 8000


def test_quiet_audio_shorter_than_video_is_kept(av_clips):
    results = LoadAudio()(dict(filename=str(av_clips / 'fire2.mp4')))
    seconds = results['audio'].size / results['sample_rate']
    with av.open(str(av_clips / 'fire2.mp4')) as container:
        video_seconds = container.duration / 1e6
    assert results['sample_rate'] == 48000
    assert 2.2 < seconds < video_seconds
    assert np.abs(results['audio']).max() < 0.05


def test_grid_mpeg_ps_files(grid_dir):
    files = sorted(grid_dir.glob('*.mpg'))
    assert len(files) == 9
    for path in files:
        results = LoadAudio(sample_rate=16000)(dict(filename=str(path)))
        assert results['sample_rate'] == 16000
        assert abs(results['audio'].size / 16000 - 2.98) < 0.05


def test_flv_made_with_pyav(flv_clip):
    results = LoadAudio()(dict(filename=str(flv_clip)))
    assert results['sample_rate'] == 44100
    assert abs(results['audio'].size / 44100 - 3.0) < 0.15
    assert np.abs(results['audio']).max() > 0.01


def test_every_fsdd_wav(fsdd_dir):
    files = sorted(fsdd_dir.glob('*.wav'))
    assert len(files) == 3000
    transform = LoadAudio()
    for path in files:
        results = transform(dict(audio_path=str(path)))
        assert results['sample_rate'] == 8000
        assert 0.1 < results['audio'].size / 8000 < 2.3


def test_stereo_and_5_1_are_averaged(make_wav, tone):
    left = tone(440, 16000, 0.5, 0.4)
    stereo = np.stack([left, -0.5 * left], axis=1)
    out = load(make_wav('stereo.wav', stereo, 16000, 'FLOAT'))['audio']
    np.testing.assert_allclose(out, 0.25 * left, atol=1e-6)
    six = np.stack([(c + 1) * 0.1 * left for c in range(6)], axis=1)
    out = load(make_wav('surround.wav', six, 16000, 'FLOAT'))['audio']
    np.testing.assert_allclose(out, 0.35 * left, atol=1e-6)


def test_5_1_in_a_container_is_averaged(tmp_path, tone):
    left = tone(440, 48000, 0.5, 0.1).astype(np.float32)
    planes = np.stack([(c + 1) * left for c in range(6)])
    path = tmp_path / 'surround.mka'
    with av.open(str(path), 'w') as out:
        stream = out.add_stream('pcm_f32le', rate=48000)
        stream.layout = '5.1'
        frame = av.AudioFrame.from_ndarray(planes, format='fltp',
                                           layout='5.1')
        frame.sample_rate = 48000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    out = load(path)['audio']
    np.testing.assert_allclose(out, 3.5 * left, atol=1e-6)


def test_mp3_file_goes_through_pyav(tmp_path, tone):
    path = tmp_path / 'tone.mp3'
    samples = tone(440, 44100, 1.0, 0.5).astype(np.float32)
    with av.open(str(path), 'w') as out:
        stream = out.add_stream('mp3', rate=44100)
        stream.layout = 'mono'
        frame = av.AudioFrame.from_ndarray(samples[None], format='fltp',
                                           layout='mono')
        frame.sample_rate = 44100
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    results = load(path)
    assert results['sample_rate'] == 44100
    spectrum = np.abs(np.fft.rfft(results['audio']))
    freqs = np.fft.rfftfreq(results['audio'].size, 1 / 44100)
    assert abs(freqs[spectrum.argmax()] - 440) < 2


def test_resampling_keeps_tones_and_removes_aliases(tone):
    kept = resample_waveform(tone(1000, 44100, 1.0), 44100, 16000)
    assert kept.size == 16000
    expected = tone(1000, 16000, 1.0)
    np.testing.assert_allclose(kept[200:-200], expected[200:-200],
                               atol=2e-3)
    # 10 kHz is above the 8 kHz Nyquist of 16 kHz: it must not fold to 6 kHz
    folded = resample_waveform(tone(10000, 48000, 1.0), 48000, 16000)
    assert np.sqrt(np.mean(folded[200:-200] ** 2)) < 2e-3


def test_registered_and_resamples(av_clips):
    transform = TRANSFORMS.build(dict(type='LoadAudio', sample_rate=22050))
    results = transform(dict(filename=str(av_clips / 'chaplin.mp4')))
    assert results['sample_rate'] == 22050
    assert abs(results['audio'].size / 22050 - 9.614) < 0.01


def test_no_audio_track(av_clips):
    path = av_clips / 'no_audio_track.mp4'
    with pytest.raises(InvalidSampleError, match='no_audio_track.mp4 has no '
                       'audio track'):
        LoadAudio()(dict(filename=str(path)))


def test_missing_file(tmp_path):
    with pytest.raises(InvalidSampleError, match='not found: .*gone.wav'):
        load(tmp_path / 'gone.wav')


@pytest.mark.parametrize('name', ['chaplin.mp4', 'flipping_a_pancake.mkv'])
def test_truncated_container(av_clips, tmp_path, name):
    data = (av_clips / name).read_bytes()
    path = tmp_path / f'half_{name}'
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(InvalidSampleError,
                       match=f'(truncated|cannot open).*half_{name}'):
        LoadAudio()(dict(filename=str(path)))


def test_truncated_wav_and_flac(make_wav, tone, tmp_path):
    wav = make_wav('full.wav', tone(440, 16000, 1.0), 16000)
    cut = tmp_path / 'cut.wav'
    cut.write_bytes(wav.read_bytes()[:16000])
    with pytest.raises(InvalidSampleError, match='truncated WAV .*cut.wav'):
        load(cut)
    flac = make_wav('full.flac', tone(440, 16000, 1.0), 16000)
    cut = tmp_path / 'cut.flac'
    cut.write_bytes(flac.read_bytes()[:flac.stat().st_size // 2])
    with pytest.raises(InvalidSampleError, match='cut.flac'):
        load(cut)


def test_unreadable_file(tmp_path):
    for name in ('garbage.wav', 'garbage.mp4'):
        path = tmp_path / name
        path.write_bytes(b'not media at all ' * 20)
        with pytest.raises(InvalidSampleError, match=name):
            load(path)


def test_zero_length(make_wav):
    path = make_wav('empty.wav', np.zeros(0), 16000)
    with pytest.raises(InvalidSampleError, match='zero-length .*empty.wav'):
        load(path)


def test_all_silent_is_rejected_unless_allowed(make_wav):
    path = make_wav('silent.wav', np.zeros(1600), 16000)
    with pytest.raises(InvalidSampleError, match='silent.wav is silent'):
        load(path)
    assert load(path, allow_silent=True)['audio'].max() == 0


def test_nan_and_inf(make_wav, tone):
    samples = tone(440, 16000, 0.2)
    samples[10], samples[20] = np.nan, np.inf
    path = make_wav('nan.wav', samples, 16000, 'FLOAT')
    with pytest.raises(InvalidSampleError, match='nan.wav holds 2 NaN/Inf'):
        load(path)


def test_npy_is_refused(tmp_path):
    path = tmp_path / 'feature.npy'
    np.save(path, np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match='LoadPrecomputedAudioFeature'):
        load(path)


def test_audio_in_a_copied_container_with_other_suffix(av_clips, tmp_path):
    path = tmp_path / 'clip.webm_but_mp4'
    shutil.copyfile(av_clips / 'chaplin.mp4', path)
    assert load(path)['sample_rate'] == 44100
