"""The project's own exception: a failure the user can fix.

Task wrappers turn it into one ``error: ...`` line on stderr and exit status 1;
anything else that escapes is a bug and keeps its traceback.

Kinds (subclasses, e.g. `aws.errors.Unavailable`) carry what callers decide on: whether
a retry may pass, which resource was denied. Context added on the way up keeps the kind:
``error.with_context("uploading s3://b/k")`` is still an ``Unavailable``.
"""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound="LayerError")


class LayerError(Exception):
    """A user-fixable failure. The message says what went wrong and how to fix it."""

    def __init__(self, message: str) -> None:
        # One line only: multi-line detail belongs in the output before the error.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self.args[0])

    def reworded(self: E, message: str) -> E:
        """The same error (its class and fields) saying ``message`` instead: for a
        caller that knows the fix better than the generic text does."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.args = (" ".join(message.split()),)
        clone.__cause__ = self.__cause__
        clone.__traceback__ = self.__traceback__
        return clone

    def with_context(self: E, context: str) -> E:
        """The same error led by what was being done: ``"<context>: <message>"``."""
        return self.reworded(f"{context}: {self.message}")
