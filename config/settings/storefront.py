"""The storefront demo (docs/demo.md): whether / is the demo shop."""
import os

from .env import parse_bool

# "auto": / is the demo storefront when the demo shop is loaded (`manage.py demo`), else a landing
# page; 1/0 force demo mode on/off. Demo mode hands the page a demo-scope token (lists, events and
# feedback of demo shoppers only) and shows the merchandiser's demo login.
_demo_mode = os.environ.get("CURIO_DEMO_MODE", "")
DEMO_MODE = "auto" if _demo_mode.strip().lower() in {"", "auto"} else parse_bool("CURIO_DEMO_MODE", _demo_mode)
