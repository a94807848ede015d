"""``python -m cselink``: the command line."""

from .cli import main

raise SystemExit(main())
