"""What the entry points share: flag parsing and user errors reported as one line, not a traceback."""

import sys

from absl import app, flags, logging

from mtm_jax.errors import UserError
from mtm_jax.experiment import ConfigError


def _one_line(err: BaseException) -> str:
  return " ".join(str(err).split())


def _parse(argv):
  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError) as err:  # ml_collections: an override names a missing key
    overrides = [a.split("=")[0] for a in argv[1:] if a.startswith("--config.")]
    sys.exit(f"error: unknown config key {_one_line(err)} in {overrides}; see the config file for the keys it has")
  except (flags.Error, ValueError, TypeError) as err:
    sys.exit(f"error: {_one_line(err)}")


def run(main, choices: tuple[str, ...] = (), variadic: bool = False) -> None:
  """app.run(main) with one-line errors for bad flags, UserError, FloatingPointError and OSError.

  ``choices``: main takes one positional argument, which must be one of these; ``variadic``: main takes
  every positional argument.
  """

  def guarded(argv):
    if choices and (len(argv) != 2 or argv[1] not in choices):
      sys.exit(f"error: expected one positional argument, one of {list(choices)}; got {argv[1:]}")
    if not choices and not variadic and len(argv) > 1:
      sys.exit(f"error: unexpected arguments {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    try:
      main(*argv[1:])
    except ConfigError as err:  # one line per violation
      sys.exit("\n".join(f"error: {line}" for line in str(err).splitlines()[1:]))
    except (UserError, FloatingPointError, OSError) as err:  # OSError: unreadable config file, full disk
      sys.exit(f"error: {_one_line(err)}")
    except KeyboardInterrupt:
      sys.exit("error: interrupted; rerun the same command to resume from the last checkpoint")

  app.run(guarded, flags_parser=_parse)
