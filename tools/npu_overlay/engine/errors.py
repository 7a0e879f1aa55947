"""The one exception the engine raises for problems a user can fix."""


class OverlayError(Exception):
    """Printed by apply.py as a single line on stderr, followed by exit status ``exit_code``.

    Everything the user can cause (bad lock, missing commit, dirty tree, drifted
    patch) becomes one of these; anything else is a bug and keeps its traceback.
    This class itself is a refusal after a check found problems (a dirty tree, a
    patch that no longer applies, a tree that is not pin + series): exit 1.
    """

    exit_code = 1


class BadInput(OverlayError):
    """Bad input: a malformed lock, series or patch, an unusable upstream source or
    destination (README's convention: exit 2)."""

    exit_code = 2


class MissingDependency(OverlayError):
    """A package the step needs is not installed: apply.py exits 2 and names what to install."""

    exit_code = 2


def git_stderr(exc) -> str:
    """What git itself wrote on stderr (GitPython wraps it in "\\n  stderr: '...'")."""
    text = exc.stderr or ""
    prefix = "\n  stderr: '"
    if text.startswith(prefix) and text.endswith("'"):
        text = text[len(prefix) : -1]
    return text
