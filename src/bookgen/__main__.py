from __future__ import annotations

import sys

from bookgen.cli import main

sys.exit(main())
