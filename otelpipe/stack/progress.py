"""How long-running stack operations report what they are doing."""

from collections.abc import Callable

__all__ = ["Progress", "quiet"]

#: Receives one human-readable line per step (the CLI prints them to stderr).
Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    """The default :data:`Progress`: report nothing."""
