"""Shared test configuration: hypothesis profiles.

``ci`` (loaded when the environment variable ``CI`` is ``"true"``) is derandomized, so a
CI run is reproducible, and has no deadline, since the machine is shared. ``dev`` (the
default) draws fresh examples each run, also without a deadline.
"""

from __future__ import annotations

import os

from hypothesis import settings

# tests/typing/ holds programs that mypy checks (tests/test_typing.py) and pytest never runs.
collect_ignore = ["typing"]

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")
