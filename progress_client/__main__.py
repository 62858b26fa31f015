"""``python -m progress_client``: the same as the ``progress-client`` command."""

import sys

from .cli import main

sys.exit(main())
