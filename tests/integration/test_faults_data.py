"""Bad event data never stops the agent: malformed, oversized and invalid
UTF-8 events are counted and skipped or repaired; both event shapes and
numbers as strings normalize; every good event arrives."""

import json
import unittest

from harness import get_token, http_get, main, sim_fn_url, sim_function_ids
from agentlib import run_with_sim, wait_all_delivered

TOTAL = 120


class DataFaults(unittest.TestCase):
    def run_sim(self, *args, **kw):
        return run_with_sim(self, ["--rate", "100"] + list(args), TOTAL, **kw)

    def test_malformed_events_skipped_and_logged_once(self):
        recs, log, stats = self.run_sim("--fault", "malformed-every=10")
        self.assertGreater(stats["injected"]["malformed"], 20)
        self.assertFalse(any(r["id"].startswith("malformed") for r in recs))
        # Logged once per stream, not once per event.
        self.assertLessEqual(log.count("malformed event skipped"), 3, log)
        self.assertGreaterEqual(log.count("malformed event skipped"), 1, log)

    def test_oversized_events_skipped(self):
        recs, log, stats = self.run_sim("--fault", "oversize-every=25",
                                        "--oversize-bytes", "300000",
                                        project_extra="max_event_size = 64K")
        self.assertGreater(stats["injected"]["oversize"], 5)
        self.assertIn("exceeds max_event_size", log)

    def test_invalid_utf8_repaired(self):
        recs, _, stats = self.run_sim("--fault", "bad-utf8-every=7")
        self.assertGreater(stats["faultsApplied"]["bad-utf8-every"], 10)
        repaired = [r for r in recs if any("\ufffd" in l["message"] for l in r["logs"])]
        self.assertGreater(len(repaired), 10)

    def test_nested_and_mixed_shapes(self):
        for shape in ("nested", "mixed"):
            recs, _, _ = self.run_sim("--shape", shape)
            for r in recs:
                self.assertEqual(r["schema"], 1)
                self.assertIn("method", r)
                self.assertIsInstance(r["status"], int)
                self.assertRegex(r["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
                headers = r.get("request", {}).get("headers", {})
                for h in headers:
                    self.assertNotIn(h.lower(), ("authorization", "cookie"))
                self.assertNotIn("set-cookie",
                                 [h.lower() for h in r.get("response", {}).get("headers", {})])

    def test_exact_numbers_and_redacted_queries(self):
        seen = {}

        def collect(s, a, out):
            recs = wait_all_delivered(s.url, out, TOTAL)
            tok = get_token(s.url)
            for fid in sim_function_ids(s.url, tok):
                body = http_get(sim_fn_url(s.url, fid, "/logs?pageSize=1000"), tok)[2]
                # Python's json keeps integers exact, whatever their size.
                for e in json.loads(body)["requests"]:
                    if "traceId" in e:
                        seen[e["id"]] = e["traceId"]
            with open(out) as f:
                raw = f.read()
            return recs, raw

        (recs, raw), _, _ = run_with_sim(self, ["--rate", "100"], TOTAL, allow_missing=collect)
        self.assertTrue(seen, "the simulator sent no traceId")
        by_id = {r["id"]: r for r in recs}
        for rid, value in seen.items():
            self.assertGreater(value, 2 ** 53)
            self.assertEqual(by_id[rid]["extra"]["traceId"], value)
            self.assertIn('"traceId":%d' % value, raw, "digits of %s changed" % rid)
        for r in recs:
            self.assertNotRegex(r["url"], r"[?&](token|api_key)=(?!REDACTED)")


if __name__ == "__main__":
    main()
