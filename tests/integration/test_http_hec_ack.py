"""Splunk HEC with indexer acknowledgement (ack = on): a batch counts as
delivered only once /services/collector/ack confirms its ackId.

- Acks that come late (after a few polls) are waited for; an ackId that is
  never confirmed sends its batch again after ack_timeout (its records
  arrive twice, nothing is lost); every request carries the channel.
- Stopped while acks are missing, the agent drains for shutdown_timeout and
  leaves those records unacknowledged: the next start sends them again."""

import re

from harness import main, sim, sim_wait_generated, tmpdir, wait_for
from agentlib import Agent, config_for, oracle_ids
from httpsinklib import HttpCase, clear_faults, dead_letters, fault, got, receiver, sink, state

HEC = "auth = splunk\ntoken = hec-test-token\nack = on\nack_interval = 200ms\n"


class HecAck(HttpCase):
    def test_late_and_lost_acks(self):
        with receiver("--hec-ack") as rcv:
            u = rcv.url

            def prepare(ids):
                fault(u, key="hec", ack_delay_polls=2)
                fault(u, key="hec", ack_drop=1)

            def want(st, oracle, d, a):
                return oracle <= set(got(st, "hec")) and "sending them again" in a.log()

            st, oracle, log, d = self.run_agent(
                rcv, sink("hec", u, "splunk_hec", HEC + "ack_timeout = 3s\n"), 60, want,
                prepare=prepare, secrets=("hec-test-token",))
        self.assert_clean(st)
        counts = got(st, "hec")
        self.assertEqual(set(counts), oracle)
        twice = [i for i, c in counts.items() if c > 1]
        # Only the batch whose ack was lost came again.
        self.assertLessEqual(len(twice), 500)
        self.assertEqual(max(counts.values()), 2)
        self.assertGreater(st["ack_polls"], 2)
        self.assertRegex(st["headers"]["hec"]["X-Splunk-Request-Channel"],
                         r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertEqual(dead_letters(d, "hec"), [])
        self.assertRegex(log, re.escape("[sink hec] ") + r"\d+ records accepted with ackId 0 not "
                         "acknowledged within ack_timeout: sending them again")
        self.assertIn("sinks drained, checkpoints written", log)

    def test_unconfirmed_records_replay_at_next_start(self):
        d = tmpdir()
        with receiver("--hec-ack") as rcv, sim("--total", "40", "--no-limits", "--rate",
                                               "200") as s:
            u = rcv.url
            sim_wait_generated(s.url, 40)
            oracle = set(i for ids in oracle_ids(s.url).values() for i in ids)
            fault(u, key="hec", ack_drop=1000000)
            cfg = config_for(s, d, sinks=sink("hec", u, "splunk_hec", HEC),
                             agent_extra="shutdown_timeout = 1s\n")
            with Agent(cfg, secrets=("hec-test-token",)) as a:
                wait_for(lambda: oracle <= set(got(state(u), "hec")), 30,
                         what="records at the collector")
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
                log = a.log()
            self.assertIn("120 record(s) not acknowledged by the sinks in time; they are read "
                          "again at the next start", log)
            clear_faults(u)
            with Agent(cfg, log_name="agent2.log", secrets=("hec-test-token",)) as a:
                wait_for(lambda: all(c == 2 for c in got(state(u), "hec").values()) and
                         oracle <= set(got(state(u), "hec")), 30,
                         what="every record sent again")
                self.assertEqual(a.stop(), 0)
                log = a.log()
            self.assertIn("sinks drained, checkpoints written", log)
            self.assertEqual(set(got(state(u), "hec")), oracle)


if __name__ == "__main__":
    main()
