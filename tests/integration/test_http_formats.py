"""The HTTP sink speaks every preset as the test collector
(tests/lib/http_receiver.py) validates it strictly, gzip-compressed or not:
ndjson, json_array, splunk_hec, elasticsearch_bulk, loki and otlp_json each
deliver every event exactly once in a clean run, with the configured
Authorization (Bearer, Basic, Splunk) and extra headers, never more than
max_in_flight requests at once, and batches of at most batch_max_records
and batch_max_bytes (a larger record alone)."""

import base64
import os

from harness import main
from httpsinklib import HttpCase, got, receiver, sink


class Formats(HttpCase):
    def test_every_preset_delivers_every_event_once(self):
        with receiver() as rcv:
            u = rcv.url
            d_token = "test-token-not-a-secret"
            sinks = (
                sink("nd", u, "ndjson", "auth = bearer\ntoken = %s\n"
                     "headers = X-Scope-OrgID: tenant-1, X-Team: voice, sms\n" % d_token) +
                sink("arr", u, "json_array", "compression = none\nauth = basic\n"
                     "username = shipper\npassword = pw-for-tests\n") +
                sink("hec", u, "splunk_hec", "auth = splunk\ntoken = %s\nindex = functions\n"
                     "host = test-host\n" % d_token) +
                sink("es", u, "elasticsearch_bulk", "index = fn-{function_name}-%Y.%m\n") +
                sink("loki", u, "loki", "labels = function, level, env=test\n"
                     "compression = none\n") +
                sink("otlp", u, "otlp_json", "batch_max_records = 7\nmax_in_flight = 3\n") +
                sink("small", u, "ndjson", "batch_max_bytes = 1K\n"))
            names = ["nd", "arr", "hec", "es", "loki", "otlp", "small"]

            def want(st, oracle, d, a):
                return all(oracle <= set(got(st, n)) for n in names)

            st, oracle, log, _ = self.run_agent(rcv, sinks, 60, want,
                                                secrets=(d_token, "pw-for-tests"))
        self.assert_clean(st)
        self.assertEqual(len(oracle), 180)
        for n in names:
            counts = got(st, n)
            self.assertEqual(set(counts), oracle, n)
            self.assertEqual(max(counts.values()), 1, n + ": duplicates")
            self.assertLessEqual(st["max_inflight"][n], 3 if n == "otlp" else 2, n)
        # 180 records in batches of at most 7.
        self.assertGreaterEqual(st["bodies"]["otlp"], 180 // 7)
        # At most 1K of records per request; a larger record goes alone.
        alone = 0
        for lines in st["lines"]["small"]:
            if len(lines) > 1:
                self.assertLessEqual(sum(lines), 1024, lines)
            alone += lines[0] > 1024
        self.assertGreater(alone, 0)
        self.assertEqual(sum(len(x) for x in st["lines"]["small"]), 180)
        h = st["headers"]
        self.assertEqual(h["nd"]["Authorization"], "Bearer " + d_token)
        self.assertEqual(h["nd"]["X-Scope-OrgID"], "tenant-1")
        self.assertEqual(h["nd"]["X-Team"], "voice, sms")
        self.assertEqual(h["nd"]["Content-Encoding"], "gzip")
        self.assertNotIn("Content-Encoding", h["arr"])
        self.assertEqual(h["arr"]["Authorization"],
                         "Basic " + base64.b64encode(b"shipper:pw-for-tests").decode())
        self.assertEqual(h["hec"]["Authorization"], "Splunk " + d_token)
        self.assertNotIn("Authorization", h["es"])
        self.assertIn("records delivered", log)


if __name__ == "__main__":
    main()
