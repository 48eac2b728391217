"""sinch-fn-sim: every fault mode, checked on the raw bytes of the stream."""

import json
import time
import unittest

from harness import (SIM_EPOCH, get_json, get_token, http_get, main, parse_sse, raw_get, sim,
                     sim_fault, sim_fn_url, sim_function_ids, sim_stats, sim_wait_generated)

TOTAL = 40
SINCE = "since=2026-02-19T14:00:00Z"


def real(events):
    return [e for e in events if "data" in e and e["data"].startswith('{"id":"req_')]


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = sim("--rate", "200", "--total", TOTAL, "--long-ms", "100", "--epoch", SIM_EPOCH,
                      "--heartbeat", "0", "--no-limits", "--oversize-bytes", "100000").start()
        cls.tok = get_token(cls.sim.url)
        sim_wait_generated(cls.sim.url, TOTAL)
        cls.fid = sim_function_ids(cls.sim.url, cls.tok)[0]
        cls.surl = sim_fn_url(cls.sim.url, cls.fid, "/logs/stream?" + SINCE)
        cls.clean = cls.read()[2]

    @classmethod
    def tearDownClass(cls):
        cls.sim.check_stop()

    @classmethod
    def read(cls, timeout=1.5, **kw):
        return raw_get(cls.surl, cls.tok, timeout=timeout, **kw)

    def setUp(self):
        self.assertEqual(sim_fault(self.sim.url, "clear=1"), 200)

    def test_clean_stream(self):
        self.assertEqual(len(real(parse_sse(self.clean))), TOTAL)
        self.assertTrue(self.clean.startswith(b"data: {"))

    def test_drop_every(self):
        sim_fault(self.sim.url, "drop-every=7")
        status, _, body, closed = self.read()
        self.assertEqual(status, 200)
        self.assertTrue(closed)
        self.assertEqual(len(parse_sse(body)), 7)
        self.assertTrue(body.endswith(b"\n\n"))
        self.assertGreaterEqual(sim_stats(self.sim.url)["faultsApplied"]["drop-every"], 1)

    def test_cut_mid_event(self):
        sim_fault(self.sim.url, "cut-mid-event=3")
        _, _, body, closed = self.read()
        self.assertTrue(closed)
        evs = parse_sse(body)
        self.assertEqual(len(evs), 3)
        tail = body.split(b"\n\n")[-1]
        self.assertTrue(tail.startswith(b"data: {"), tail[:20])
        self.assertNotIn(b"\n", tail)
        self.assertTrue(self.clean.startswith(body))

    def test_malformed_every_is_extra(self):
        sim_fault(self.sim.url, "malformed-every=4")
        before = sim_stats(self.sim.url)
        _, _, body, _ = self.read()
        evs = [e for e in parse_sse(body) if "data" in e]
        self.assertEqual(len(real(evs)), TOTAL)
        bogus = [e for e in evs if not e["data"].startswith('{"id":"req_')]
        self.assertEqual(len(bogus), TOTAL // 4)
        for e in bogus:
            with self.assertRaises(ValueError):
                json.loads(e["data"])
        after = sim_stats(self.sim.url)
        self.assertEqual(after["functions"][0]["generated"], before["functions"][0]["generated"])
        self.assertEqual(after["injected"]["malformed"] - before["injected"]["malformed"],
                         TOTAL // 4)

    def test_oversize_every(self):
        sim_fault(self.sim.url, "oversize-every=10")
        _, _, body, _ = self.read(timeout=3)
        evs = [e for e in parse_sse(body) if "data" in e]
        big = [e for e in evs if len(e["data"]) >= 100000]
        self.assertEqual(len(big), TOTAL // 10)
        self.assertEqual(json.loads(big[0]["data"])["id"], "oversize-1")
        self.assertEqual(len(real(evs)), TOTAL)

    def test_bad_utf8_every(self):
        sim_fault(self.sim.url, "bad-utf8-every=5")
        _, _, body, _ = self.read()
        lines = [l for l in body.split(b"\n") if l.startswith(b"data: ")]
        self.assertEqual(len(lines), TOTAL)
        bad = []
        for l in lines:
            try:
                l.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(l)
        self.assertEqual(len(bad), TOTAL // 5)
        for l in bad:
            self.assertIn(b"\xff\xfe", l)
            ev = json.loads(l[6:].decode("utf-8", "replace"))
            self.assertTrue(ev["id"].startswith("req_"))

    def test_line_ends_and_bom(self):
        sim_fault(self.sim.url, "line-ends=crlf")
        _, _, body, _ = self.read()
        self.assertEqual(body.replace(b"\r\n", b"\n"), self.clean)
        self.assertNotIn(b"\n\n", body)
        sim_fault(self.sim.url, "line-ends=cr")
        _, _, body, _ = self.read()
        self.assertNotIn(b"\n", body)
        self.assertEqual(body.replace(b"\r", b"\n"), self.clean)
        sim_fault(self.sim.url, "clear=1&bom=1")
        _, _, body, _ = self.read()
        self.assertEqual(body, b"\xef\xbb\xbf" + self.clean)

    def test_split_writes_and_drip(self):
        sim_fault(self.sim.url, "split-writes=1")
        _, _, body, _ = self.read(timeout=3, until=lambda b: len(b) >= len(self.clean))
        self.assertEqual(body, self.clean)
        sim_fault(self.sim.url, "clear=1&drip=200")
        t0 = time.monotonic()
        _, _, body, _ = self.read(timeout=1.0)
        self.assertLess(len(body), 400)
        self.assertGreater(len(body), 20)
        self.assertTrue(self.clean.startswith(body))
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)

    def test_stall(self):
        sim_fault(self.sim.url, "stall=800")
        with self.assertRaisesRegex(AssertionError, "no response head"):
            self.read(timeout=0.4)
        t0 = time.monotonic()
        _, _, body, _ = self.read(timeout=3, until=lambda b: len(b) >= len(self.clean))
        self.assertGreaterEqual(time.monotonic() - t0, 0.75)
        self.assertEqual(body, self.clean)
        self.assertGreaterEqual(sim_stats(self.sim.url)["faultsApplied"]["stall"], 2)

    def test_heartbeat_fault(self):
        sim_fault(self.sim.url, "heartbeat=100")
        _, _, body, _ = raw_get(sim_fn_url(self.sim.url, self.fid, "/logs/stream"), self.tok,
                                timeout=1.0)
        self.assertGreaterEqual(body.count(b": ping\n"), 3)

    def test_status_faults(self):
        for code in (401, 403, 404, 204, 503, 429):
            sim_fault(self.sim.url, "status=%d:2" % code)
            for _ in range(2):
                status, headers, body = http_get(self.surl, self.tok, timeout=3)
                self.assertEqual(status, code)
                if code in (503, 429):
                    self.assertEqual(headers["Retry-After"], "1")
                if code == 401:
                    self.assertIn("invalid_token", headers["WWW-Authenticate"])
            status, _, _, _ = self.read(timeout=0.3)
            self.assertEqual(status, 200)
        # Without a count it lasts until cleared; other endpoints are unaffected.
        sim_fault(self.sim.url, "status=503")
        self.assertEqual(http_get(self.surl, self.tok)[0], 503)
        self.assertEqual(http_get(self.surl, self.tok)[0], 503)
        self.assertEqual(http_get(sim_fn_url(self.sim.url, self.fid, "/status"), self.tok)[0], 200)

    def test_fault_endpoint(self):
        self.assertEqual(sim_fault(self.sim.url, "nope=1"), 400)
        self.assertEqual(sim_fault(self.sim.url, "status=418"), 400)
        self.assertEqual(sim_fault(self.sim.url, "line-ends=crcr"), 400)
        self.assertEqual(sim_fault(self.sim.url, "drop-every=3&bom=1"), 200)
        faults = get_json(self.sim.url + "/_sim/fault")["faults"]
        self.assertEqual((faults["drop-every"], faults["bom"]), (3, True))
        sim_fault(self.sim.url, "clear=1")
        faults = get_json(self.sim.url + "/_sim/fault")["faults"]
        self.assertEqual((faults["drop-every"], faults["bom"]), (0, False))


class FaultFlags(unittest.TestCase):
    def test_command_line_faults_combine(self):
        with sim("--fault", "bom", "--fault", "line-ends=crlf", "--fault", "drop-every=3",
                 "--rate", "100", "--total", "5", "--heartbeat", "0") as s:
            tok = get_token(s.url)
            fid = sim_function_ids(s.url, tok)[0]
            sim_wait_generated(s.url, 5)
            _, _, body, closed = raw_get(sim_fn_url(s.url, fid, "/logs/stream?since=2000-01-01T00:00:00Z"),
                                         tok, timeout=2)
            self.assertTrue(closed)
            self.assertTrue(body.startswith(b"\xef\xbb\xbfdata: {"))
            self.assertEqual(body.count(b"\r\n\r\n"), 3)


if __name__ == "__main__":
    main()
