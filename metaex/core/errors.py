"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""


class MetaexError(Exception):
    """Bad input or an impossible request: shown to the user as one line, exit code 2, no traceback."""

    exit_code = 2


class InputError(MetaexError):
    """A file or record that cannot be used; the message names file:line where there is one."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + " ".join(str(message).split()))
        self.path, self.line = path, line
