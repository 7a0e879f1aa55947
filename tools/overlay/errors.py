"""The one exception the engine raises for problems a user can fix."""


class OverlayError(Exception):
    """Printed by apply.py as a single line on stderr, followed by a non-zero exit.

    Everything the user can cause (bad lock, missing commit, dirty tree, drifted
    patch) becomes one of these; anything else is a bug and keeps its traceback.
    """


class MissingDependency(OverlayError):
    """A package the step needs is not installed: apply.py exits 2 and names what to install."""


def git_stderr(exc) -> str:
    """What git itself wrote on stderr (GitPython wraps it in "\\n  stderr: '...'")."""
    text = exc.stderr or ""
    prefix = "\n  stderr: '"
    if text.startswith(prefix) and text.endswith("'"):
        text = text[len(prefix) : -1]
    return text
