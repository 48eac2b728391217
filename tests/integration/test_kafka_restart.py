"""Stopping the agent with records in flight: SIGTERM flushes them (the
brokers answer slowly, so reports are outstanding when the signal comes);
SIGTERM while every broker is down leaves them unacknowledged, and the next
start sends them. (SIGKILL: test_kafka_kill.py.)"""

import collections
import re

from harness import main, wait_for
from kafkalib import KafkaRestartCase, log_stat, read_topic


def records_read(log):
    """Records the agent's streams made, from their summaries at stop."""
    return sum(int(n) for n in re.findall(r"\d+ events: (\d+) records", log))


class Restart(KafkaRestartCase):
    def test_sigterm_flushes_what_is_in_flight(self):
        def stop(kb, a):
            kb.command("rtt all 400")
            self.assertEqual(a.stop(), 0, a.log()[-3000:])
            kb.command("rtt all 0")
            # Everything the first run read is in the topic now.
            self.assertEqual(len(read_topic(kb.bootstrap)), records_read(a.log()))
        msgs, log = self.run_case(stop)
        self.assertGreater(log_stat(log, r"\[sink k\] flushing: (\d+) records wait"), 0, log)
        self.assertIn("0 records without a delivery report", log)
        self.assertEqual(max(collections.Counter(m["value"]["id"] for m in msgs).values()), 1,
                         "a clean stop leaves nothing to send twice")

    def test_sigterm_with_brokers_down_replays_at_next_start(self):
        def stop(kb, a):
            kb.all_down()
            wait_for(lambda: "cannot deliver" in a.log(), 15, what="the sink noticing")
            self.assertEqual(a.stop(), 0, a.log()[-3000:])
            kb.all_up()
        msgs, log = self.run_case(stop)
        unacked = log_stat(log, r"\[sink k\] closing: .*; (\d+) records without a delivery")
        self.assertGreater(unacked, 0, log[-3000:])
        self.assertIn("not acknowledged by the sinks in time; they are read again", log)


if __name__ == "__main__":
    main()
