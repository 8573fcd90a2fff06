"""Errors of the training pipeline that are the user's to fix (a config value, a file), shown as
one line by ``train.py``."""


class ConfigError(ValueError):
    """A config value that cannot work, found before anything is read or trained."""
