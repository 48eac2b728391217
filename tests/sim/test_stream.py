"""sinch-fn-sim: the SSE stream (since, level, options) and /logs filters and paging."""

import json
import time
import unittest
import urllib.parse

from harness import (SIM_EPOCH, get_json, get_token, http_get, main, parse_sse, raw_get, sim,
                     sim_fn_url, sim_function_ids, sim_wait_generated)

TOTAL = 200
LEVELS = ["Debug", "Info", "Warning", "Error"]


def level_of(e):
    lv = [LEVELS.index(line["level"]) for line in e["logs"]]
    return max(lv) if lv else 1


def q(v):
    return urllib.parse.quote(v, safe="")


class Stream(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = sim("--seed", "11", "--rate", "200", "--total", TOTAL, "--long-ms", "300",
                      "--epoch", SIM_EPOCH, "--heartbeat", "0", "--no-limits").start()
        cls.tok = get_token(cls.sim.url)
        sim_wait_generated(cls.sim.url, TOTAL)
        cls.fid = sim_function_ids(cls.sim.url, cls.tok)[1]
        cls.raw = http_get(cls.url("/logs?pageSize=1000&order=asc"), cls.tok)[2]
        cls.all = json.loads(cls.raw)["requests"]

    @classmethod
    def tearDownClass(cls):
        cls.sim.check_stop()

    @classmethod
    def url(cls, suffix):
        return sim_fn_url(cls.sim.url, cls.fid, suffix)

    def stream(self, query, count, timeout=5):
        _, hdrs, body, _ = raw_get(self.url("/logs/stream?" + query), self.tok, timeout=timeout,
                                   until=lambda b: len(parse_sse(b)) >= count)
        self.assertEqual(hdrs["content-type"], "text/event-stream")
        self.assertEqual(hdrs["cache-control"], "no-cache")
        return [e["data"] for e in parse_sse(body) if "data" in e]

    def logs(self, query):
        return get_json(self.url("/logs?pageSize=1000&order=asc&" + query), self.tok)

    def test_since_is_strict_and_replays_in_completion_order(self):
        tied = [t for t in {e["startTime"] for e in self.all}
                if sum(1 for e in self.all if e["startTime"] == t) >= 2]
        self.assertTrue(tied)
        t = sorted(tied)[len(tied) // 2]
        want = [e for e in self.all if e["startTime"] > t]
        got = [json.loads(d) for d in self.stream("since=" + q(t), len(want))]
        self.assertEqual(sorted(e["id"] for e in got), sorted(e["id"] for e in want))
        self.assertEqual([(e["endTime"], e["id"]) for e in got],
                         sorted((e["endTime"], e["id"]) for e in got))
        # The same instant written with an offset selects the same events.
        self.assertEqual(t[11:13], "14")
        t_off = t[:11] + "15" + t[13:-1] + "+01:00"
        got = [json.loads(d) for d in self.stream("since=" + q(t_off), len(want))]
        self.assertEqual(sorted(e["id"] for e in got), sorted(e["id"] for e in want))
        # Without a fraction: every event starts after the epoch.
        self.assertEqual(len(self.stream("since=2026-02-19T14:30:00Z", TOTAL)), TOTAL)
        self.assertEqual(http_get(self.url("/logs/stream?since=yesterday"), self.tok)[0], 400)

    def test_stream_entries_are_logs_entries(self):
        got = self.stream("since=2026-02-19T14:00:00Z", TOTAL)
        self.assertEqual(len(got), TOTAL)
        for d in got:
            self.assertIn(d.encode(), self.raw)
        self.assertEqual(sorted(json.loads(d)["id"] for d in got),
                         sorted(e["id"] for e in self.all))

    def test_level_filter(self):
        for name, lv in (("warning", 2), ("error", 3), ("Info", 1)):
            want = [e["id"] for e in self.all if level_of(e) >= lv]
            body = self.logs("level=" + name)
            self.assertEqual([e["id"] for e in body["requests"]], want)
            got = self.stream("since=2026-02-19T14:00:00Z&level=" + name, len(want))
            self.assertEqual(sorted(json.loads(d)["id"] for d in got), sorted(want))
        self.assertEqual(http_get(self.url("/logs?level=loud"), self.tok)[0], 400)

    def test_logs_filters(self):
        a, b = self.all[20]["startTime"], self.all[60]["startTime"]
        body = self.logs("startTime=%s&endTime=%s" % (q(a), q(b)))
        self.assertEqual([e["id"] for e in body["requests"]],
                         [e["id"] for e in self.all if a <= e["startTime"] <= b])
        for st, lo, hi in (("success", 200, 299), ("redirect", 300, 399), ("error", 400, 999)):
            ids = [e["id"] for e in self.logs("status=" + st)["requests"]]
            self.assertTrue(ids, st)
            self.assertEqual(ids, [e["id"] for e in self.all
                                   if lo <= int(e["statusCode"]) <= hi])
        ids = [e["id"] for e in self.logs("search=api_key%3Dfake")["requests"]]
        self.assertTrue(ids)
        self.assertEqual(ids, [e["id"] for e in self.all if "api_key=fake" in e["url"]])
        ids = [e["id"] for e in self.logs("search=" + q("database timeout"))["requests"]]
        self.assertEqual(ids, [e["id"] for e in self.all
                               if any("database timeout" in x["message"] for x in e["logs"])])
        for bad in ("status=ok", "order=up", "page=0", "pageSize=-1", "startTime=x"):
            self.assertEqual(http_get(self.url("/logs?" + bad), self.tok)[0], 400, bad)

    def test_pagination_and_order(self):
        first = get_json(self.url("/logs"), self.tok)
        self.assertEqual(first["pagination"], {"page": 1, "pageSize": 100, "totalCount": TOTAL,
                                               "totalPages": 2})
        desc = [e["id"] for e in get_json(self.url("/logs?pageSize=1000"), self.tok)["requests"]]
        self.assertEqual(desc, [e["id"] for e in self.all][::-1])
        paged = []
        for page in range(1, 9):
            body = get_json(self.url("/logs?order=asc&pageSize=27&page=%d" % page), self.tok)
            self.assertEqual(body["pagination"]["totalPages"], 8)
            paged += [e["id"] for e in body["requests"]]
        self.assertEqual(paged, [e["id"] for e in self.all])
        keys = [(e["startTime"], e["id"]) for e in self.all]
        self.assertEqual(keys, sorted(keys))
        self.assertEqual(get_json(self.url("/logs?page=99"), self.tok)["requests"], [])
        self.assertEqual(get_json(self.url("/logs?pageSize=5000"), self.tok)
                         ["pagination"]["pageSize"], 1000)

    def test_oracle(self):
        ev = get_json(self.sim.url + "/_sim/events?function=" + self.fid)
        self.assertEqual(ev["count"], TOTAL)
        self.assertEqual([e["id"] for e in ev["events"]], [e["id"] for e in self.all])
        self.assertEqual(http_get(self.sim.url + "/_sim/events?function=nope")[0], 404)


class StreamOptions(unittest.TestCase):
    def test_ids_event_retry_and_heartbeat(self):
        with sim("--sse-ids", "--sse-event", "log", "--sse-retry", "1500", "--heartbeat", "150",
                 "--rate", "100", "--total", "5", "--long-ms", "100") as s:
            tok = get_token(s.url)
            fid = sim_function_ids(s.url, tok)[0]
            sim_wait_generated(s.url, 5)
            _, _, body, closed = raw_get(sim_fn_url(s.url, fid, "/logs/stream?since=2020-01-01T00:00:00Z"),
                                         tok, timeout=1.0)
            self.assertFalse(closed)
            self.assertTrue(body.startswith(b"retry: 1500\n\n"), body[:40])
            evs = [e for e in parse_sse(body) if "data" in e]
            self.assertEqual(len(evs), 5)
            for e in evs:
                self.assertEqual(e["event"], "log")
                self.assertEqual(e["id"], json.loads(e["data"])["id"])
            self.assertGreaterEqual(body.count(b": ping\n"), 4)

    def test_live_only_without_since(self):
        with sim("--rate", "20", "--heartbeat", "0", "--long-ms", "100") as s:
            tok = get_token(s.url)
            fid = sim_function_ids(s.url, tok)[0]
            time.sleep(0.5)
            before = {e["id"] for e in get_json(s.url + "/_sim/events?function=" + fid)["events"]}
            self.assertTrue(before)
            _, _, body, _ = raw_get(sim_fn_url(s.url, fid, "/logs/stream"), tok, timeout=1.0)
            got = [json.loads(e["data"])["id"] for e in parse_sse(body) if "data" in e]
            self.assertTrue(got)
            self.assertFalse(before & set(got))
            st = get_json(s.url + "/_sim/stats")
            self.assertGreaterEqual(st["functions"][0]["sent"], len(got))

    def test_replay_horizon(self):
        with sim("--rate", "50", "--replay-horizon", "1", "--heartbeat", "0", "--long-ms", "50",
                 "--epoch", SIM_EPOCH) as s:
            tok = get_token(s.url)
            fid = sim_function_ids(s.url, tok)[0]
            time.sleep(2.0)
            evs = get_json(sim_fn_url(s.url, fid, "/logs?order=asc&pageSize=1000"), tok)["requests"]
            self.assertTrue(evs)
            self.assertGreater(evs[0]["startTime"], "2026-02-19T14:30:00.500Z")


if __name__ == "__main__":
    main()
