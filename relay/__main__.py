"""`python -m relay` is `bsm-relay`."""

import sys

from relay.cli import main

sys.exit(main())
