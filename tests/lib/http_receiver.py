#!/usr/bin/env python3
"""A loopback HTTP collector for sinch-logd's HTTP sink tests (standard
library only): prints ``http://HOST:PORT`` (or https) on its first line, then
serves until SIGTERM.

Every request goes to ``/KEY/ENDPOINT``: KEY names the sink under test (its
records are counted apart), ENDPOINT picks the format, validated strictly
after gzip decoding (Content-Encoding: gzip):

- ``ndjson``: JSON objects, one per line, and a final newline;
- ``json``: one JSON array of objects;
- ``services/collector/event``: Splunk HEC envelopes (time in seconds with a
  fraction equal to the record's time, host, source, sourcetype, optional
  index, event the record); with --hec-ack, a channel header is required and
  answers carry an ackId; ``services/collector/ack`` answers for them;
- ``_bulk``: Elasticsearch action/source pairs (create or index, _index,
  _id equal to the record id, @timestamp equal to its time), answered item by
  item (create of an _id already indexed: 409);
- ``loki/api/v1/push``: streams with distinct label sets, labels matching
  each record (function, level), nanosecond timestamps as strings equal to
  the record's time, in order within each stream;
- ``v1/logs``: OTLP/HTTP JSON logs (resource service.name = the function's
  name, severity number and text from the level, body.stringValue the
  record, timeUnixNano, attributes with log.record.uid = its id).

A body that breaks its format is answered 400 and listed in the state's
"errors" (tests assert there are none).

The state lists, per key, the line lengths of each ndjson request ("lines").

Control (JSON bodies): ``POST /_ctl/fault`` adds a fault, ``POST
/_ctl/clear`` removes them, ``GET /_ctl/state`` returns what was received.
A fault may name ``key`` (default: any) and applies to data requests
(``"ack": true``: to ack polls instead):

- ``{"status": 429, "count": 3, "retry_after": "1"}``: answer that status
  (and Retry-After) to the next requests (``"seconds": S`` for a while
  instead of a count);
- ``{"max_body": N}``: 413 for a decoded body over N bytes;
- ``{"reject_ids": [...]}``: content refused: ndjson and others answer 400
  for a request holding one; _bulk answers those items 400; HEC answers 400
  code 6 with the invalid-event-number of the first (earlier events count as
  indexed);
- ``{"retry_ids": [...], "count": K}``: _bulk answers those items 429 the
  first K times each;
- ``{"slow_ms": M, "count": N}``: wait M ms before answering;
- ``{"reset": N}``: read the request, then reset the connection;
- ``{"ack_delay_polls": P}``: HEC ackIds are false for the first P polls;
  ``{"ack_drop": N}``: the next N ackIds are never acknowledged.
"""

import argparse
import datetime
import gzip
import json
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LEVEL_SEVERITY = {"debug": (5, "DEBUG"), "info": (9, "INFO"), "warning": (13, "WARN"),
                  "error": (17, "ERROR")}
HEC_KEYS = {"time", "host", "source", "sourcetype", "index", "event", "fields"}

LOCK = threading.Lock()
STATE = {"ids": {}, "errors": [], "statuses": {}, "requests": {}, "inflight": {},
         "max_inflight": {}, "headers": {}, "ack_polls": 0, "bodies": {}, "log": {},
         "lines": {}}
FAULTS = []
ACKS = {}  # (key, channel) -> {"next": n, "ids": {id: polls_left or None (dropped)}}
BULK_SEEN = {}  # key -> set of _id
RETRY_SEEN = {}  # id -> times answered 429


class Invalid(Exception):
    pass


def record_ms(rec):
    t = datetime.datetime.strptime(rec["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    t = t.replace(tzinfo=datetime.timezone.utc)
    return int(round(t.timestamp() * 1000))


def check_record(rec, where):
    if not isinstance(rec, dict) or rec.get("schema") != 1 or not isinstance(rec.get("id"), str):
        raise Invalid("%s: not a sinch-logd record: %r" % (where, str(rec)[:200]))
    record_ms(rec)
    return rec


def parse_json(text, where):
    try:
        return json.loads(text)
    except ValueError as e:
        raise Invalid("%s: not JSON (%s): %r" % (where, e, text[:200]))


# ---- formats: each returns the list of records in the body --------------

def fmt_ndjson(body, _h):
    if not body.endswith(b"\n"):
        raise Invalid("ndjson: no final newline")
    lines = body[:-1].split(b"\n")
    return [check_record(parse_json(ln, "ndjson line %d" % i), "ndjson line %d" % i)
            for i, ln in enumerate(lines)]


def fmt_json(body, _h):
    arr = parse_json(body, "json_array")
    if not isinstance(arr, list) or not arr:
        raise Invalid("json_array: not a non-empty array")
    return [check_record(r, "json_array[%d]" % i) for i, r in enumerate(arr)]


def fmt_hec(body, _h):
    dec = json.JSONDecoder()
    text = body.decode("utf-8")
    pos, out = 0, []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos == len(text):
            break
        try:
            env, pos = dec.raw_decode(text, pos)
        except ValueError as e:
            raise Invalid("hec: envelope %d is not JSON: %s" % (len(out), e))
        where = "hec envelope %d" % len(out)
        if not isinstance(env, dict) or set(env) - HEC_KEYS:
            raise Invalid("%s: unexpected keys %r" % (where, env.keys()))
        for k in ("time", "host", "source", "sourcetype", "event"):
            if k not in env:
                raise Invalid("%s: no %s" % (where, k))
        for k in ("host", "source", "sourcetype", "index"):
            if k in env and (not isinstance(env[k], str) or not env[k]):
                raise Invalid("%s: %s is not a non-empty string" % (where, k))
        rec = check_record(env["event"], where)
        if not isinstance(env["time"], (int, float)) or \
                int(round(env["time"] * 1000)) != record_ms(rec):
            raise Invalid("%s: time %r is not the record's %s" % (where, env["time"], rec["time"]))
        out.append(rec)
    if not out:
        raise Invalid("hec: no event")
    return out


def fmt_bulk(body, _h):
    if not body.endswith(b"\n"):
        raise Invalid("bulk: no final newline")
    lines = body[:-1].split(b"\n")
    if len(lines) % 2:
        raise Invalid("bulk: %d lines: not action/source pairs" % len(lines))
    out = []
    for i in range(0, len(lines), 2):
        act = parse_json(lines[i], "bulk action %d" % (i // 2))
        if not isinstance(act, dict) or len(act) != 1 or list(act)[0] not in ("create", "index"):
            raise Invalid("bulk: line %d is not a create/index action: %r" % (i, lines[i][:200]))
        op, meta = list(act.items())[0]
        if not isinstance(meta.get("_index"), str) or meta["_index"] != meta["_index"].lower():
            raise Invalid("bulk: action %d: bad _index %r" % (i // 2, meta.get("_index")))
        src = check_record(parse_json(lines[i + 1], "bulk source %d" % (i // 2)),
                           "bulk source %d" % (i // 2))
        if meta.get("_id") != src["id"]:
            raise Invalid("bulk: action %d: _id %r is not the record's" % (i // 2, meta.get("_id")))
        if src.get("@timestamp") != src["time"]:
            raise Invalid("bulk: source %d: @timestamp %r" % (i // 2, src.get("@timestamp")))
        src["_op"], src["_index"] = op, meta["_index"]
        out.append(src)
    return out


def fmt_loki(body, _h):
    doc = parse_json(body, "loki")
    if not isinstance(doc, dict) or list(doc) != ["streams"] or not doc["streams"]:
        raise Invalid("loki: not {\"streams\": [...]}")
    out, seen = [], set()
    for si, st in enumerate(doc["streams"]):
        labels, values = st.get("stream"), st.get("values")
        if not isinstance(labels, dict) or not labels or not isinstance(values, list) or \
                not values or set(st) != {"stream", "values"}:
            raise Invalid("loki: stream %d malformed" % si)
        key = tuple(sorted(labels.items()))
        if key in seen:
            raise Invalid("loki: label set %r appears twice in one push" % (key,))
        seen.add(key)
        last = -1
        for vi, v in enumerate(values):
            if not isinstance(v, list) or len(v) != 2 or not isinstance(v[0], str) or \
                    not v[0].isdigit() or not isinstance(v[1], str):
                raise Invalid("loki: stream %d value %d malformed: %r" % (si, vi, v))
            ns = int(v[0])
            if ns < last:
                raise Invalid("loki: stream %d out of order at value %d" % (si, vi))
            last = ns
            rec = check_record(parse_json(v[1], "loki line"), "loki stream %d value %d" % (si, vi))
            if ns != record_ms(rec) * 1000000:
                raise Invalid("loki: timestamp %s is not the record's %s" % (v[0], rec["time"]))
            if "function" in labels and labels["function"] != rec.get("function_name"):
                raise Invalid("loki: function label %r for a record of %r" %
                              (labels["function"], rec.get("function_name")))
            if "level" in labels and labels["level"] != rec["level"]:
                raise Invalid("loki: level label %r for a record of %r" %
                              (labels["level"], rec["level"]))
            out.append(rec)
    return out


def otlp_attrs(lst, where):
    if not isinstance(lst, list):
        raise Invalid("%s: attributes not a list" % where)
    out = {}
    for a in lst:
        if not isinstance(a, dict) or set(a) != {"key", "value"} or \
                not isinstance(a["value"], dict) or len(a["value"]) != 1:
            raise Invalid("%s: malformed attribute %r" % (where, a))
        kind, v = list(a["value"].items())[0]
        if kind not in ("stringValue", "intValue", "doubleValue", "boolValue"):
            raise Invalid("%s: attribute %s of kind %s" % (where, a["key"], kind))
        if kind == "intValue" and not (isinstance(v, str) and v.lstrip("-").isdigit()):
            raise Invalid("%s: intValue %r is not a decimal string" % (where, v))
        out[a["key"]] = v
    return out


def fmt_otlp(body, _h):
    doc = parse_json(body, "otlp")
    if not isinstance(doc, dict) or list(doc) != ["resourceLogs"]:
        raise Invalid("otlp: not {\"resourceLogs\": [...]}")
    out = []
    for ri, rl in enumerate(doc["resourceLogs"]):
        where = "otlp resourceLogs[%d]" % ri
        res = otlp_attrs(rl["resource"]["attributes"], where)
        if "service.name" not in res:
            raise Invalid("%s: no service.name" % where)
        for sl in rl["scopeLogs"]:
            if not sl["logRecords"]:
                raise Invalid("%s: empty logRecords" % where)
            for li, lr in enumerate(sl["logRecords"]):
                w = "%s logRecords[%d]" % (where, li)
                rec = check_record(parse_json(lr["body"]["stringValue"], w), w)
                sev = LEVEL_SEVERITY[rec["level"]]
                if (lr["severityNumber"], lr["severityText"]) != sev:
                    raise Invalid("%s: severity %r for level %s" %
                                  ((lr["severityNumber"], lr["severityText"]), rec["level"]))
                if lr["timeUnixNano"] != str(record_ms(rec) * 1000000):
                    raise Invalid("%s: timeUnixNano %r" % (w, lr["timeUnixNano"]))
                if res["service.name"] != rec.get("function_name"):
                    raise Invalid("%s: service.name %r for %r" %
                                  (w, res["service.name"], rec.get("function_name")))
                if otlp_attrs(lr["attributes"], w).get("log.record.uid") != rec["id"]:
                    raise Invalid("%s: log.record.uid is not the id" % w)
                out.append(rec)
    return out


FORMATS = [("services/collector/event", "hec", fmt_hec), ("_bulk", "bulk", fmt_bulk),
           ("loki/api/v1/push", "loki", fmt_loki), ("v1/logs", "otlp", fmt_otlp),
           ("ndjson", "ndjson", fmt_ndjson), ("json", "json", fmt_json)]
CONTENT_TYPES = {"hec": "application/json", "bulk": "application/x-ndjson",
                 "loki": "application/json", "otlp": "application/json",
                 "ndjson": "application/x-ndjson", "json": "application/json"}


# ---- faults ----------------------------------------------------------------

def take_fault(key, ack, pred):
    """The first live fault for key matching pred, its count used up."""
    now = time.monotonic()
    with LOCK:
        for f in list(FAULTS):
            if f.get("key") not in (None, key) or bool(f.get("ack")) != ack or not pred(f):
                continue
            if "until" in f and now > f["until"]:
                FAULTS.remove(f)
                continue
            if "count" in f:
                f["count"] -= 1
                if f["count"] <= 0:
                    FAULTS.remove(f)
            return dict(f)
    return None


def live(key, name):
    with LOCK:
        for f in FAULTS:
            if f.get("key") in (None, key) and name in f and not f.get("ack"):
                return f
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sinch-test-collector"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def answer(self, status, body=b"", headers=None, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_ctl/state":
            with LOCK:
                return self.answer(200, STATE)
        self.answer(404, {"error": "no such path"})

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n)

    def do_POST(self):
        self.arrived = time.monotonic()
        raw = self.read_body()
        if self.path.startswith("/_ctl/"):
            return self.control(raw)
        parts = self.path.split("?")[0].strip("/").split("/", 1)
        key, endpoint = parts[0], parts[1] if len(parts) > 1 else ""
        with LOCK:
            STATE["requests"][key] = STATE["requests"].get(key, 0) + 1
            n = STATE["inflight"].get(key, 0) + 1
            STATE["inflight"][key] = n
            STATE["max_inflight"][key] = max(STATE["max_inflight"].get(key, 0), n)
            STATE["headers"][key] = {k: v for k, v in self.headers.items()}
        try:
            self.serve(key, endpoint, raw)
        finally:
            with LOCK:
                STATE["inflight"][key] -= 1

    def control(self, raw):
        body = json.loads(raw or b"{}")
        with LOCK:
            if self.path == "/_ctl/fault":
                if "seconds" in body:
                    body["until"] = time.monotonic() + body["seconds"]
                for n in ("reset", "ack_drop"):
                    if n in body:
                        body["count"] = body[n]
                FAULTS.append(body)
            elif self.path == "/_ctl/clear":
                FAULTS.clear()
            else:
                return self.answer(404, {})
        self.answer(200, {})

    def count(self, key, status):
        """Counts an answer, and logs [arrived, answered, status] for the key."""
        with LOCK:
            st = STATE["statuses"].setdefault(key, {})
            st[str(status)] = st.get(str(status), 0) + 1
            STATE["log"].setdefault(key, []).append([self.arrived, time.monotonic(), status])

    def error(self, msg):
        with LOCK:
            STATE["errors"].append(msg)
        self.answer(400, {"error": msg})

    def reset(self):
        # SO_LINGER 0: close sends RST, the client sees a reset connection.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def serve(self, key, endpoint, raw):
        is_ack = endpoint == "services/collector/ack"
        f = take_fault(key, is_ack, lambda f: "reset" in f)
        if f:
            self.count(key, "reset")
            return self.reset()
        f = take_fault(key, is_ack, lambda f: "slow_ms" in f)
        if f:
            self.count(key, "slow")
            time.sleep(f["slow_ms"] / 1000.0)
        f = take_fault(key, is_ack, lambda f: "status" in f)
        if f:
            self.count(key, f["status"])
            hdr = {"Retry-After": str(f["retry_after"])} if "retry_after" in f else {}
            return self.answer(f["status"], f.get("body", {"text": "injected", "code": 9}), hdr)
        if is_ack:
            return self.hec_ack(key, raw)
        for suffix, name, fn in FORMATS:
            if endpoint == suffix:
                return self.data(key, name, fn, raw)
        self.answer(404, {"error": "no such endpoint"})

    def data(self, key, name, fn, raw):
        body = raw
        if self.headers.get("Content-Encoding") == "gzip":
            try:
                body = gzip.decompress(raw)
            except (OSError, EOFError) as e:
                return self.error("%s: bad gzip body: %s" % (key, e))
        elif self.headers.get("Content-Encoding"):
            return self.error("%s: Content-Encoding %s" % (key, self.headers["Content-Encoding"]))
        if self.headers.get("Content-Type") != CONTENT_TYPES[name]:
            return self.error("%s: Content-Type %r" % (key, self.headers.get("Content-Type")))
        mb = live(key, "max_body")
        if mb and len(body) > mb["max_body"]:
            self.count(key, 413)
            return self.answer(413, {"text": "Content too large", "code": 27})
        try:
            recs = fn(body, self.headers)
        except (Invalid, KeyError, TypeError, ValueError, UnicodeDecodeError) as e:
            return self.error("%s: %s" % (key, e))
        with LOCK:
            STATE["bodies"][key] = STATE["bodies"].get(key, 0) + 1
            if name == "ndjson":
                STATE["lines"].setdefault(key, []).append(
                    [len(ln) for ln in body[:-1].split(b"\n")])
        rej = live(key, "reject_ids")
        bad = set(rej["reject_ids"]) if rej else set()
        if name == "bulk":
            return self.bulk(key, recs, bad)
        if name == "hec":
            return self.hec(key, recs, bad)
        if any(r["id"] in bad for r in recs):
            self.count(key, 400)
            return self.answer(400, {"error": "record refused"})
        self.accept(key, recs)
        self.count(key, 200)
        if name == "loki":
            return self.answer(204)
        self.answer(200, {} if name == "otlp" else {"ok": True})

    def accept(self, key, recs):
        with LOCK:
            STATE["ids"].setdefault(key, []).extend(r["id"] for r in recs)

    def bulk(self, key, recs, bad):
        items, errors, taken = [], False, []
        retry = live(key, "retry_ids")
        with LOCK:
            seen = BULK_SEEN.setdefault(key, set())
            for r in recs:
                item = {"_index": r["_index"], "_id": r["id"]}
                n = RETRY_SEEN.get(r["id"], 0)
                if r["id"] in bad:
                    item.update(status=400, error={"type": "mapper_parsing_exception",
                                                   "reason": "failed to parse field [status]"})
                elif retry and r["id"] in retry["retry_ids"] and n < retry.get("count", 1):
                    RETRY_SEEN[r["id"]] = n + 1
                    item.update(status=429, error={"type": "es_rejected_execution_exception",
                                                   "reason": "rejected execution"})
                elif r["_op"] == "create" and r["id"] in seen:
                    item.update(status=409, error={"type": "version_conflict_engine_exception",
                                                   "reason": "document already exists"})
                else:
                    item.update(status=201, result="created")
                    seen.add(r["id"])
                    taken.append(r)
                errors = errors or item["status"] >= 300
                items.append({r["_op"]: item})
        self.accept(key, taken)
        self.count(key, 200)
        self.answer(200, {"took": 1, "errors": errors, "items": items})

    def hec(self, key, recs, bad):
        channel = self.headers.get("X-Splunk-Request-Channel")
        if ARGS.hec_ack and not channel:
            self.count(key, 400)
            return self.answer(400, {"text": "Data channel is missing", "code": 10})
        for i, r in enumerate(recs):
            if r["id"] in bad:
                self.accept(key, recs[:i])
                self.count(key, 400)
                return self.answer(400, {"text": "Invalid data format", "code": 6,
                                         "invalid-event-number": i})
        self.accept(key, recs)
        self.count(key, 200)
        if not ARGS.hec_ack:
            return self.answer(200, {"text": "Success", "code": 0})
        delay = live(key, "ack_delay_polls")
        drop = take_fault(key, False, lambda f: "ack_drop" in f)
        with LOCK:
            ch = ACKS.setdefault((key, channel), {"next": 0, "ids": {}})
            ack_id = ch["next"]
            ch["next"] += 1
            ch["ids"][ack_id] = None if drop else (delay["ack_delay_polls"] if delay else 0)
        self.answer(200, {"text": "Success", "code": 0, "ackId": ack_id})

    def hec_ack(self, key, raw):
        channel = self.headers.get("X-Splunk-Request-Channel")
        if not channel:
            return self.answer(400, {"text": "Data channel is missing", "code": 10})
        try:
            ids = json.loads(raw)["acks"]
            assert isinstance(ids, list) and all(isinstance(i, int) for i in ids)
        except (ValueError, KeyError, AssertionError):
            return self.error("%s: ack request %r" % (key, raw[:200]))
        out = {}
        with LOCK:
            STATE["ack_polls"] += 1
            ch = ACKS.setdefault((key, channel), {"next": 0, "ids": {}})
            for i in ids:
                left = ch["ids"].get(i)
                if left is None:
                    out[str(i)] = False
                elif left > 0:
                    ch["ids"][i] = left - 1
                    out[str(i)] = False
                else:
                    out[str(i)] = True
                    del ch["ids"][i]
        self.answer(200, {"acks": out})


ARGS = None


def main():
    global ARGS
    p = argparse.ArgumentParser(description="test HTTP collector")
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--hec-ack", action="store_true", help="HEC indexer acknowledgement on")
    p.add_argument("--cert", help="serve HTTPS with this PEM certificate...")
    p.add_argument("--key", help="...and key")
    p.add_argument("--client-ca", help="require a client certificate signed by this CA")
    ARGS = p.parse_args()
    host, port = ARGS.listen.rsplit(":", 1)
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    scheme = "http"
    if ARGS.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)
        if ARGS.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(ARGS.client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        scheme = "https"
    print("%s://%s:%d" % (scheme, host, srv.server_address[1]), flush=True)
    import signal
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=srv.shutdown).start())
    srv.serve_forever()
    srv.server_close()


if __name__ == "__main__":
    main()
