"""Shared test settings: bounded hypothesis runs by default, a deeper opt-in profile.

    ARCHSPEC_HYPOTHESIS=deep pytest     # 20x more examples per property
"""

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# the fuzzer's deep profile: ARCHSPEC_HYPOTHESIS=fuzz pytest tests/test_fuzz.py (about 10**5 cases over its 6 properties)
settings.register_profile("fuzz", max_examples=17_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("ARCHSPEC_HYPOTHESIS", "default"))

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
