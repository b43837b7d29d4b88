"""Structured detectors: each takes the shared :class:`~screening.normalize.Views` of one field
and returns findings with spans in the original text."""
