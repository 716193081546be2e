"""``python -m controlplane.demo``: the one-shot demo (see :mod:`controlplane.demo.run`)."""

import sys

from controlplane.demo.run import main

sys.exit(main())
