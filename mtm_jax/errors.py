"""The one exception type for mistakes a user can fix (bad config, missing data, bad workdir)."""


class UserError(ValueError):
  """Raised with a one-line message that says what was wrong and how to fix it."""
