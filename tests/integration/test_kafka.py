"""Simulator -> agent -> Kafka (the test broker, 3 brokers): every event id
arrives in the topic, each message's key and headers are right, and within
each partition every function's records keep the order the agent read them
in (a file sink of the same agent is the reference). A second Kafka sink
checks the topic and key templates."""

import collections
import os
import re
import unittest

from harness import sim, main
from agentlib import Agent, config_for, tmpdir, wait_all_delivered
from kafkalib import (KafkaBroker, TOPIC, check_messages, check_order, kafka_sink, read_topic,
                      wait_oracle_in_topic, log_stat)


class EndToEnd(unittest.TestCase):
    def test_every_event_arrives_with_key_headers_and_order(self):
        total = 400
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with KafkaBroker() as kb:
            kb.command("topic %s 3" % TOPIC)
            for name in ("ivr-handler", "sms-webhook", "callback-router"):
                kb.command("topic fn.%s 1" % name)
            sinks = (kafka_sink(kb.bootstrap) +
                     kafka_sink(kb.bootstrap, name="byname", topic="fn.{function_name}",
                                extra="key = {project}/{function_name}\ncompression = lz4") +
                     "[sink file]\ntype = file\npath = %s\nfsync_interval = 100ms\n" % out)
            with sim("--total", total, "--no-limits", "--rate", "200", "--seed", "4") as s:
                cfg = config_for(s, d, sinks=sinks)
                with Agent(cfg) as a:
                    msgs, want = wait_oracle_in_topic(self, s.url, kb.bootstrap, total, agent=a)
                    wait_all_delivered(s.url, out, total)
                    by_name = {}
                    for fn in ("ivr-handler", "sms-webhook", "callback-router"):
                        by_name[fn] = read_topic(kb.bootstrap, "fn." + fn)
                    self.assertEqual(a.stop(), 0, a.log()[-3000:])
                    log = a.log()

        ids = collections.Counter(m["value"]["id"] for m in msgs)
        self.assertEqual(set(ids), want, "the topic holds exactly the simulator's events")
        self.assertEqual(max(ids.values()), 1, "no duplicates without a failure")
        check_messages(self, msgs)
        check_order(self, msgs, out)
        # The templated sink: one topic per function name, key project/name.
        for fn, ms in by_name.items():
            self.assertEqual(len(ms), total, fn)
            for m in ms:
                self.assertEqual(m["value"]["function_name"], fn)
                self.assertEqual(m["key"], "demo-project/" + fn)
        self.assertEqual(set(m["value"]["id"] for ms in by_name.values() for m in ms), want)
        # The close summary counts what happened, and nothing went wrong.
        self.assertEqual(log_stat(log, r"\[sink k\] closing: (\d+) produced"), 3 * total)
        self.assertEqual(log_stat(log, r"\[sink k\] closing: \d+ produced, (\d+) delivered"),
                         3 * total)
        self.assertIn("0 retried, 0 failed, 0 dead-lettered, 0 producer rebuilds; 0 records", log)
        self.assertEqual(re.findall(r"^\S+ (?:error|warning) \[sink .*", log, re.M), [])


if __name__ == "__main__":
    main()
