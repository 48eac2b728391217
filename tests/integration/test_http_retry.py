"""Failures the collector recovers from are retried until they pass, and
lose nothing: 429 with Retry-After (the next request waits as long as it
says), bursts of 503, connection resets, and answers slower than `timeout`
(the request is abandoned and sent again: the only case with duplicates,
since the slow collector did take the first copy). Nothing is dead-lettered,
and no more than max_in_flight requests are open at once."""

from harness import main
from httpsinklib import HttpCase, dead_letters, fault, got, receiver, sink


class Retry(HttpCase):
    def test_transient_failures_lose_nothing(self):
        with receiver() as rcv:
            u = rcv.url
            fault(u, key="ra", status=429, count=3, retry_after="1")
            fault(u, key="burst", status=503, count=6)
            fault(u, key="reset", reset=3)
            fault(u, key="slow", slow_ms=1500, count=2)
            fault(u, key="late", slow_ms=400, count=4)
            sinks = (sink("ra", u, "ndjson") +
                     sink("burst", u, "splunk_hec") +
                     sink("reset", u, "elasticsearch_bulk") +
                     sink("slow", u, "loki", "timeout = 700ms\n") +
                     sink("late", u, "otlp_json"))
            names = ["ra", "burst", "reset", "slow", "late"]

            def want(st, oracle, d, a):
                return all(oracle <= set(got(st, n)) for n in names)

            st, oracle, log, d = self.run_agent(rcv, sinks, 100, want)
        self.assert_clean(st)
        self.assertEqual(len(oracle), 300)
        for n in names:
            counts = got(st, n)
            self.assertEqual(set(counts), oracle, n)
            self.assertEqual(dead_letters(d, n), [], n)
            if n != "slow":
                self.assertEqual(max(counts.values()), 1, n + ": duplicates")
        # Every fault was met.
        self.assertEqual(st["statuses"]["ra"]["429"], 3)
        self.assertEqual(st["statuses"]["burst"]["503"], 6)
        self.assertEqual(st["statuses"]["reset"]["reset"], 3)
        self.assertEqual(st["statuses"]["slow"]["slow"], 2)
        # Retry-After: 1 holds back every request for a second after a 429:
        # only the other one of max_in_flight = 2, already under way, may
        # still arrive in that second.
        events = st["log"]["ra"]
        for _, answered, status in events:
            if status == 429:
                early = [e for e in events if answered < e[0] < answered + 0.9]
                self.assertLessEqual(len(early), 1, events)
        # Three 429s, at most two at once: at least two holds of a second.
        self.assertGreaterEqual(events[-1][0] - events[0][1], 1.9, events)
        for n in names:
            # The two abandoned slow requests may still run at the collector.
            self.assertLessEqual(st["max_inflight"][n], 2 + 2 if n == "slow" else 2, n)
        # The abandoned slow requests were taken by the collector: at most
        # two batches came twice.
        dups = sum(c - 1 for c in got(st, "slow").values())
        self.assertLessEqual(dups, 2 * 500)
        self.assertIn("[sink ra] http://127.0.0.1:%d/ra/ndjson answered 429" % rcv.port, log)
        self.assertIn("retrying in 1000 ms", log)
        self.assertIn("[sink reset] request to http://127.0.0.1:%d/reset/_bulk failed: " % rcv.port,
                      log)
        self.assertIn("Operation timed out", log)
        self.assertIn("the collector accepts again", log)


if __name__ == "__main__":
    main()
