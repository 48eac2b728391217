"""sinch-fn-sim: start-up, shutdown, HTTP robustness and the simple JSON endpoints."""

import http.client
import json
import os
import re
import socket
import subprocess
import unittest

from harness import (BIN_DIR, SIM_EPOCH, get_json, get_token, http_get, main, sim,
                     sim_fn_url, sim_function_ids)

P = "/v1/projects/demo-project"


def raw_exchange(port, data, timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out


class Basics(unittest.TestCase):
    def test_port_zero_two_sims(self):
        with sim() as a, sim() as b:
            for s in (a, b):
                self.assertRegex(s.first_line, r"^listening on http://127\.0\.0\.1:\d+$")
            self.assertNotEqual(a.port, b.port)
            self.assertEqual(http_get(a.url + P + "/functions")[0], 401)
            self.assertEqual(http_get(b.url + P + "/functions")[0], 401)

    def test_sigterm_exits_cleanly(self):
        s = sim()
        with s:
            tok = get_token(s.url)
            # An open stream must not keep the process alive.
            sock = socket.create_connection((s.host, s.port))
            fid = sim_function_ids(s.url, tok)[0]
            sock.sendall(("GET %s/functions/%s/logs/stream HTTP/1.1\r\nAuthorization: Bearer %s"
                          "\r\n\r\n" % (P, fid, tok)).encode())
            sock.recv(100)
            rc = s.stop()
            sock.close()
        self.assertEqual(rc, 0)
        self.assertIn("stopped", s.log())
        self.assertNotIn("still open", s.log())

    def test_help_lists_flags_with_defaults(self):
        out = subprocess.run([os.path.join(BIN_DIR, "sinch-fn-sim"), "--help"],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        for flag in ("--listen", "--allow-remote", "--key-id", "--key-secret", "--project",
                     "--token-ttl", "--seed", "--epoch", "--functions", "--rate", "--total",
                     "--long-ms", "--shape", "--replay-horizon", "--heartbeat", "--sse-ids",
                     "--sse-event", "--sse-retry", "--no-limits", "--limit-window",
                     "--oversize-bytes", "--oracle-cap", "--fault"):
            self.assertRegex(out.stdout, re.escape(flag) + r"[ \[].*default", flag)

    def test_refuses_non_loopback_and_bad_flags(self):
        exe = os.path.join(BIN_DIR, "sinch-fn-sim")
        for argv in (["--listen", "0.0.0.0:0"], ["--bogus"], ["--rate", "x"],
                     ["--fault", "nope=1"], ["--epoch", "yesterday"]):
            out = subprocess.run([exe] + argv, capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 2, argv)
            self.assertEqual(out.stdout, "", argv)

    def test_garbage_and_oversized_requests(self):
        with sim() as s:
            self.assertTrue(raw_exchange(s.port, b"HELLO THERE\r\n\r\n").startswith(
                b"HTTP/1.1 400 "))
            self.assertTrue(raw_exchange(s.port, b"GET / HTTP/9.9\r\n\r\n").startswith(
                b"HTTP/1.1 400 "))
            self.assertTrue(raw_exchange(s.port, b"GET / HTTP/1.1\r\nno colon\r\n\r\n")
                            .startswith(b"HTTP/1.1 400 "))
            big = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
            self.assertTrue(raw_exchange(s.port, big).startswith(b"HTTP/1.1 431 "))
            # Still serving afterwards.
            self.assertEqual(http_get(s.url + P + "/functions")[0], 401)

    def test_keep_alive_and_content_length(self):
        with sim() as s:
            tok = get_token(s.url)
            conn = http.client.HTTPConnection(s.host, s.port, timeout=5)
            for _ in range(3):
                conn.request("GET", P + "/functions", headers={"Authorization": "Bearer " + tok})
                r = conn.getresponse()
                body = r.read()
                self.assertEqual(r.status, 200)
                self.assertEqual(int(r.headers["Content-Length"]), len(body))
                json.loads(body)
            conn.close()
            out = raw_exchange(s.port, ("GET %s/functions HTTP/1.1\r\nConnection: close\r\n"
                                        "Authorization: Bearer %s\r\n\r\n" % (P, tok)).encode())
            head, _, body = out.partition(b"\r\n\r\n")
            self.assertIn(b"Connection: close", head)
            self.assertEqual(int(re.search(rb"Content-Length: (\d+)", head).group(1)), len(body))

    def test_functions_and_status(self):
        with sim("--functions", "5", "--epoch", SIM_EPOCH) as s:
            tok = get_token(s.url)
            body = get_json(s.url + P + "/functions", tok)
            self.assertEqual(body["total"], 5)
            names = [f["name"] for f in body["functions"]]
            self.assertEqual(names[:3], ["ivr-handler", "sms-webhook", "callback-router"])
            for f in body["functions"]:
                self.assertRegex(f["id"], r"^01JKXF\d{14}$")
                self.assertEqual(set(f), {"id", "name", "runtime", "status", "createdAt",
                                          "updatedAt"})
            fid = body["functions"][1]["id"]
            st = get_json(sim_fn_url(s.url, fid, "/status"), tok)
            self.assertEqual(st["functionId"], fid)
            self.assertEqual(st["status"], "Running")
            self.assertIsNone(st["error"])
            self.assertTrue(st["url"].startswith("https://fn-01jkxf"))
            self.assertEqual(http_get(sim_fn_url(s.url, "01JKXF00000000000000", "/status"),
                                      tok)[0], 404)
            self.assertEqual(http_get(s.url + "/v1/projects/other/functions", tok)[0], 404)
            self.assertEqual(http_get(s.url + "/nope", tok)[0], 404)

    def test_metrics_costs_billing(self):
        with sim("--rate", "50", "--long-ms", "200") as s:
            tok = get_token(s.url)
            fid = sim_function_ids(s.url, tok)[0]
            import time
            time.sleep(1.0)
            for tr, points in (("1h", 12), ("4h", 16), ("24h", 24), ("7d", 28), ("30d", 30)):
                m = get_json(sim_fn_url(s.url, fid, "/metrics?timeRange=" + tr), tok)
                self.assertEqual(m["timeRange"], tr)
                self.assertEqual(m["functionName"], "ivr-handler")
                self.assertEqual(set(m["summary"]), {"totalRequests", "avgResponseTime",
                                                     "errorRate", "avgMemory", "avgCpuUsage"})
                self.assertGreater(m["summary"]["totalRequests"], 10)
                self.assertEqual(len(m["responseTimeSeries"]), points)
                self.assertEqual(sum(p["totalRequests"] for p in m["requestVolumeSeries"]),
                                 m["summary"]["totalRequests"])
                self.assertIn("p95ResponseTime", m["responseTimeSeries"][0])
                self.assertIn("errorRate", m["errorRateSeries"][0])
            self.assertEqual(get_json(sim_fn_url(s.url, fid, "/metrics"), tok)["timeRange"], "24h")
            self.assertEqual(http_get(sim_fn_url(s.url, fid, "/metrics?timeRange=2h"), tok)[0],
                             400)
            c = get_json(sim_fn_url(s.url, fid, "/costs?period=month"), tok)
            self.assertEqual(c["functionId"], fid)
            self.assertEqual(c["currency"], "USD")
            self.assertGreater(c["invocations"], 0)
            self.assertIn("total", c["costs"])
            self.assertEqual(http_get(sim_fn_url(s.url, fid, "/costs?period=year"), tok)[0], 400)
            b = get_json(s.url + P + "/billing/current", tok)
            self.assertEqual(b["projectId"], "demo-project")
            self.assertEqual(len(b["functions"]), 3)
            self.assertIn("totalCost", b)


if __name__ == "__main__":
    main()
