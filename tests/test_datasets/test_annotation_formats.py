"""The annotation line parsers of every format."""
import pytest

from rollingq_mm.datasets import (CREMAD_CLASSES, AnnotationError,
                                  resolve_classes)
from rollingq_mm.datasets.annotation_formats import (AnnotationRecord,
                                                     iter_annotation_lines,
                                                     parse_annotation_line,
                                                     visual_kind)
from rollingq_mm.datasets.class_names import build_class_lookup

KS = resolve_classes('kinetics_sounds_31')
KS_LOOKUP = build_class_lookup(KS)


def parse(text, ann_format, lookup=KS_LOOKUP, num_classes=31, **kwargs):
    return parse_annotation_line(text, ann_format, 'list.txt:7', lookup,
                                 num_classes=num_classes, **kwargs)


def test_generic_lines():
    record = parse('frames/abc audio/abc.wav playing_bagpipes', 'generic')
    assert record == AnnotationRecord('abc', 'frames/abc', 'audio/abc.wav',
                                      8)
    record = parse('videos/x.mp4 - 30', 'generic')
    assert record.audio is None and record.label == 30
    with pytest.raises(AnnotationError, match='list.txt:7: expected 3'):
        parse('frames/abc 3', 'generic')
    with pytest.raises(AnnotationError,
                       match='list.txt:7: label 31 is out of range'):
        parse('frames/abc a.wav 31', 'generic')
    with pytest.raises(AnnotationError, match='list.txt:7: .*must then be a '
                       'video file'):
        parse('frames/abc - 3', 'generic')
    with pytest.raises(AnnotationError, match="label 'juggling'"):
        parse('a.mp4 - juggling', 'generic')


def test_ogm_ge_kinetics_sounds_lines():
    record = parse('--4-0ihtnBU_000058_000068,10,4', 'ogm_ge_ks',
                   visual_template='frames/{}', audio_template='{}.npy')
    assert record == AnnotationRecord(
        '--4-0ihtnBU_000058_000068', 'frames/--4-0ihtnBU_000058_000068',
        '--4-0ihtnBU_000058_000068.npy', 4)
    for bad in ('abc,10', 'abc,ten,3', ',10,3'):
        with pytest.raises(AnnotationError, match='list.txt:7'):
            parse(bad, 'ogm_ge_ks')
    with pytest.raises(AnnotationError, match='label -1 is out of range'):
        parse('abc,10,-1', 'ogm_ge_ks')


def test_space_list_lines():
    record = parse('abc_000001_000011 250 12', 'space_list',
                   audio_template=None)
    assert record.clip_id == 'abc_000001_000011' and record.label == 12
    assert record.audio is None
    with pytest.raises(AnnotationError, match='CLIP_ID ... LABEL'):
        parse('lonely', 'space_list')


def test_cremad_lines():
    lookup = build_class_lookup(CREMAD_CLASSES)
    for text in ('1001_DFA_ANG_XX', '1001_DFA_ANG_XX,ANG',
                 '1001_DFA_ANG_XX 5'):
        record = parse(text, 'cremad', lookup, 6)
        assert record.label == 5 and record.visual == '1001_DFA_ANG_XX'
    with pytest.raises(AnnotationError, match="disagrees with the emotion "
                       "'ANG'"):
        parse('1001_DFA_ANG_XX,HAP', 'cremad', lookup, 6)
    with pytest.raises(AnnotationError, match='not a CREMA-D clip id'):
        parse('DFA_ANG', 'cremad', lookup, 6)
    with pytest.raises(AnnotationError, match="emotion 'XYZ'"):
        parse('1001_DFA_XYZ_XX', 'cremad', lookup, 6)


def test_visual_kind_and_line_iteration(tmp_path):
    assert visual_kind('frames/abc') == 'frame_dir'
    assert visual_kind('still.JPG') == 'img_path'
    assert visual_kind('clip.flv') == 'filename'
    path = tmp_path / 'ann.txt'
    path.write_bytes('\ufeffa b 1\n\n# note\n  c d 2  \n'.encode())
    assert list(iter_annotation_lines(str(path))) == [(1, 'a b 1'),
                                                      (4, 'c d 2')]
