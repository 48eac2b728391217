"""The error classes that are not an outage. A record the broker refuses as
too large (the mock has no size limit: the test broker answers one Produce
request with MSG_SIZE_TOO_LARGE, one record per request) goes to the
dead-letter file once, with the reason, and the stream goes on; an unknown
topic makes the sink down, retried and never dead-lettered, until the topic
exists."""

import collections
import json
import os
import unittest

from harness import sim, main, wait_for
from agentlib import Agent, config_for, tmpdir
from kafkalib import (KafkaBroker, TOPIC, check_messages, kafka_sink, log_stat, topic_count,
                      wait_oracle_in_topic)

MSG_SIZE_TOO_LARGE = 10
UNKNOWN_TOPIC_OR_PART = 3


class Reject(unittest.TestCase):
    def test_too_large_record_is_dead_lettered_once(self):
        total = 600
        d = tmpdir()
        dead = os.path.join(d, "state", "dead-letter", "k.jsonl")
        with KafkaBroker() as kb:
            kb.command("topic %s 3" % TOPIC)
            sink = kafka_sink(kb.bootstrap, extra="kafka.batch.num.messages = 1\n")
            with sim("--total", total, "--no-limits", "--rate", "150", "--seed", "5") as s:
                with Agent(config_for(s, d, sinks=sink)) as a:
                    wait_for(lambda: topic_count(kb.bootstrap) >= 200, 30,
                             what="records flowing")
                    kb.command("error 0 %d 1" % MSG_SIZE_TOO_LARGE)
                    wait_for(lambda: os.path.exists(dead), 30, what="a dead letter")
                    with open(dead) as f:
                        lost = json.loads(f.readline())["record"]["id"]
                    msgs, want = wait_oracle_in_topic(self, s.url, kb.bootstrap, total,
                                                      agent=a, exclude=[lost])
                    self.assertEqual(a.stop(), 0, a.log()[-3000:])
                    log = a.log()
        with open(dead) as f:
            letters = [json.loads(line) for line in f]
        self.assertEqual(len(letters), 1, "dead-lettered once")
        self.assertEqual(letters[0]["sink"], "k")
        self.assertEqual(letters[0]["reason"], "kafka: Broker: Message size too large")
        ids = collections.Counter(m["value"]["id"] for m in msgs)
        self.assertNotIn(lost, ids)
        self.assertEqual(set(ids), want, "every other record arrived")
        self.assertEqual(max(ids.values()), 1)
        check_messages(self, msgs)
        self.assertEqual(log_stat(log, r"\[sink k\] closing: .* (\d+) retried"), 0)
        self.assertEqual(log_stat(log, r"\[sink k\] closing: .* (\d+) failed"), 1)
        self.assertEqual(log_stat(log, r"\[sink k\] closing: .* (\d+) dead-lettered"), 1)

    def test_unknown_topic_is_down_not_dead_lettered(self):
        total = 300
        d = tmpdir()
        with KafkaBroker() as kb:
            kb.command("topic-error late %d" % UNKNOWN_TOPIC_OR_PART)
            # librdkafka waits topic.metadata.propagation.max.ms (30 s by
            # default) before it calls a topic missing.
            sink = kafka_sink(kb.bootstrap, topic="late",
                              extra="kafka.topic.metadata.propagation.max.ms = 500\n")
            with sim("--total", total, "--no-limits", "--rate", "100", "--seed", "6") as s:
                with Agent(config_for(s, d, sinks=sink)) as a:
                    wait_for(lambda: "the sink is down" in a.log(), 30, what="the sink down")
                    kb.command("topic-error late 0")
                    msgs, want = wait_oracle_in_topic(self, s.url, kb.bootstrap, total,
                                                      topic="late", agent=a)
                    self.assertEqual(a.stop(), 0, a.log()[-3000:])
                    log = a.log()
        self.assertEqual(set(m["value"]["id"] for m in msgs), want)
        self.assertFalse(os.path.exists(os.path.join(d, "state", "dead-letter", "k.jsonl")))
        self.assertIn("topic late: Broker: Unknown topic or partition; the sink is down", log)
        self.assertIn("[sink k] delivering again after", log)
        self.assertEqual(log_stat(log, r"\[sink k\] closing: .* (\d+) dead-lettered"), 0)


if __name__ == "__main__":
    main()
