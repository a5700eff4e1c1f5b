"""Split-format converters: ogm_ge csv <-> generic, space list <-> generic."""
import pytest

from rollingq_mm.datasets import AnnotationError
from rollingq_mm.datasets.preparation import (convert_annotation,
                                              read_annotation)

OGM = '--4-0ihtnBU_000058_000068,10,4\n-00nar1nEPc_000033_000043,10,13\n'


def test_ogm_ge_to_generic_and_back(tmp_path):
    src = tmp_path / 'my_train.txt'
    src.write_text(OGM)
    generic = tmp_path / 'train.txt'
    count = convert_annotation(str(src), str(generic), 'ogm_ge_ks',
                               'generic', visual_template='frames/{}',
                               audio_template='audio/{}.wav')
    assert count == 2
    assert generic.read_text().splitlines() == [
        'frames/--4-0ihtnBU_000058_000068 '
        'audio/--4-0ihtnBU_000058_000068.wav 4',
        'frames/-00nar1nEPc_000033_000043 '
        'audio/-00nar1nEPc_000033_000043.wav 13',
    ]
    back = tmp_path / 'back.txt'
    convert_annotation(str(generic), str(back), 'generic', 'ogm_ge_ks')
    assert back.read_text() == OGM


def test_space_list_to_generic_and_back(tmp_path):
    src = tmp_path / 'ks_train_overlap.txt'
    src.write_text('clipA 250 3\nclipB 7\n')
    generic = tmp_path / 'train.txt'
    convert_annotation(str(src), str(generic), 'space_list', 'generic',
                       visual_template='videos/{}.mp4', audio_template=None)
    assert generic.read_text() == ('videos/clipA.mp4 - 3\n'
                                   'videos/clipB.mp4 - 7\n')
    back = tmp_path / 'back.txt'
    convert_annotation(str(generic), str(back), 'generic', 'space_list')
    assert back.read_text() == 'clipA 3\nclipB 7\n'


def test_class_names_and_validation(tmp_path):
    src = tmp_path / 'named.txt'
    src.write_text('frames/a audio/a.wav playing_bagpipes\n'
                   'frames/b audio/b.wav 31\n')
    with pytest.raises(AnnotationError, match=r'named.txt:2: label 31 is '
                       r'out of range \[0, 31\)'):
        read_annotation(str(src), 'generic', 'kinetics_sounds_31')
    src.write_text('frames/a audio/a.wav playing_bagpipes\n')
    out = tmp_path / 'ids.txt'
    convert_annotation(str(src), str(out), 'generic', 'ogm_ge_ks',
                       classes='kinetics_sounds_31', seconds=9.5)
    assert out.read_text() == 'a,9.5,8\n'


def test_cremad_list_and_unwritable_format(tmp_path):
    src = tmp_path / 'test.csv'
    src.write_text('1001_DFA_ANG_XX,ANG\n1002_IEO_NEU_LO,NEU\n')
    records = read_annotation(str(src), 'cremad',
                              visual_template='frames/{}')
    assert [(r.clip_id, r.label) for r in records] == [
        ('1001_DFA_ANG_XX', 5), ('1002_IEO_NEU_LO', 0)]
    with pytest.raises(ValueError, match='cannot write'):
        convert_annotation(str(src), str(tmp_path / 'o.txt'), 'cremad',
                           'cremad')
