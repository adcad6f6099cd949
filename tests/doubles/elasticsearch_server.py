"""TEST DOUBLE: an Elasticsearch-compatible HTTP server for tests and benchmarks, with fault injection.

No Elasticsearch server can be installed on these machines, so the connector's tests talk to this
one: a real HTTP/1.1 server on 127.0.0.1 (an ephemeral port) that the official client accepts (it
answers with the `X-Elastic-Product: Elasticsearch` header the client checks and honours the
`compatible-with` media types it sends). The cluster's state and versioning are in
:mod:`es_cluster`, mappings and queries in :mod:`es_fields`, faults in :mod:`es_faults`.

Endpoints: `HEAD|GET /`, `GET /_cluster/health`, `PUT|GET|HEAD|DELETE /_index_template/<name>`,
`PUT|HEAD|GET|DELETE /<index>`, `GET /<index>/_mapping`, `POST /_bulk` and `/<index>/_bulk`
(NDJSON), `GET|PUT|DELETE /<index>/_doc/<id>`, `GET|POST /<index>/_search` and `_count`,
`POST /_refresh` and `/<index>/_refresh`.

Faults, set from a test (:class:`Faults`): an item status (429, 400, 403, 503…) for chosen
positions in a bulk request, document ids or an index; a whole-request status (503, 401…);
a slow response (the request is applied, the answer comes late); a dropped connection (the
request is read, not applied, and the socket closed); `auto_create_index` off; required
credentials. Every request is recorded in :attr:`EsTestServer.requests`.

Run it by hand: `python -m tests.doubles.elasticsearch_server [port]`.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from tests.doubles.elasticsearch_cluster import VERSION, Cluster
from tests.doubles.elasticsearch_faults import ITEM_ERRORS, REQUEST_ERRORS, Faults
from tests.doubles.elasticsearch_fields import EsError

_COMPAT = re.compile(r"compatible-with=(\d+)")


@dataclass(frozen=True)
class RequestRecord:
    """A request as the double saw it: for spies in tests."""

    method: str
    path: str
    items: tuple[tuple[str, str, str, int | None], ...] = ()  # bulk: (op, index, id, version)
    status: int | None = None
    item_statuses: tuple[int, ...] = ()  # bulk: each item's answer, in order

    @property
    def clean(self) -> bool:
        """Answered 2xx with no item refused for a reason worth retrying (429, 5xx)."""
        ok = self.status is not None and 200 <= self.status < 300
        return ok and not any(s == 429 or s >= 500 for s in self.item_statuses)


class EsTestServer:
    """TEST DOUBLE of an Elasticsearch 9 cluster over HTTP; use as a context manager.

    :param users: if given, `{login: password}` required by basic authentication
    :param api_keys: if given (with or without `users`), API keys accepted as `ApiKey <key>`
    :param port: 0 for an ephemeral port
    """

    def __init__(
        self, users: dict[str, str] | None = None, api_keys: set[str] | None = None, port: int = 0
    ) -> None:
        self.cluster = Cluster()
        self.faults = Faults()
        self.users = users
        self.api_keys = api_keys
        self.requests: list[RequestRecord] = []
        self._released = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.double = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="es-test-double", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()  # slow responses finish now
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def bulk_requests(self) -> list[RequestRecord]:
        return [r for r in list(self.requests) if r.path.endswith("_bulk")]

    def reset(self) -> None:
        """Forget every index, template, fault and recorded request."""
        self.cluster = Cluster()
        self.faults.clear()
        self.requests.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "es-test-double"
    wbufsize = 64 * 1024  # headers and body leave in one write; flushed after each request

    def setup(self) -> None:
        super().setup()
        # As Elasticsearch does: no Nagle delay (with delayed ACKs it costs 40 ms per response).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: the tests record requests in EsTestServer.requests instead

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET  # noqa: N815 - BaseHTTPRequestHandler's names

    @property
    def double(self) -> EsTestServer:
        return self.server.double  # type: ignore[attr-defined]

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        double = self.double
        fault = double.faults.take_request_fault(path)
        items: tuple[tuple[str, str, str, int | None], ...] = ()
        if fault is not None and fault.kind == "drop":
            double.requests.append(RequestRecord(self.command, path))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self._check_headers()
            if fault is not None and fault.kind == "status":
                etype, reason = REQUEST_ERRORS.get(fault.status, ("exception", "injected by the test double"))
                raise EsError(fault.status, etype, reason.format(path=path))
            self._authenticate(path)
            status, body, items = self._route(path, query, raw)
        except EsError as exc:
            status, body = exc.status, exc.body()
        except (ValueError, KeyError, TypeError) as exc:
            status, body = (
                400,
                EsError(400, "parse_exception", f"test double cannot read the request: {exc}").body(),
            )
        statuses = ()
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            statuses = tuple(next(iter(item.values()))["status"] for item in body["items"])
        double.requests.append(RequestRecord(self.command, path, items, status, statuses))
        if fault is not None and fault.kind == "delay":
            double._released.wait(fault.seconds)
        self._reply(status, body)

    def _check_headers(self) -> None:
        for header in ("Accept", "Content-Type"):
            match = _COMPAT.search(self.headers.get(header) or "")
            if match and match[1] not in ("8", "9"):
                raise EsError(
                    400,
                    "media_type_header_exception",
                    f"Invalid media-type value on headers [{header}]: compatible-with={match[1]} "
                    f"is not supported by Elasticsearch {VERSION}",
                )

    def _authenticate(self, path: str) -> None:
        double = self.double
        if double.users is None and double.api_keys is None:
            return
        given = self.headers.get("Authorization") or ""
        scheme, _, value = given.partition(" ")
        if scheme == "Basic" and double.users is not None:
            login, _, password = base64.b64decode(value).decode().partition(":")
            if double.users.get(login) == password:
                return
        if scheme == "ApiKey" and double.api_keys is not None and value in double.api_keys:
            return
        raise EsError(401, "security_exception", f"unable to authenticate user for REST request [{path}]")

    def _reply(self, status: int, body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        accept = self.headers.get("Accept") or ""
        ctype = (
            "application/vnd.elasticsearch+json;compatible-with=9"
            if "vnd.elasticsearch" in accept
            else "application/json"
        )
        try:
            self.send_response(status)
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Type", ctype)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="security", charset="UTF-8"')
            self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout): nothing to answer

    # -- routing ---------------------------------------------------------------------------------

    def _route(self, path: str, query: dict[str, str], raw: bytes) -> tuple[int, Any, tuple]:
        cluster = self.double.cluster
        method = self.command
        segs = [s for s in path.split("/") if s]
        body = json.loads(raw) if raw and not path.endswith("_bulk") else {}
        ignore = query.get("ignore_unavailable") == "true"
        if not segs:
            return 200, _info(), ()
        if segs == ["_cluster", "health"]:
            return 200, {"cluster_name": "es-test-double", "status": "green", "number_of_nodes": 1}, ()
        if segs[0] == "_index_template" and len(segs) == 2:
            if method == "PUT":
                return 200, cluster.put_template(segs[1], body), ()
            if method == "DELETE":
                return 200, cluster.delete_template(segs[1]), ()
            found = cluster.get_template(segs[1])
            return 200, None if method == "HEAD" else found, ()
        if segs[-1] == "_bulk" and len(segs) <= 2:
            return self._bulk(segs[0] if len(segs) == 2 else None, query, raw)
        if segs[-1] == "_refresh":
            return 200, cluster.refresh(segs[0] if len(segs) == 2 else "_all", ignore), ()
        if segs[-1] == "_search":
            expr = segs[0] if len(segs) == 2 else "_all"
            body = {**body, **({"size": query["size"]} if "size" in query else {})}
            return 200, cluster.search(expr, body, ignore), ()
        if segs[-1] == "_count":
            return 200, cluster.count(segs[0] if len(segs) == 2 else "_all", body), ()
        if len(segs) == 2 and segs[1] == "_mapping":
            return 200, {n: {"mappings": d["mappings"]} for n, d in cluster.describe(segs[0]).items()}, ()
        if len(segs) == 3 and segs[1] in ("_doc", "_create"):
            return self._doc(segs[0], segs[2], "create" if segs[1] == "_create" else None, query, body)
        if len(segs) == 1:
            if method == "PUT":
                index = cluster.create_index(segs[0], body)
                return 200, {"acknowledged": True, "shards_acknowledged": True, "index": index.name}, ()
            if method == "DELETE":
                return 200, cluster.delete_index(segs[0]), ()
            described = cluster.describe(segs[0])
            return 200, None if method == "HEAD" else described, ()
        raise EsError(400, "illegal_argument_exception", f"test double: no handler for [{method} {path}]")

    def _doc(
        self, index: str, doc_id: str, op: str | None, query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, Any, tuple]:
        cluster = self.double.cluster
        if self.command in ("GET", "HEAD"):
            found = cluster.get(index, doc_id)
            return (200 if found["found"] else 404), (None if self.command == "HEAD" else found), ()
        meta = {
            "_index": index,
            "_id": doc_id,
            **{k: query[k] for k in ("version", "version_type") if k in query},
        }
        item = cluster.write(op or ("delete" if self.command == "DELETE" else "index"), meta, body)
        status = item.pop("status")
        if "error" in item:
            raise EsError(status, item["error"]["type"], item["error"]["reason"])
        if query.get("refresh") in ("true", "", "wait_for"):
            cluster.refresh(index)
        return status, item, ((self.command, index, doc_id, meta.get("version")),)

    def _bulk(self, default_index: str | None, query: dict[str, str], raw: bytes) -> tuple[int, Any, tuple]:
        started = time.monotonic()
        cluster, faults = self.double.cluster, self.double.faults
        lines = raw.split(b"\n")
        actions: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        i = 0
        while i < len(lines):
            if not lines[i].strip():
                i += 1
                continue
            ((op, meta),) = json.loads(lines[i]).items()
            meta = {"_index": default_index, **meta}
            if op not in ("index", "create", "update", "delete"):
                raise EsError(400, "illegal_argument_exception", f"Malformed action/metadata line [{i + 1}]")
            _validate_action(op, meta)
            source = None
            if op != "delete":
                i += 1
                source = json.loads(lines[i])
            actions.append((op, meta, source))
            i += 1
        if not actions:
            raise EsError(
                400, "action_request_validation_exception", "Validation Failed: 1: no requests added;"
            )
        items = []
        touched = set()
        for position, (op, meta, source) in enumerate(actions):
            injected = faults.take_item_fault(position, meta)
            if injected is not None:
                etype, reason = ITEM_ERRORS.get(injected, ("exception", "injected by the test double"))
                result = {"_index": meta["_index"], "_id": meta.get("_id"), "status": injected}
                result["error"] = {"type": etype, "reason": reason, "index": meta["_index"]}
            else:
                result = cluster.write(op, meta, source)
            touched.add(meta["_index"])
            items.append({op: result})
        if query.get("refresh") in ("true", "", "wait_for"):
            cluster.refresh(",".join(touched), ignore_unavailable=True)
        record = tuple((op, m["_index"], str(m.get("_id")), m.get("version")) for op, m, _ in actions)
        errors = any("error" in next(iter(item.values())) for item in items)
        took = int((time.monotonic() - started) * 1000)
        return 200, {"errors": errors, "took": took, "items": items}, record


def _validate_action(op: str, meta: dict[str, Any]) -> None:
    """Reject a bulk request as a whole, as Elasticsearch's request validation does."""
    vtype = meta.get("version_type")
    if not meta.get("_index"):
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;")
    if vtype in ("external", "external_gte"):
        if op == "create":
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: create operations only support internal versioning. "
                "use index instead;",
            )
        if op == "update":
            raise EsError(
                400,
                "action_request_validation_exception",
                f"Validation Failed: 1: version type [{vtype}] is not supported by the update API;",
            )
        if "version" not in meta or int(meta["version"]) < 0:
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: illegal version value [-3];",
            )


def _info() -> dict[str, Any]:
    return {
        "name": "es-test-double",
        "cluster_name": "es-test-double",
        "cluster_uuid": "test-double-cluster-uuid",
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "tar",
            "lucene_version": "10.2.2",
            "minimum_wire_compatibility_version": "8.19.0",
            "minimum_index_compatibility_version": "8.0.0",
        },
        "tagline": "You Know, for Search",
    }


def main() -> None:
    """Serve until interrupted (for the benchmark and by hand): prints the URL on its first line."""
    server = EsTestServer(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
