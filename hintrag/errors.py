"""One exception type for user-facing configuration and input errors."""


class ConfigError(Exception):
    """Bad input the user can fix; the message names the fix. run.py prints it without a traceback."""


class NothingToDo(ConfigError):
    """A stage found nothing to work on (e.g. no successful episode to train on); a pipeline goes on."""
