"""HTTP answers the stream state machine must handle: 401 refreshes the token
once, then backs off (never a spin); 403/404 stop that stream while the others
go on; 204 stops reconnecting; 429/503 honour Retry-After; an expired token is
refreshed; a short token lifetime is refreshed ahead of expiry."""

import os
import re
import time
import unittest

from harness import main, sim, sim_fault, sim_stats, wait_for
from agentlib import Agent, config_for, oracle_ids, read_records, run_with_sim, tmpdir

TOTAL = 100


class HttpFaults(unittest.TestCase):
    def test_401_once_refreshes_and_delivers(self):
        _, log, stats = run_with_sim(self, ["--rate", "100", "--fault", "status=401:1"], TOTAL)
        self.assertIn("HTTP 401: refreshing the token once", log)
        self.assertGreaterEqual(stats["tokensIssued"], 2)

    def test_token_expiry_fault_refreshes(self):
        _, _, stats = run_with_sim(self, ["--rate", "100", "--fault", "token-expiry"], TOTAL)
        self.assertGreaterEqual(stats["faultsApplied"]["token-expiry"], 1)
        self.assertGreaterEqual(stats["tokensIssued"], 2)

    def test_short_token_lifetime_is_refreshed_ahead(self):
        # A 3 s token is refreshed at 2.7 s (a tenth before expiry): over
        # 7 s that is at least two refreshes and no 401 at all.
        _, _, stats = run_with_sim(self, ["--rate", "20", "--token-ttl", "3"], 140)
        self.assertGreaterEqual(stats["tokensIssued"], 3)
        self.assertEqual(stats["unauthorized"], 0)

    def test_persistent_401_backs_off(self):
        d = tmpdir()
        with sim("--rate", "10", "--no-limits", "--fault", "status=401") as s:
            with Agent(config_for(s, d)) as a:
                time.sleep(4)
                stream_requests = sim_stats(s.url)["requests"]["stream"]
                # 3 streams, backoff from 100 ms doubling to 2 s: a spin
                # would make thousands of requests in 4 s.
                self.assertLess(stream_requests, 60, stream_requests)
                self.assertIn("HTTP 401 again after a token refresh; backing off", a.log())
                sim_fault(s.url, "clear=1")
                out = os.path.join(d, "out.jsonl")
                wait_for(lambda: len(read_records(out)) >= 30, 30, what="records after 401s")
                self.assertEqual(a.stop(), 0)

    def stop_one(self, code, message):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "50", "--total", "100", "--no-limits",
                 "--fault", "status=%d:1" % code) as s:
            with Agent(config_for(s, d)) as a:
                def two_complete():
                    ids = set(r["id"] for r in read_records(out))
                    full = [f for f, want in oracle_ids(s.url).items()
                            if len(want) == 100 and set(want) <= ids]
                    return len(full) >= 2
                wait_for(two_complete, 30, what="the other two streams complete")
                time.sleep(1)
                log = a.log()
                self.assertIn(message, log)
                self.assertEqual(log.count(message), 1)
                self.assertTrue(a.alive())
                streams = sim_stats(s.url)["streams"]["total"]
                time.sleep(1.5)
                self.assertEqual(sim_stats(s.url)["streams"]["total"], streams,
                                 "a stopped stream reconnected")
                self.assertEqual(a.stop(), 0)

    def test_403_stops_that_stream_only(self):
        self.stop_one(403, "the key has no access to this function; this stream is stopped")

    def test_404_stops_that_stream_only(self):
        self.stop_one(404, "no such function or project; this stream is stopped")

    def test_204_stops_reconnecting(self):
        self.stop_one(204, "HTTP 204: the server asked not to reconnect; stream stopped")

    def test_503_and_429_honour_retry_after(self):
        _, log, stats = run_with_sim(self, ["--rate", "100", "--fault", "status=503:3"], TOTAL)
        self.assertIn("HTTP 503: retrying in the time Retry-After asks", log)
        # 429 on a stream is the project's stream limit: the function is
        # polled meanwhile, and streamed again no sooner than Retry-After.
        _, log, stats = run_with_sim(self, ["--rate", "100", "--fault", "status=429:3"], TOTAL)
        waits = re.findall(r"HTTP 429: all 5 of the project's streams are open, some by another "
                           r"client\): polling it, streaming again in (\d+) ms", log)
        self.assertEqual(len(waits), 3, log)
        self.assertTrue(all(int(w) >= 1000 for w in waits), waits)


if __name__ == "__main__":
    main()
