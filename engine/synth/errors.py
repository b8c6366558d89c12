"""The error the generator raises for bad input: the message names the folder, type or service."""


class SynthError(ValueError):
    """A source folder, fault type, service or option the generator cannot use."""
