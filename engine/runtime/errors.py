class CommandRejected(Exception):
    """The command no longer applies to the instance's state (e.g. its job is gone); recorded, no effect."""


class IncidentRaised(Exception):
    """A behaviour could not proceed (bad expression, no matching flow ...); becomes an Incident row."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
