"""Scale: the stock TFX taxi example against ``fullcycle run taxi_tips`` at 100k and 1M rows.

In one run: TFX's stock Chicago-taxi pipeline on its 15k rows (the reference, as
in ``bench/local_pipeline.py``), then ``fullcycle run taxi_tips`` cold on a fresh
warehouse whose ``taxi_trips`` holds the 15k sample rows replicated, each copy with
new trip ids (deterministic), cut at 100,000 and at 1,000,000 rows. Each is timed
wall-clock in a fresh process, with the peak resident memory of its whole process
tree (sampled every 0.1 s).

Targets: t(1M) <= 1.5 x t(stock); t(1M) / t(100k) <= 8; peak(1M) <= 1.5 x peak(100k)
and < 4 GB.
Usage: python bench/data_scale.py [--skip-stock] [--rows 100000,1000000]
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root
from bench._workspace import PYTHON, component_seconds, fresh_workspace, run_measured, stock_taxi  # noqa: E402

GB = 1024 ** 3


def scale_taxi_trips(warehouse: Path, rows: int) -> None:
    """Replaces ``taxi_trips`` by its rows repeated (new trip ids per copy) up to ``rows``."""
    con = duckdb.connect(str(warehouse))
    try:
        sample = con.sql("SELECT count(*) FROM taxi_trips").fetchone()[0]
        copies = -(-rows // sample)
        con.execute(f"""
            CREATE TABLE scaled AS
            SELECT (copy.range * {sample} + t.trip_id)::BIGINT AS trip_id, t.* EXCLUDE (trip_id)
            FROM taxi_trips AS t, range({copies}) AS copy
            ORDER BY copy.range, t.trip_id
            LIMIT {rows}""")
        con.execute("DROP TABLE taxi_trips")
        con.execute("ALTER TABLE scaled RENAME TO taxi_trips")
    finally:
        con.close()


def main() -> None:
    sizes = [100_000, 1_000_000]
    if "--rows" in sys.argv:
        sizes = [int(n) for n in sys.argv[sys.argv.index("--rows") + 1].split(",")]
    work, env = fresh_workspace("scale")
    results: dict[str, tuple[float, int]] = {}
    if "--skip-stock" not in sys.argv:
        results["stock"] = stock_taxi(work, env)
        print(f"stock TFX taxi pipeline (15k rows)   {results['stock'][0]:7.1f} s  "
              f"peak {results['stock'][1] / GB:5.2f} GB", flush=True)
    for rows in sizes:
        folder = work / f"rows{rows}"
        folder.mkdir()
        size_env = {**env, "FULLCYCLE_HOME": str(folder / "home"),
                    "FULLCYCLE_WAREHOUSE": str(folder / "warehouse.duckdb")}
        Path(size_env["FULLCYCLE_WAREHOUSE"]).write_bytes(
            Path(env["FULLCYCLE_WAREHOUSE"]).read_bytes())
        scale_taxi_trips(Path(size_env["FULLCYCLE_WAREHOUSE"]), rows)
        summary = folder / "summary.json"
        results[str(rows)] = run_measured(
            [PYTHON, "-m", "pipelines.cli.main", "run", "taxi_tips", "--json", str(summary)],
            size_env, folder / "run.log")
        seconds, peak = results[str(rows)]
        print(f"fullcycle run taxi_tips {rows:>9,} rows {seconds:7.1f} s  "
              f"peak {peak / GB:5.2f} GB", flush=True)
        print("  " + ", ".join(f"{name} {s:.1f}" for name, s in
                               component_seconds(summary).items() if s >= 0.5))
    print(f"logs in {work}")
    small, large = (results[str(n)] for n in (min(sizes), max(sizes)))
    if "stock" in results:
        print(f"scale 1M vs stock ratio: {large[0] / results['stock'][0]:.2f} (target <= 1.5)")
    print(f"scale time ratio: {large[0] / small[0]:.2f} (target <= 8)")
    print(f"scale memory ratio: {large[1] / small[1]:.2f} (target <= 1.5)")
    print(f"peak memory 1M GB: {large[1] / GB:.2f} (target <= 4)")


if __name__ == "__main__":
    main()
