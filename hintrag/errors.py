"""Exceptions: user-facing configuration and input errors, and a failed pipeline step."""


class ConfigError(Exception):
    """Bad input the user can fix; the message names the fix. run.py prints it without a traceback."""


class NothingToDo(ConfigError):
    """A stage found nothing to work on (e.g. no successful episode to train on); a pipeline goes on."""


class StepFailed(Exception):
    """A pipeline step failed in a worker process; its traceback was printed, the finished steps are kept."""
