"""Class-name lists: the shipped ones, reading one from a file, name lookup.

Shipped lists live in ``rollingq_mm/datasets/class_lists/`` and can be named
instead of given as a path: ``metainfo=dict(classes='kinetics_sounds_31')``
or ``'cremad_6'``. A list file holds one class name per line; blank lines and
lines starting with ``#`` are skipped; the remaining line order gives the id.
"""
from pathlib import Path
from typing import Dict, Sequence, Tuple, Union

from .errors import AnnotationError

CLASS_LIST_DIR = Path(__file__).resolve().parent / 'class_lists'
BUILTIN_CLASS_LISTS = {
    'kinetics_sounds_31': CLASS_LIST_DIR / 'kinetics_sounds_31.txt',
    'cremad_6': CLASS_LIST_DIR / 'cremad_6.txt',
}
CREMAD_CLASSES = ('NEU', 'HAP', 'SAD', 'FEA', 'DIS', 'ANG')


def read_class_list(path: Union[str, Path]) -> Tuple[str, ...]:
    """Read a class-name list file.

    Args:
        path (str | Path): The list file, one name per line.

    Returns:
        tuple[str]: The class names in id order.

    Raises:
        FileNotFoundError: If the file does not exist.
        AnnotationError: On a duplicated name (naming file:line) or an empty
            list.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'class list file not found: {path}')
    names = []
    first_line = {}
    with open(path, encoding='utf-8-sig') as handle:
        for line_no, line in enumerate(handle, start=1):
            name = line.strip()
            if not name or name.startswith('#'):
                continue
            if name in first_line:
                raise AnnotationError(
                    f'{path}:{line_no}: class {name!r} is listed twice '
                    f'(first at line {first_line[name]})')
            first_line[name] = line_no
            names.append(name)
    if not names:
        raise AnnotationError(f'{path}: the class list is empty')
    return tuple(names)


def resolve_classes(classes: Union[str, Path, Sequence[str]]
                    ) -> Tuple[str, ...]:
    """Turn a class-list file, a shipped list name or a sequence into names.

    Args:
        classes (str | Path | Sequence[str]): A path to a list file, the name
            of a shipped list (see :data:`BUILTIN_CLASS_LISTS`), or the names.

    Returns:
        tuple[str]: The class names in id order.

    Raises:
        FileNotFoundError: If a string is neither an existing file nor a
            shipped list name.
        AnnotationError: If a given sequence repeats a name or is empty.
    """
    if isinstance(classes, (str, Path)):
        path = Path(classes)
        if path.is_file():
            return read_class_list(path)
        if str(classes) in BUILTIN_CLASS_LISTS:
            return read_class_list(BUILTIN_CLASS_LISTS[str(classes)])
        raise FileNotFoundError(
            f'classes={str(classes)!r} is neither an existing class list '
            f'file nor a shipped list ({", ".join(BUILTIN_CLASS_LISTS)})')
    names = tuple(str(name) for name in classes)
    if not names:
        raise AnnotationError('the class list is empty')
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise AnnotationError(f'class names repeated: {repeated}')
    return names


def build_class_lookup(classes: Sequence[str]) -> Dict[str, int]:
    """Map class names, and their underscore spellings, to ids.

    Annotation fields are separated by whitespace, so a name with spaces
    (Kinetics' ``playing bagpipes``) is written ``playing_bagpipes`` there,
    as in Kinetics' folder names; both spellings map to the same id.

    Args:
        classes (Sequence[str]): The class names in id order.

    Returns:
        dict[str, int]: Name (and underscore spelling) to id.
    """
    lookup = {}
    for index, name in enumerate(classes):
        lookup[name] = index
        lookup.setdefault(name.replace(' ', '_'), index)
    return lookup
