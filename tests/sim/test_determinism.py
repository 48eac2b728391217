"""sinch-fn-sim: same seed and epoch give the same bytes; the event mix is realistic."""

import collections
import json
import re
import unittest

from harness import (SIM_EPOCH, get_json, get_token, http_get, main, raw_get, parse_sse, sim,
                     sim_fn_url, sim_function_ids, sim_wait_generated)

SINCE = "2026-02-19T14:29:00Z"
BASE = ("--epoch", SIM_EPOCH, "--heartbeat", "0", "--long-ms", "400")


def capture(seed, total=25, extra=()):
    with sim("--seed", seed, "--rate", "50", "--total", total, *BASE, *extra) as s:
        tok = get_token(s.url)
        sim_wait_generated(s.url, total)
        out = {"ids": sim_function_ids(s.url, tok), "logs": [], "stream": [], "oracle": []}
        for fid in out["ids"]:
            out["logs"].append(http_get(sim_fn_url(s.url, fid, "/logs?pageSize=1000"), tok)[2])

            def enough(body):
                return len([e for e in parse_sse(body) if "data" in e]) >= total
            st, _, body, _ = raw_get(sim_fn_url(s.url, fid, "/logs/stream?since=" + SINCE), tok,
                                     timeout=10, until=enough)
            out["stream"].append(body)
            out["oracle"].append(get_json(s.url + "/_sim/events?function=" + fid)["events"])
        return out


class Determinism(unittest.TestCase):
    def test_same_seed_same_bytes(self):
        a, b = capture(7), capture(7)
        self.assertEqual(a["ids"], b["ids"])
        self.assertEqual(a["logs"], b["logs"])
        self.assertEqual(a["stream"], b["stream"])
        self.assertEqual(a["oracle"], b["oracle"])
        for i in range(3):
            self.assertEqual(len(json.loads(a["logs"][i])["requests"]), 25)
            # The oracle (start order) and /logs?order=asc agree.
            logs_ids = [r["id"] for r in json.loads(a["logs"][i])["requests"]][::-1]
            self.assertEqual([e["id"] for e in a["oracle"][i]], logs_ids)
        c = capture(8)
        self.assertNotEqual(a["ids"], c["ids"])
        self.assertNotEqual(a["logs"], c["logs"])

    def test_event_mix(self):
        with sim("--seed", "3", "--rate", "400", "--total", "500", *BASE) as s:
            tok = get_token(s.url)
            sim_wait_generated(s.url, 500)
            fid = sim_function_ids(s.url, tok)[0]
            _, _, raw = http_get(sim_fn_url(s.url, fid, "/logs?pageSize=1000&order=asc"), tok)
            evs = json.loads(raw)["requests"]
            self.assertEqual(len(evs), 500)
            self.assertEqual(len({e["id"] for e in evs}), 500)
            starts = collections.Counter(e["startTime"] for e in evs)
            self.assertGreaterEqual(sum(1 for n in starts.values() if n >= 2), 5, "ties")
            self.assertTrue(any(n >= 3 for n in starts.values()))
            for e in evs:
                self.assertRegex(e["id"], r"^req_0_\d{8}_[0-9a-f]{6}$")
                self.assertRegex(e["startTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
                for line in e["logs"]:
                    self.assertIn(line["level"], ("Debug", "Info", "Warning", "Error"))
                self.assertIn("Authorization", e["requestHeaders"])
                self.assertIn("Cookie", e["requestHeaders"])
                self.assertIn("Set-Cookie", e["responseHeaders"])
            self.assertTrue(any("token=fake-token-" in e["url"] for e in evs))
            self.assertTrue(any("api_key=" in e["url"] for e in evs))
            self.assertTrue(any(isinstance(e["statusCode"], str) for e in evs))
            self.assertTrue(any(e.get("region") == "eu1" for e in evs))
            big = re.findall(rb'"traceId":(\d+)', raw)
            self.assertTrue(big and all(len(d) == 20 and int(d) > 2 ** 53 for d in big))
            codes = {int(e["statusCode"]) // 100 for e in evs}
            self.assertEqual(codes, {2, 3, 4, 5})
            self.assertEqual({len(e["logs"]) for e in evs}, {0, 1, 2, 3, 4, 5})
            durations = [int(e["executionTimeMs"]) for e in evs]
            self.assertTrue(any(d >= 320 for d in durations), "long-running requests")
            # Completion order differs from start order: the stream sees both.
            _, _, body, _ = raw_get(sim_fn_url(s.url, fid, "/logs/stream?since=" + SINCE), tok,
                                    timeout=10, until=lambda b: b.count(b"\n\n") >= 500)
            sst = [json.loads(e["data"])["startTime"] for e in parse_sse(body) if "data" in e]
            self.assertEqual(len(sst), 500)
            self.assertNotEqual(sst, sorted(sst))

    def test_shapes(self):
        with sim("--shape", "nested", "--rate", "50", "--total", "6", *BASE) as s:
            tok = get_token(s.url)
            sim_wait_generated(s.url, 6)
            fid = sim_function_ids(s.url, tok)[0]
            evs = get_json(sim_fn_url(s.url, fid, "/logs"), tok)["requests"]
            for e in evs:
                self.assertIn("timestamp", e)
                self.assertEqual(set(e["request"]), {"method", "url", "headers", "body"})
                self.assertEqual(set(e["response"]), {"statusCode", "headers", "body"})
                self.assertNotIn("startTime", e)
        with sim("--shape", "mixed", "--rate", "50", "--total", "6", *BASE) as s:
            tok = get_token(s.url)
            sim_wait_generated(s.url, 6)
            fid = sim_function_ids(s.url, tok)[0]
            evs = get_json(sim_fn_url(s.url, fid, "/logs?order=asc"), tok)["requests"]
            self.assertEqual(["request" in e for e in evs], [False, True] * 3)


if __name__ == "__main__":
    main()
