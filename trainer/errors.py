"""The trainer's own errors: the CLI prints them as one line and exits 2."""


class TrainerError(Exception):
    """A problem the user can fix (missing data, a wrong flag, a missing extra)."""


class ExportRefused(TrainerError):
    """The exported model would not behave like the checkpoint (ONNX vs torch parity failed)."""
