"""A fatal producer error (rd_kafka_test_fatal_error, injected by the sink
after its 400th delivery when SINCH_LOGD_TEST_KAFKA_FATAL_AFTER says so, with
the brokers answering slowly so that records are in flight): the producer
is rebuilt, the records it held are produced again, nothing is lost, and the
loop never stalls while the old producer is destroyed on the thread pool
(the sink measures the longest stall and logs it)."""

import collections
import os
import re
import unittest

from harness import sim, main
from agentlib import Agent, config_for, tmpdir
from kafkalib import KafkaBroker, TOPIC, check_messages, kafka_sink, log_stat, wait_oracle_in_topic

# Generous for a loaded CI machine under sanitizers; destroying a producer
# on the loop would block it until librdkafka's threads have stopped.
MAX_STALL_MS = 250


class Fatal(unittest.TestCase):
    def test_fatal_error_rebuilds_the_producer_and_loses_nothing(self):
        total = 800
        d = tmpdir()
        with KafkaBroker() as kb:
            kb.command("topic %s 3" % TOPIC)
            kb.command("rtt all 50")
            with sim("--total", total, "--no-limits", "--rate", "200", "--seed", "8") as s:
                cfg = config_for(s, d, sinks=kafka_sink(kb.bootstrap))
                with Agent(cfg, env={"SINCH_LOGD_TEST_KAFKA_FATAL_AFTER": "400"}) as a:
                    msgs, want = wait_oracle_in_topic(self, s.url, kb.bootstrap, total, agent=a)
                    self.assertEqual(a.stop(), 0, a.log()[-3000:])
                    log = a.log()

        ids = collections.Counter(m["value"]["id"] for m in msgs)
        self.assertEqual(set(ids), want, "lost or foreign records")
        check_messages(self, msgs)
        self.assertIn("injecting a fatal producer error", log)
        m = re.search(r"fatal producer error: (.*); rebuilding the producer, (\d+) records in "
                      r"flight are produced again", log)
        self.assertIsNotNone(m, log[-3000:])
        self.assertIn("test", m.group(1))
        requeued = int(m.group(2))
        self.assertGreater(requeued, 0, "records were in flight at the fatal error")
        # What the old producer may have delivered before it died is sent again.
        self.assertLessEqual(sum(n - 1 for n in ids.values()), requeued)
        self.assertEqual(log_stat(log, r"closing: .* (\d+) producer rebuilds"), 1)
        m = re.search(r"producer rebuilt: ([\d.]+) ms on the loop to replace it, ([\d.]+) ms on "
                      r"the thread pool to destroy the old one; longest loop stall until the new "
                      r"one delivered ([\d.]+) ms", log)
        self.assertIsNotNone(m, log[-3000:])
        loop_ms, destroy_ms, stall_ms = (float(x) for x in m.groups())
        print("\nrebuild: %.1f ms on the loop, destroy %.1f ms on the thread pool, longest "
              "stall %.1f ms" % (loop_ms, destroy_ms, stall_ms))
        if os.environ.get("SINCH_VALGRIND") != "1":  # valgrind slows everything 20-fold
            self.assertLess(stall_ms, MAX_STALL_MS)


if __name__ == "__main__":
    main()
