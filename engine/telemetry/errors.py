"""The one error type the telemetry layer raises for unreadable or inconsistent input."""


class TelemetryError(ValueError):
    """A telemetry file is missing, truncated, or not in the expected format.

    The message names the file and says what was expected.
    """
