"""``python -m mixedfit``: the command line (see :mod:`mixedfit.cli`)."""

from mixedfit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
