"""Errors raised for bad annotations and unreadable samples.

Both derive from :class:`ValueError`, so callers that already catch
``ValueError`` keep working; :class:`InvalidSampleError` is the one that
:class:`~rollingq_mm.datasets.AudioVisualDataset` may skip (and count) in
training when ``skip_invalid=True``.
"""


class AnnotationError(ValueError):
    """A line of an annotation file (or a class list) cannot be used.

    The message always names the file and the 1-based line number.
    """


class MissingClassListError(AnnotationError):
    """A label is a class name, but no class list was given.

    The message names the line; whoever supplies the class list (a dataset
    config key, a tool's flag) adds how to give one.
    """


class InvalidSampleError(ValueError):
    """A sample's media cannot be decoded into usable data.

    Raised by the loading transforms for a missing, unreadable, truncated,
    empty, silent or non-finite file; the message always names the file.
    """
