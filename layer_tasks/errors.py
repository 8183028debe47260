"""The project's own exception: a failure the user can fix.

Task wrappers turn it into one ``error: ...`` line on stderr and exit status 1;
anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class LayerError(Exception):
    """A user-fixable failure. The message says what went wrong and how to fix it."""

    def __init__(self, message: str) -> None:
        # One line only: multi-line detail belongs in the output before the error.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self.args[0])
