"""The one error type users see as a single line (no traceback)."""


class MenweiError(Exception):
    """An error with a stable machine-readable code and a one-line human message."""

    code = "error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


def fields_error(exc, prefix: str = "") -> str:
    """One line naming each field a pydantic ValidationError refused: `prefix` + `a.b: message; …`."""
    return "; ".join(f"{prefix}{'.'.join(str(x) for x in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors())
