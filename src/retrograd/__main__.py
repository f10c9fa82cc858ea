"""``python -m retrograd show path/to/file.py:function`` (same as the ``retrograd`` command)."""

import sys

from retrograd import cli

if __name__ == "__main__":
    sys.exit(cli.main())
