"""Each transport-level fault of the simulator leaves the agent running and
every real event delivered exactly once (no restart, so no duplicates)."""

import collections
import unittest

from harness import main
from agentlib import run_with_sim

TOTAL = 150
# resume_overlap must exceed the longest request (the simulator's run up to
# 1.5 s, long ones 1.2 x --long-ms): there is no backfill yet. A reconnect
# replays about resume_overlap x rate events, which must stay well under
# drop-every, or no connection gets past the replay.
DROP_ARGS = ["--long-ms", "100", "--rate", "150"]
DROP_TOTAL = 600
DROP_OVERLAP = "resume_overlap = 2s"


class StreamFaults(unittest.TestCase):
    def deliver(self, *fault_args, total=TOTAL, rate="100", project_extra=""):
        recs, log, stats = run_with_sim(self, ["--rate", rate] + list(fault_args), total,
                                        project_extra=project_extra)
        counts = collections.Counter(r["id"] for r in recs)
        dups = [i for i, n in counts.items() if n > 1]
        self.assertEqual(dups, [], "duplicates without a crash")
        return recs, log, stats

    def test_drop_every(self):
        _, log, stats = self.deliver("--fault", "drop-every=400", *DROP_ARGS,
                                     total=DROP_TOTAL, project_extra=DROP_OVERLAP)
        self.assertGreaterEqual(stats["faultsApplied"]["drop-every"], 3)
        self.assertIn("stream ended by the server; reconnecting", log)

    def test_cut_mid_event(self):
        _, log, stats = self.deliver("--fault", "cut-mid-event=400", *DROP_ARGS,
                                     total=DROP_TOTAL, project_extra=DROP_OVERLAP)
        self.assertGreaterEqual(stats["faultsApplied"]["cut-mid-event"], 2)

    def test_line_ends_cr_and_bom(self):
        _, _, stats = self.deliver("--fault", "line-ends=cr", "--fault", "bom")
        self.assertGreaterEqual(stats["faultsApplied"]["bom"], 3)

    def test_line_ends_crlf_split_writes(self):
        _, _, stats = self.deliver("--fault", "line-ends=crlf", "--fault", "split-writes")
        self.assertGreaterEqual(stats["faultsApplied"]["split-writes"], 1)

    def test_heartbeats_and_sse_fields(self):
        self.deliver("--fault", "heartbeat=50", "--sse-ids", "--sse-event", "log",
                     "--sse-retry", "300")

    def test_slow_drip(self):
        self.deliver("--fault", "drip=20000", total=40, rate="20")

    def test_idle_timeout_reconnects(self):
        # No heartbeats and a 1 s idle timeout: a quiet stream is reconnected,
        # and events after the quiet spell still arrive.
        recs, log, _ = self.deliver("--heartbeat", "0", "--rate", "0.5", total=3,
                                    project_extra="idle_timeout = 1s")
        self.assertIn("no data for 1000 ms: reconnecting", log)


if __name__ == "__main__":
    main()
