"""mkdocs hook: the pages and images that live elsewhere in the repository join the site
without a second copy: CHANGELOG.md, SECURITY.md, and the benchmark results (tables and plots
that ``benchmarks/run.py`` and the browser test write) under ``results/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"CHANGELOG.md": "changelog.md", "SECURITY.md": "security.md"}
RESULTS = ROOT / "benchmarks" / "results"
SHOWN = {".md", ".png"}


def on_files(files: Files, config: Any) -> Files:
    for source, name in PAGES.items():
        files.append(File.generated(config, name, abs_src_path=str(ROOT / source)))
    for path in sorted(RESULTS.iterdir()):
        # quick.md and partial.md are a developer's local runs (ignored by git), not results.
        if path.suffix in SHOWN and path.name not in {"quick.md", "partial.md"}:
            files.append(File.generated(config, f"results/{path.name}", abs_src_path=str(path)))
    return files
