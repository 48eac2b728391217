"""A busy project never exceeds the API's limits: 8 functions (5 streamed,
3 polled every 100 ms), status every 200 ms, metrics every 500 ms,
discovery every second and cost records every second all want far more
than 100 requests (list, status, metrics, costs, billing) and 200
historical-logs requests per window. The client-side limiter spaces them:
the simulator's counters show the limits reached and never one 429, never
more than 5 streams at once, and every event is delivered."""

import os
import time
import unittest

from harness import main, sim, sim_stats, wait_for
from agentlib import Agent, config_for, oracle_ids, read_records, tmpdir

WINDOW = 6  # seconds: the simulator's and the agent's rate-limit window

BUSY = ("functions = *\nstatus_interval = 200ms\nmetrics_interval = 500ms\n"
        "discovery_interval = 1s\ncost_records = true\ncost_interval = 1s\n"
        "poll_interval = 100ms\nrate_limit_window = %ds\n" % WINDOW)


class Limits(unittest.TestCase):
    def test_busy_run_with_8_functions_stays_within_every_limit(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--functions", "8", "--rate", "10", "--limit-window", WINDOW) as s:
            cfg = config_for(s, d, project_extra=BUSY, control=True)
            with Agent(cfg) as a:
                start = time.monotonic()
                # Two windows and a bit: the limiter must hold across the
                # window boundary, not just fill the first one.
                wait_for(lambda: time.monotonic() - start > 2 * WINDOW + 1, 3 * WINDOW,
                         interval=0.5, what="two windows")
                stats = sim_stats(s.url)
                self.assertEqual(stats["rateLimited"], {k: 0 for k in stats["rateLimited"]},
                                 stats)
                self.assertEqual(stats["streams"]["peak"], 5, stats)
                # The budgets were used, not left idle: more than one
                # window's worth of each.
                self.assertGreater(stats["requests"]["api"], 100, stats)
                self.assertGreater(stats["requests"]["logs"], 200, stats)
                self.assertLessEqual(stats["requests"]["api"], 300, stats)
                self.assertLessEqual(stats["requests"]["logs"], 600, stats)
                want = set(i for ids in oracle_ids(s.url).values() for i in ids)
                wait_for(lambda: want <= set(r["id"] for r in read_records(out)), 30,
                         what="every event delivered")
                self.assertEqual(sum(sim_stats(s.url)["rateLimited"].values()), 0)
                self.assertEqual(a.stop(), 0)
                log = a.log()
        self.assertIn("streaming 5 (", log)
        self.assertIn("polling 3 every 100 ms (", log)
        self.assertIn("the API's rate limit sets the pace", log)
        kinds = set(r["kind"] for r in read_records(out))
        self.assertEqual(kinds, {"request", "status", "metrics", "cost"})


if __name__ == "__main__":
    main()
