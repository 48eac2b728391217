"""The OAuth2 lifecycle against the simulator: a 10 s token is refreshed once
ahead of expiry while streams and pollers go on (no 401, no storm); a server
that refuses every token (401 storm) never makes the agent loop; 403 on one
function stops that function's work only; 429 from the token endpoint backs
off with jitter instead of hammering it."""

import os
import time
import unittest

from harness import main, sim, sim_fault, sim_stats, wait_for
from agentlib import Agent, config_for, oracle_ids, read_records, tmpdir

FAST = ("status_interval = 300ms\nmetrics_interval = 0\nmax_streams = 2\n"
        "poll_interval = 300ms\n")


def requests(stats):
    return sum(stats["requests"][k] for k in ("api", "logs", "stream"))


class Auth(unittest.TestCase):
    def test_token_expiry_mid_stream_one_refresh(self):
        # Streams (2), a polled function and the status poller share one
        # token. The 10 s token is refreshed at 9 s (a tenth of its
        # lifetime before expiry); connections cut every 60 events make the
        # streams reconnect across the expiry with the new token (a short
        # overlap, longer than any request, keeps each replay under 60).
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "10", "--token-ttl", "10", "--no-limits", "--long-ms", "400",
                 "--fault", "drop-every=60") as s:
            cfg = config_for(s, d, project_extra=FAST + "resume_overlap = 2s\n", control=True)
            with Agent(cfg) as a:
                start = time.monotonic()
                wait_for(lambda: sim_stats(s.url)["tokensIssued"] >= 2, 20,
                         what="the token refreshed")
                refreshed = time.monotonic() - start
                self.assertGreater(refreshed, 8, "refreshed too early")
                # Past the first token's expiry: everything goes on.
                time.sleep(max(0, 11.5 - (time.monotonic() - start)))
                stats = sim_stats(s.url)
                self.assertEqual(stats["tokensIssued"], 2, "a refresh storm")
                self.assertEqual(stats["unauthorized"], 0)
                self.assertGreaterEqual(stats["faultsApplied"]["drop-every"], 2)
                want = set(i for ids in oracle_ids(s.url).values() for i in ids)
                wait_for(lambda: want <= set(r["id"] for r in read_records(out)), 20,
                         what="every event up to the expiry delivered")
                self.assertEqual(sim_stats(s.url)["unauthorized"], 0)
                self.assertEqual(a.stop(), 0)
        kinds = set(r["kind"] for r in read_records(out))
        self.assertEqual(kinds, {"request", "status"})

    def test_401_storm_does_not_loop(self):
        # Once running, every API request and stream connection is refused
        # with 401 (as if each new token were revoked at once), and the
        # streams are cut so that they must reconnect. Per request one
        # refresh, then back off; across requests, refreshes back off too.
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "20", "--no-limits") as s:
            cfg = config_for(s, d, project_extra=FAST, control=True)
            with Agent(cfg) as a:
                wait_for(lambda: len(read_records(out)) >= 30, 20, what="records")
                before = sim_stats(s.url)
                sim_fault(s.url, "api-status=401&status=401&drop-every=1")
                time.sleep(5)
                after = sim_stats(s.url)
                tokens = after["tokensIssued"] - before["tokensIssued"]
                sent = requests(after) - requests(before)
                refused = after["unauthorized"] - before["unauthorized"]
                # A loop would be thousands in 5 s; the backoffs (100 ms
                # doubling to 2 s, jittered) allow a few dozen.
                self.assertLess(tokens, 20, after)
                self.assertLess(sent, 150, after)
                self.assertGreater(refused, 5, after)
                self.assertIn("the API refused", a.log())
                sim_fault(s.url, "clear=1")
                n = len(read_records(out))
                wait_for(lambda: len(read_records(out)) >= n + 30, 30,
                         what="records once the 401s stop")
                self.assertEqual(a.stop(), 0)

    def test_403_stops_one_function_only(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "20", "--no-limits", "--functions", "3",
                 "--fault", "forbid=sms-webhook") as s:
            cfg = config_for(s, d, project_extra=FAST, control=True)
            with Agent(cfg) as a:
                def others_flow():
                    recs = read_records(out)
                    names = set(r["function_name"] for r in recs if r["kind"] == "request")
                    return names == {"ivr-handler", "callback-router"} and len(recs) > 60
                wait_for(others_flow, 30, what="the other functions' records")
                log = a.log()
                # callback-router is polled (max_streams = 2); sms-webhook
                # is streamed: its stream stops, and so does its status.
                self.assertIn("stream sim/sms-webhook] HTTP 403: the key has no access to this "
                              "function; this stream is stopped", log)
                self.assertIn("status of sms-webhook: HTTP 403", log)
                applied = sim_stats(s.url)["faultsApplied"]["forbid"]
                time.sleep(1.5)
                self.assertEqual(sim_stats(s.url)["faultsApplied"]["forbid"], applied,
                                 "a forbidden function is still asked")
                self.assertTrue(a.alive())
                self.assertEqual(a.stop(), 0)
        by_fn = set((r["kind"], r["function_name"]) for r in read_records(out))
        self.assertNotIn(("request", "sms-webhook"), by_fn)
        self.assertNotIn(("status", "sms-webhook"), by_fn)
        self.assertIn(("status", "callback-router"), by_fn)

    def test_token_endpoint_429_backs_off(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "20", "--no-limits", "--fault", "token-status=429") as s:
            cfg = config_for(s, d, project_extra=FAST, control=True)
            with Agent(cfg) as a:
                time.sleep(4)
                tries = sim_stats(s.url)["requests"]["token"]
                # 3 streams, the poller and discovery all wait for one
                # token: one request at a time, 100 ms doubling to 2 s
                # (with full jitter: about 8 in 4 s, 16 would be rare luck).
                self.assertLess(tries, 16, tries)
                self.assertGreaterEqual(tries, 3, tries)
                sim_fault(s.url, "clear=1")
                wait_for(lambda: len(read_records(out)) >= 30, 30,
                         what="records once the token endpoint answers")
                self.assertEqual(sim_stats(s.url)["tokensIssued"], 1)
                self.assertEqual(a.stop(), 0)


if __name__ == "__main__":
    main()
