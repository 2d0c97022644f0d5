"""What the torch-free path does not reproduce (a leaf module: the converters raise it, a
forward catches it without importing them)."""


class Unsupported(Exception):
    """What the torch-free path does not reproduce for a layer: the net takes the torch path
    (the message goes to the debug log)."""
