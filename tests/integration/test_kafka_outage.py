"""All three brokers down for 20 s in the middle of a stream, then up again:
nothing is lost, order holds, and while nothing could be acknowledged the
checkpoints stood still although the agent kept reading (a file sink beside
the Kafka sink kept writing until the Kafka sink's queue bound paused the
streams): the checkpoint never passes a record Kafka has not acknowledged.
(A SIGKILL during an outage, then a restart, is test_kafka_restart.py.)"""

import glob
import os
import time
import unittest

from harness import sim, main, wait_for
from agentlib import Agent, config_for, count_lines, tmpdir
from kafkalib import (KafkaBroker, TOPIC, check_messages, check_order, kafka_sink, log_stat,
                      wait_oracle_in_topic)

OUTAGE_S = 20


def checkpoints(d):
    out = {}
    for p in sorted(glob.glob(os.path.join(d, "state", "*.ckpt"))):
        with open(p, "rb") as f:
            out[os.path.basename(p)] = f.read()
    return out


class Outage(unittest.TestCase):
    def test_all_brokers_down_20s_loses_nothing(self):
        total = 3600  # at 150/s per function: 24 s of stream
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with KafkaBroker() as kb:
            kb.command("topic %s 3" % TOPIC)
            sinks = (kafka_sink(kb.bootstrap, extra="queue_max_records = 2000\n") +
                     "[sink file]\ntype = file\npath = %s\nfsync_interval = 100ms\n" % out)
            with sim("--total", total, "--no-limits", "--rate", "150", "--seed", "9") as s:
                cfg = config_for(s, d, sinks=sinks)
                with Agent(cfg) as a:
                    wait_for(lambda: count_lines(out) >= 600, 30, what="records flowing")
                    kb.all_down()
                    down_at = time.monotonic()
                    at_down = count_lines(out)
                    # Reports for what was on the wire settle; then nothing
                    # can be acknowledged until the brokers are back.
                    time.sleep(2)
                    frozen = checkpoints(d)
                    self.assertEqual(len(frozen), 3)
                    late = None
                    while time.monotonic() - down_at < OUTAGE_S:
                        self.assertEqual(checkpoints(d), frozen,
                                         "a checkpoint moved while Kafka was down")
                        if late is None and time.monotonic() - down_at > OUTAGE_S - 5:
                            late = count_lines(out)
                        time.sleep(0.5)
                    # The streams went on until the Kafka sink held its
                    # queue_max_records, then paused.
                    self.assertGreater(count_lines(out), at_down + 1500,
                                       "the agent kept reading during the outage")
                    self.assertEqual(count_lines(out), late, "the streams paused")
                    self.assertTrue(a.alive(), a.log()[-3000:])
                    kb.all_up()
                    msgs, want = wait_oracle_in_topic(self, s.url, kb.bootstrap, total,
                                                      timeout=90, agent=a)
                    wait_for(lambda: checkpoints(d) != frozen, 30, what="checkpoints moving")
                    self.assertEqual(a.stop(), 0, a.log()[-3000:])
                    log = a.log()

        self.assertEqual(set(m["value"]["id"] for m in msgs), want)
        check_messages(self, msgs)
        check_order(self, msgs, out)
        self.assertIn("[sink k] cannot deliver: Local: All broker connections are down", log)
        down_ms = log_stat(log, r"\[sink k\] delivering again after (\d+) ms")
        self.assertIsNotNone(down_ms, log[-3000:])
        self.assertGreaterEqual(down_ms, (OUTAGE_S - 2) * 1000)
        self.assertEqual(log_stat(log, r"\[sink k\] closing: .* (\d+) dead-lettered"), 0)


if __name__ == "__main__":
    main()
