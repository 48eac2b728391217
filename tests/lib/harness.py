"""Shared helpers for sinch-logd's Python tests (standard library only).

Every bundled server (sinch-fn-sim, the agent, test receivers) prints the
address it bound as its first line of stdout. ``Server`` starts such a
process, learns its address from that line, keeps its output in a log file
and always stops it, even when the test fails::

    from harness import sim, get_token, http_get, sse_events, main

    class T(unittest.TestCase):
        def test_x(self):
            with sim("--seed", "7") as s:
                tok = get_token(s.url)
                status, headers, body = http_get(s.url + "/v1/projects/demo-project/functions", tok)

    if __name__ == "__main__":
        main()

Environment: SINCH_BIN_DIR (the build's bin directory), SINCH_SRC_DIR.
"""

import atexit
import base64
import http.client
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

BIN_DIR = os.environ.get("SINCH_BIN_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin")
SRC_DIR = os.environ.get("SINCH_SRC_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")

_tmpdirs = []


def _cleanup_tmpdirs():
    if os.environ.get("SINCH_KEEP_TMP"):
        for d in _tmpdirs:
            sys.stderr.write("kept %s\n" % d)
        return
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup_tmpdirs)


def tmpdir(prefix="sinch-test-"):
    """A fresh directory, removed when the test process exits."""
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


_ADDR_RE = re.compile(r"(?:[a-z]+://)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d+)")


class Server:
    """A child process that announces ``[scheme://]HOST:PORT`` on its first stdout line.

    Attributes after start: ``host``, ``port``, ``url`` (``http://HOST:PORT``),
    ``first_line``, ``log_path`` (stdout after the first line and stderr), and
    after stop ``returncode``. ``stop()`` sends SIGTERM, then SIGKILL after
    ``stop_timeout`` seconds. On a failing ``with`` block the log's tail is
    printed to stderr. With ``expect_rc`` set, a ``with`` block that ends
    normally fails if the exit status differs (this is how sanitizer reports
    at exit surface), and ``check_stop()`` does the same outside ``with``.
    With ``stdin=subprocess.PIPE``, ``proc.stdin`` takes commands (closed at
    stop).
    """

    def __init__(self, argv, env=None, name=None, start_timeout=15.0, stop_timeout=10.0,
                 scheme="http", expect_rc=None, stdin=subprocess.DEVNULL):
        self.argv = [str(a) for a in argv]
        self.env = dict(os.environ, **(env or {}))
        self.name = name or os.path.basename(self.argv[0])
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.scheme = scheme
        self.expect_rc = expect_rc
        self.stdin = stdin
        self.proc = None
        self.returncode = None
        self.host = self.port = self.url = self.first_line = None
        self.dir = tmpdir(prefix="sinch-%s-" % self.name)
        self.log_path = os.path.join(self.dir, self.name + ".log")
        self._log = None
        self._pump = None

    def start(self):
        self._log = open(self.log_path, "ab", buffering=0)
        self.proc = subprocess.Popen(self.argv, env=self.env, stdin=self.stdin,
                                     stdout=subprocess.PIPE, stderr=self._log)
        try:
            line = self._read_first_line()
        except Exception:
            self.stop()
            raise
        self.first_line = line
        m = _ADDR_RE.search(line)
        if not m:
            self.stop()
            raise RuntimeError("%s: cannot find HOST:PORT in %r" % (self.name, line))
        self.host = m.group(1).strip("[]")
        self.port = int(m.group(2))
        host = "[%s]" % self.host if ":" in self.host else self.host
        self.url = "%s://%s:%d" % (self.scheme, host, self.port)
        self._pump = threading.Thread(target=self._copy_stdout, daemon=True)
        self._pump.start()
        return self

    def _read_first_line(self):
        deadline = time.monotonic() + self.start_timeout
        fd = self.proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%s printed no address within %.0fs; log: %s" %
                                   (self.name, self.start_timeout, self.log_tail()))
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 1)
            if not chunk:
                raise RuntimeError("%s exited (rc=%s) before printing its address; log: %s" %
                                   (self.name, self.proc.wait(), self.log_tail()))
            buf += chunk
        return buf.decode("utf-8", "replace").strip()

    def _copy_stdout(self):
        try:
            for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
                self._log.write(chunk)
        except (OSError, ValueError):
            pass

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stops the process (idempotent) and returns its exit status."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        if self._pump:
            self._pump.join(2)
        self.proc.stdout.close()
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None
        return self.returncode

    def check_stop(self):
        """stop(), then raise AssertionError unless the exit status is expect_rc."""
        rc = self.stop()
        if self.expect_rc is not None and rc != self.expect_rc:
            raise AssertionError("%s exited with %s, expected %s; log:\n%s" %
                                 (self.name, rc, self.expect_rc, self.log_tail()))
        return rc

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self.log().splitlines()[-lines:])

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.check_stop()
            return False
        self.stop()
        if exc_type is not None:
            sys.stderr.write("---- %s log (%s) ----\n%s\n" %
                             (self.name, self.log_path, self.log_tail()))
        return False


def sim(*args, env=None, name="sinch-fn-sim"):
    """A Server for sinch-fn-sim on a free loopback port; extra args are its flags.

    It must exit 0 on SIGTERM (so sanitizer findings fail the test).
    """
    argv = [os.path.join(BIN_DIR, "sinch-fn-sim"), "--listen", "127.0.0.1:0"]
    argv += [str(a) for a in args]
    return Server(argv, env=env, name=name, expect_rc=0)


def _split(url):
    u = urllib.parse.urlsplit(url)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    return u.hostname, u.port or 80, path


def http_request(method, url, body=None, token=None, headers=None, timeout=10.0):
    """One request on a fresh connection: (status, headers, body bytes).

    ``headers`` of the answer is an http.client.HTTPMessage (case-insensitive
    ``.get()``). ``body`` may be bytes, str or a dict (sent as a form).
    """
    host, port, path = _split(url)
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if isinstance(body, dict):
        body = urllib.parse.urlencode(body)
        h.setdefault("Content-Type", "application/x-www-form-urlencoded")
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def http_get(url, token=None, headers=None, timeout=10.0):
    """GET url: (status, headers, body bytes)."""
    return http_request("GET", url, token=token, headers=headers, timeout=timeout)


def get_json(url, token=None, headers=None, timeout=10.0):
    """GET url and decode JSON; raises AssertionError unless the status is 200."""
    status, _, body = http_get(url, token, headers, timeout)
    if status != 200:
        raise AssertionError("GET %s -> %d %r" % (url, status, body[:300]))
    return json.loads(body)


def get_token(sim_url, key_id="demo-key", secret="demo-secret"):
    """Client-credentials token from ``sim_url``/oauth2/token."""
    status, token_json = token_request(sim_url, key_id, secret)
    if status != 200:
        raise AssertionError("token request failed: %d %r" % (status, token_json))
    return token_json["access_token"]


def token_request(sim_url, key_id="demo-key", secret="demo-secret"):
    """Raw token request: (status, decoded JSON or raw body)."""
    basic = base64.b64encode(("%s:%s" % (key_id, secret)).encode()).decode()
    status, _, body = http_request("POST", sim_url + "/oauth2/token",
                                   body={"grant_type": "client_credentials"},
                                   headers={"Authorization": "Basic " + basic})
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def raw_get(url, token=None, headers=None, timeout=5.0, max_bytes=None, until=None):
    """GET over a plain socket, reading until EOF, timeout, max_bytes or until(body).

    Returns (status, headers dict with lower-case names, body bytes exactly as
    sent, closed) where closed says whether the server closed the connection.
    Meant for close-delimited responses such as SSE streams.
    """
    host, port, path = _split(url)
    lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port)]
    if token:
        lines.append("Authorization: Bearer " + token)
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    sock = socket.create_connection((host, port), timeout=timeout)
    deadline = time.monotonic() + timeout
    data = b""
    closed = False
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head_end = -1
        while True:
            if head_end < 0:
                head_end = data.find(b"\r\n\r\n")
            if head_end >= 0:
                body = data[head_end + 4:]
                if max_bytes is not None and len(body) >= max_bytes:
                    break
                if until is not None and until(body):
                    break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                closed = True
                break
            data += chunk
    finally:
        sock.close()
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        raise AssertionError("no response head from %s: %r" % (url, data[:200]))
    head = data[:head_end].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    hdrs = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, data[head_end + 4:], closed


def parse_sse(body):
    """Parses SSE bytes per the WHATWG rules into a list of dicts.

    Each dict has ``data`` (str), ``event`` (default "message") and ``id``
    (the last id seen, or None). Comments are returned as {"comment": text}.
    A trailing incomplete event is not returned.
    """
    text = body.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    events, data, event, last_id = [], [], None, None
    for line in re.split(r"\r\n|\r|\n", text)[:-1]:
        if line == "":
            if data:
                events.append({"data": "\n".join(data), "event": event or "message",
                               "id": last_id})
            data, event = [], None
            continue
        if line.startswith(":"):
            events.append({"comment": line[1:].strip()})
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
        elif field == "id":
            last_id = value
    return events


def sse_events(url, token=None, max_events=10, timeout=10.0, headers=None):
    """Reads up to ``max_events`` data events (comments skipped) from an SSE stream."""
    def enough(body):
        return len([e for e in parse_sse(body) if "data" in e]) >= max_events

    status, _, body, _ = raw_get(url, token, headers, timeout, until=enough)
    if status != 200:
        raise AssertionError("SSE %s -> %d %r" % (url, status, body[:300]))
    return [e for e in parse_sse(body) if "data" in e][:max_events]


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a true value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def main():
    """Runs the calling module's unittest tests; exits non-zero on failure."""
    unittest.main(verbosity=2)


# ---- sinch-fn-sim specifics ------------------------------------------------

SIM_PROJECT = "demo-project"
SIM_EPOCH = "2026-02-19T14:30:00Z"


def sim_stats(sim_url):
    """GET /_sim/stats (no auth)."""
    return get_json(sim_url + "/_sim/stats")


def sim_fault(sim_url, query):
    """POST /_sim/fault?query (e.g. "drop-every=5" or "clear=1"); returns the status."""
    status, _, _ = http_request("POST", sim_url + "/_sim/fault?" + query)
    return status


def sim_wait_generated(sim_url, count, timeout=20.0):
    """Waits until every function has ``count`` finished (generated) events."""
    return wait_for(lambda: all(f["generated"] >= count
                                for f in sim_stats(sim_url)["functions"]),
                    timeout, what="%d events per function" % count)


def sim_function_ids(sim_url, token, project=SIM_PROJECT):
    """The ids of the simulator's functions, in listing order."""
    body = get_json("%s/v1/projects/%s/functions" % (sim_url, project), token)
    return [f["id"] for f in body["functions"]]


def sim_fn_url(sim_url, fn_id, suffix="", project=SIM_PROJECT):
    """URL of /v1/projects/{project}/functions/{fn_id}{suffix}."""
    return "%s/v1/projects/%s/functions/%s%s" % (sim_url, project, fn_id, suffix)


def sim_hold_streams(sim_server, fn, n):
    """Opens n log streams of function fn (id or name) on raw sockets, as
    another client would, and waits until the simulator counts them.
    Returns the sockets; closing them frees the slots."""
    tok = get_token(sim_server.url)
    path = sim_fn_url(sim_server.url, fn, "/logs/stream")[len(sim_server.url):]
    before = sim_stats(sim_server.url)["streams"]["current"]
    held = []
    try:
        for _ in range(n):
            c = socket.create_connection((sim_server.host, sim_server.port), timeout=5)
            held.append(c)
            c.sendall(("GET %s HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n"
                       % (path, tok)).encode())
        wait_for(lambda: sim_stats(sim_server.url)["streams"]["current"] == before + n, 10,
                 what="%d streams held" % n)
    except BaseException:
        for c in held:
            c.close()
        raise
    return held
