"""The exception type of matlab_ports.

Every function of the package reports bad input (wrong class, shape, argument value, an unreadable
or malformed file) with :class:`PortError`; the message names the argument or file and says what
was expected. Catching ``PortError`` is enough for callers; the subclasses only refine it.
"""


class PortError(Exception):
    """Bad input or an unsupported request, with the argument or file named in the message."""


class PortFileError(PortError):
    """A file that is missing, unreadable, or not in the expected format (path in the message)."""
