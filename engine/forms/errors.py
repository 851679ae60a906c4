"""Errors raised while reading a form definition."""

from __future__ import annotations


class FormDefinitionError(ValueError):
    """The form JSON itself is malformed.

    Raised when a definition is read (deploy time or when a task is opened), never while a
    person fills the form: their mistakes become field errors instead. The message always
    says what is wrong and where (``components[2].validate.pattern``, ``properties.age``).
    """
