"""Errors a person sees: each names the problem and the fix."""


class UserError(Exception):
    """A problem the user can fix (bad file, bad setting, bad flag); printed on one line."""


class ConfigError(UserError):
    """A configuration file or setting is wrong; the message names the file and the key."""
