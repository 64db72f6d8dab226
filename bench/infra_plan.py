"""Offline plan time and resource count for 1, 10, 100 and 500 models.

Generates throwaway model folders (copies of basic_template's config), plans a
stack with N of them under Pulumi's mocks, and prints seconds and resources.
Targets: resources grow exactly linearly with models; 100 models plan in < 10 s.
Usage: python bench/infra_plan.py [N ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_models(count: int) -> list[str]:
    from pipelines.config import registry
    from pipelines.models.basic_template import config as template

    root = Path(tempfile.mkdtemp(prefix="fullcycle-bench-models-"))
    package = root / "bench_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    source = Path(template.__file__).read_text()
    names = [f"m{i:04d}" for i in range(count)]
    for name in names:
        (package / name).mkdir()
        (package / name / "__init__.py").write_text("")
        (package / name / "config.py").write_text(source)
    sys.path.insert(0, str(root))
    registry.MODELS_DIR, registry.MODELS_PACKAGE = package, "bench_models"
    return names


def main() -> None:
    from infra.plan import plan
    from pipelines.stack.config import StackConfig

    counts = [int(a) for a in sys.argv[1:]] or [1, 10, 100, 500]
    names = make_models(max(counts))
    base = {"gcp:project": "acme-ml-prod", "fullcycle:runnerImage": "img:1"}
    rows = []
    for count in counts:
        started = time.perf_counter()
        config = StackConfig.from_mapping(
            {**base, "fullcycle:models": [{"name": n} for n in names[:count]]}, "bench")
        planned = plan(config)
        seconds = time.perf_counter() - started
        rows.append((count, len(planned.custom), seconds))
        print(f"{count:5d} models  {len(planned.custom):6d} resources  {seconds:7.2f} s  "
              f"({seconds / count * 1000:6.1f} ms/model)", flush=True)
    pairs = zip(rows, rows[1:], strict=False)
    per_model = {(r2 - r1) / (c2 - c1) for (c1, r1, _), (c2, r2, _) in pairs}
    shared = rows[0][1] - rows[0][0] * next(iter(per_model))
    print(f"resources = {shared:.0f} shared + {sorted(per_model)} per model "
          f"({'exactly linear' if len(per_model) == 1 else 'NOT linear'})")
    for count, _, seconds in rows:
        if count == 100:
            print(f"100 models plan in {seconds:.2f} s (target < 10 s)")


if __name__ == "__main__":
    main()
