"""Benchmark: the Elasticsearch connector's `send()` against the client's bare `helpers.bulk`.

Both run in this one process, at the same moment, against the same Elasticsearch test double (a
separate process, `python -m tests.doubles.elasticsearch_server`), over the same realistic messages (the
simulator's bugs, comments and attachments, 10 % private bugs), alternating A/B/B/A so drift hits
both alike. `helpers.bulk` indexes each message's raw object into indices without a template
(dynamic mapping; no versioning, no privacy, no per-item classification): the floor any indexer
pays. The connector builds its documents, writes
them with external versions and privacy deletes, and classifies every item. Fresh indices per
repetition, so every write is a real write (no 409s).

    .venv/bin/python bench/bench_elasticsearch.py [--messages 20000] [--repetitions 5]

Prints a table and one JSON line. The target is a ratio of at least 0.8.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test double and the sample helpers live under tests/

from elasticsearch import Elasticsearch, helpers  # noqa: E402

from bugzilla_push.connectors.base import ConnectionInfo  # noqa: E402
from bugzilla_push.connectors.elasticsearch.connector import ElasticsearchConnector  # noqa: E402
from tests.elasticsearch_support import sample_messages  # noqa: E402

if TYPE_CHECKING:
    from bugzilla_push.model import PushMessage

CHUNK = 500  # the engine's default chunk: messages per send(); also helpers.bulk's default chunk_size
TARGET_RATIO = 0.8


def start_double() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.doubles.elasticsearch_server"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = (proc.stdout.readline() if proc.stdout else "").strip()
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit(f"the Elasticsearch test double did not start (said {url!r})")
    return proc, url


def bare_bulk(es: Elasticsearch, messages: list[PushMessage], rep: int) -> float:
    def actions():  # noqa: ANN202
        for m in messages:
            yield {"_index": f"bare-{rep}-{m.target}", "_id": str(m.object["id"]), "_source": m.object}

    started = time.perf_counter()
    ok, errors = helpers.bulk(es, actions(), chunk_size=CHUNK)
    seconds = time.perf_counter() - started
    if ok != len(messages) or errors:
        raise SystemExit(f"helpers.bulk indexed {ok} of {len(messages)}: {errors}")
    return seconds


def connector_send(url: str, messages: list[PushMessage], rep: int) -> float:
    host, port = url.removeprefix("http://").split(":")
    extra = {
        "bugs_index": f"conn-{rep}-bugs",
        "comments_index": f"conn-{rep}-comments",
        "attachments_index": f"conn-{rep}-attachments",
        "template_name": f"conn-{rep}",
    }
    info = ConnectionInfo("elasticsearch", "elasticsearch", host, int(port), schema="http", extra=extra)
    with ElasticsearchConnector.from_connection(info) as connector:
        started = time.perf_counter()
        for start in range(0, len(messages), CHUNK):
            outcomes = connector.send(messages[start : start + CHUNK])
            assert len(outcomes) == len(messages[start : start + CHUNK]), outcomes[-1]
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()

    probe = ElasticsearchConnector("probe", "http://unused:9200")
    messages = [m for m in sample_messages(args.messages, seed=42, private_ratio=0.1) if probe.should_send(m)]
    proc, url = start_double()
    timings: dict[str, list[float]] = {"helpers.bulk": [], "connector": []}
    try:
        with Elasticsearch(url, request_timeout=120) as es:
            for rep in range(args.repetitions):
                order = ["helpers.bulk", "connector"] if rep % 2 == 0 else ["connector", "helpers.bulk"]
                for name in order:
                    if name == "helpers.bulk":
                        timings[name].append(bare_bulk(es, messages, rep))
                    else:
                        timings[name].append(connector_send(url, messages, rep))
                es.options(ignore_status=404).indices.delete(index=f"bare-{rep}-*,conn-{rep}-*")
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    rate = {name: len(messages) / statistics.median(t) for name, t in timings.items()}
    best = {name: len(messages) / min(t) for name, t in timings.items()}
    ratio = rate["connector"] / rate["helpers.bulk"]
    # Each repetition's pair ran back to back: the median of their ratios shrugs off a busy moment.
    paired = statistics.median(
        b / c for b, c in zip(timings["helpers.bulk"], timings["connector"], strict=True)
    )
    print(
        f"{len(messages):,} messages, chunks of {CHUNK}, {args.repetitions} repetitions, test double at {url}"
    )
    print(f"{'':14} {'median docs/s':>14} {'best docs/s':>12}  seconds per repetition")
    for name in timings:
        runs = " ".join(f"{t:.2f}" for t in timings[name])
        print(f"{name:14} {rate[name]:>14,.0f} {best[name]:>12,.0f}  {runs}")
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(
        f"ratio connector / helpers.bulk: {ratio:.2f} ({verdict} the target of {TARGET_RATIO}); "
        f"median of the per-repetition ratios {paired:.2f}"
    )
    print(
        json.dumps(
            {
                "benchmark": "elasticsearch",
                "messages": len(messages),
                "repetitions": args.repetitions,
                "helpers_bulk_docs_per_s": round(rate["helpers.bulk"]),
                "connector_docs_per_s": round(rate["connector"]),
                "ratio": round(ratio, 3),
                "paired_ratio": round(paired, 3),
                "target": TARGET_RATIO,
            }
        )
    )


if __name__ == "__main__":
    main()
