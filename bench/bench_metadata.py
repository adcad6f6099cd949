"""Metadata benchmark: Airflow's own database under a day of event-driven runs, cleaned hourly.

    .venv/bin/python bench/bench_metadata.py [--hours 24] [--every 3] [--cleanings 2] [--keep]

On a fresh PostgreSQL metadata database (migrated, both DAGs serialized into it):

1. **fill**: `--hours` of `bugzilla_push` runs, one every `--every` seconds (24 h at 3 s = 28,800),
   each as a commit-triggered run leaves it: an asset event, four task instances (`read_pending`,
   `deliver` mapped over two connectors, `finalize`) and their XComs — bulk inserts, no task runs;
2. **time the UI's reads** against a real `airflow api-server` on that database (SimpleAuthManager,
   a token from `/auth/token`): `GET /api/v2/dags/bugzilla_push/dagRuns` (the newest 50) and the
   grid view's three calls (`/ui/grid/structure`, `/ui/grid/runs`, `/ui/grid/ti_summaries` for the
   runs shown), median of `--repeat` after one warm-up;
3. **clean as the hourly schedule would**, with the clock moved: the first cleaning when all but
   the newest `--kept` hours of the fill (default: half) are past `metadata_days` (3), then,
   `--cleanings` − 1 times, one more hour of runs is added and the clock moves an hour on before
   the next cleaning. Row counts before and after each; the counts after each cleaning stay flat
   from one to the next;
4. time the reads again.

After each bulk change the tables are ANALYZEd, as autovacuum would soon do in a deployment
(without statistics PostgreSQL plans Airflow's queries for an empty table). `--hours 73 --kept 72`
gives the steady state of the default retention: three days of runs.

Prints a markdown table of each step's row counts and the timings. The database is dropped at the
end unless `--keep`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bugzilla_push.airflow.metadata import clean_metadata  # noqa: E402
from scripts.stack_support import PG_HOST, PG_PORT, PG_USER, create_database, drop_database  # noqa: E402
from tests.airflow_runs import add_runs  # noqa: E402
from tests.integration.console.server import ConsoleServer, free_port  # noqa: E402

DAG_ID = "bugzilla_push"
CLEANED = ("bugzilla_push", "bugzilla_push_maintenance")
TABLES = ("dag_run", "task_instance", "xcom", "asset_event", "dagrun_asset_event", "log")
METADATA_DAYS = 3
BATCH = 5_000


def airflow_env(database: str, workdir: Path) -> dict[str, str]:
    passwords = workdir / "passwords.json"
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))},
        "AIRFLOW_HOME": str(ROOT),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(workdir / "logs"),
    }


def airflow(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"airflow {' '.join(args)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


def fill(engine: sa.Engine, start: datetime, hours: float, every: float) -> float:
    began = time.monotonic()
    n = int(hours * 3600 / every)
    add_runs(engine, DAG_ID, [start + timedelta(seconds=i * every) for i in range(n)])
    analyze(engine)
    return time.monotonic() - began


def analyze(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))


def time_reads(server: ConsoleServer, repeat: int) -> dict[str, float]:
    """Median seconds of each UI read (after one warm-up), newest runs first as the UI asks."""
    token = server.token("admin")
    timings: dict[str, float] = {}
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as api:

        def timed(label: str, path: str, params: dict | None = None) -> httpx.Response:
            answer, samples = None, []
            for i in range(repeat + 1):
                began = time.perf_counter()
                answer = api.get(path, params=params)
                elapsed = time.perf_counter() - began
                answer.raise_for_status()
                if i:
                    samples.append(elapsed)
            timings[label] = statistics.median(samples)
            return answer

        timed(
            "GET /api/v2/dags/bugzilla_push/dagRuns (50)",
            f"/api/v2/dags/{DAG_ID}/dagRuns",
            {"limit": 50, "order_by": "-run_after"},
        )
        for limit in (10, 100):
            grid = {"limit": limit, "order_by": "-run_after"}
            timed(f"grid ({limit} runs): /ui/grid/structure", f"/ui/grid/structure/{DAG_ID}", grid)
            runs = timed(f"grid ({limit} runs): /ui/grid/runs", f"/ui/grid/runs/{DAG_ID}", grid).json()
            ids = [r["run_id"] for r in runs]
            assert len(ids) == limit, f"the grid shows {len(ids)} runs, not {limit}"
            timed(
                f"grid ({limit} runs): /ui/grid/ti_summaries",
                f"/ui/grid/ti_summaries/{DAG_ID}",
                {"run_ids": ids},
            )
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=24.0, help="hours of runs in the fill (24)")
    parser.add_argument("--every", type=float, default=3.0, help="seconds between runs (3)")
    parser.add_argument("--kept", type=float, help="hours of the fill the first cleaning keeps (half)")
    parser.add_argument("--cleanings", type=int, default=2, help="hourly cleanings (2)")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per read (5)")
    parser.add_argument("--keep", action="store_true", help="keep the metadata database")
    args = parser.parse_args()

    database = create_database("bp_bench_meta")
    workdir = Path(tempfile.mkdtemp(prefix="bench-metadata-"))
    env = airflow_env(database, workdir)
    password = secrets.token_urlsafe(12)
    (workdir / "passwords.json").write_text(json.dumps({"admin": password}))
    engine = sa.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    server = ConsoleServer(f"http://127.0.0.1:{free_port()}", env, {"admin": password}, workdir / "api.log")
    steps: list[tuple[str, dict[str, int], float | None]] = []
    try:
        airflow(env, "db", "migrate")
        airflow(env, "dags", "reserialize")
        steps.append(("empty (migrated, DAGs serialized)", counts(engine), None))
        end = datetime.now(UTC).replace(microsecond=0)
        took = fill(engine, end - timedelta(hours=args.hours), args.hours, args.every)
        steps.append((f"filled: {args.hours:g} h of runs, one every {args.every:g} s", counts(engine), took))
        server.start()
        before_reads = time_reads(server, args.repeat)
        # The first cleaning when all but the newest `kept` hours are past metadata_days, then hourly.
        kept = args.hours / 2 if args.kept is None else args.kept
        clock = end + timedelta(days=METADATA_DAYS) - timedelta(hours=kept)
        for n in range(1, args.cleanings + 1):
            if n > 1:
                took = fill(engine, end + timedelta(hours=n - 2), 1, args.every)
                steps.append((f"one more hour of runs (clock {clock:%d %H:%M})", counts(engine), took))
            report = clean_metadata(engine, CLEANED, clock - timedelta(days=METADATA_DAYS), BATCH)
            analyze(engine)
            steps.append((f"cleaning {n} (clock {clock:%d %H:%M})", counts(engine), report.seconds))
            clock += timedelta(hours=1)
        after_reads = time_reads(server, args.repeat)
    finally:
        server.stop()
        engine.dispose()
        if args.keep:
            print(f"kept metadata database {database}", file=sys.stderr)
        else:
            drop_database(database)

    print(f"\nMetadata rows ({', '.join(TABLES)}), `metadata_days` = {METADATA_DAYS}, batches of {BATCH:,}\n")
    print("| step | " + " | ".join(TABLES) + " | seconds |")
    print("|---|" + "---:|" * (len(TABLES) + 1))
    for label, rows, seconds in steps:
        cells = " | ".join(f"{rows[t]:,}" for t in TABLES)
        print(f"| {label} | {cells} | {'' if seconds is None else f'{seconds:.1f}'} |")
    print("\nUI reads against `airflow api-server`, median of", args.repeat, "(seconds)\n")
    print("| read | after the fill | after the cleanings |")
    print("|---|---:|---:|")
    for label, seconds in before_reads.items():
        print(f"| {label} | {seconds:.3f} | {after_reads[label]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
