"""Writes the Python client's built-in profiles as JSON for the npm package (js/profiles/
profiles.json), read by progress_client's own loader, so both languages read the same data:

    python js/scripts/export_profiles.py > js/profiles/profiles.json

(``progress-client profiles export --format json`` gives the same data where it exists.)
tests/test_browser_profiles.py checks the committed file equals a fresh export."""

from __future__ import annotations

import json
import sys
from typing import Any

from progress_client.profiles.profile import builtin_names, load_profile


def export() -> dict[str, Any]:
    return {
        name: load_profile(name).model_dump(mode="json", by_alias=True, exclude_defaults=True)
        for name in builtin_names()
    }


if __name__ == "__main__":
    json.dump(export(), sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")
