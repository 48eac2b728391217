"""Memory with every broker down and the stream running at full speed: the
Kafka sink fills its queue bounds (librdkafka's buffer is sized from them),
the streams pause, and the agent's anonymous memory (RssAnon) stops growing,
within its idle size plus queue_max_bytes plus about 1 KB per record held
(librdkafka's message, key and headers). Skipped under sanitizers and
valgrind, whose shadow memory and quarantine make RssAnon meaningless."""

import os
import time
import unittest

from harness import sim, main, wait_for
from agentlib import Agent, config_for, tmpdir
from kafkalib import KafkaBroker, TOPIC, kafka_sink

QUEUE_MAX_BYTES = 4 << 20
QUEUE_MAX_RECORDS = 5000
IDLE_KB = 8 << 10  # measured near 3 MB: the agent with a Kafka producer, before any record
PER_RECORD_KB = 1


def rss_anon_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/%d/status" % pid)


class Memory(unittest.TestCase):
    def test_anonymous_memory_stays_within_the_queue_bounds(self):
        if os.environ.get("SINCH_SANITIZE") == "1" or os.environ.get("SINCH_VALGRIND") == "1":
            self.skipTest("RssAnon means nothing under AddressSanitizer or valgrind")
        d = tmpdir()
        with KafkaBroker() as kb:
            kb.command("topic %s 3" % TOPIC)
            kb.all_down()
            sink = kafka_sink(kb.bootstrap, extra="queue_max_bytes = %d\nqueue_max_records = %d\n"
                              % (QUEUE_MAX_BYTES, QUEUE_MAX_RECORDS))
            with sim("--no-limits", "--rate", "1000", "--seed", "2") as s:
                with Agent(config_for(s, d, sinks=sink)) as a:
                    wait_for(lambda: "cannot deliver" in a.log(), 20, what="the sink down")
                    samples = []
                    end = time.monotonic() + 8
                    while time.monotonic() < end:
                        samples.append(rss_anon_kb(a.proc.pid))
                        time.sleep(0.25)
                    self.assertTrue(a.alive(), a.log()[-3000:])
                    a.kill()
        bound = IDLE_KB + QUEUE_MAX_BYTES // 1024 + QUEUE_MAX_RECORDS * PER_RECORD_KB
        peak = max(samples)
        print("\nRssAnon with the brokers down: peak %d kB, last %d kB, bound %d kB"
              % (peak, samples[-1], bound))
        self.assertLess(peak, bound)
        # The bounds were reached early; the second half adds nothing.
        half = len(samples) // 2
        self.assertLessEqual(max(samples[half:]), max(samples[:half]) + 512,
                             "memory kept growing: %s" % samples)


if __name__ == "__main__":
    main()
