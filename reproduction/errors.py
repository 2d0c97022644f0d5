"""The reproduction's own error type."""


class ReproductionError(Exception):
    """Bad input or state of the reproduction (a file, folder or option), with what to fix."""
