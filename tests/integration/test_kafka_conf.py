"""The Kafka sink's configuration: conf/kafka-siem.conf passes
--check-config; --check-config builds the whole librdkafka configuration
without connecting anywhere and reports each bad key, bad value and bad
combination (also those librdkafka finds only when a producer is made) at
the file and line of the keys involved; the agent refuses to start on the
same configuration with the same messages."""

import os
import re
import socket
import subprocess
import unittest

from harness import SRC_DIR, main, tmpdir
from agentlib import agent_bin

BASE = """[agent]
state_dir = {d}/state

[project p]
project_id = p
key_id = k
key_secret = s

[sink k]
type = kafka
brokers = {brokers}
topic = logs.{{kind}}
"""


def write(d, extra, brokers="127.0.0.1:9092"):
    path = os.path.join(d, "agent.conf")
    with open(path, "w") as f:
        f.write(BASE.format(d=d, brokers=brokers) + extra)
    os.chmod(path, 0o600)
    return path


def check(path, *args):
    return subprocess.run([agent_bin(), "--check-config", "-c", path] + list(args),
                          capture_output=True, text=True, timeout=60)


class KafkaConf(unittest.TestCase):
    def test_siem_example_passes_check_config(self):
        env = dict(os.environ, SINCH_PROJECT_ID="p", SINCH_KEY_ID="k", SINCH_KEY_SECRET="s",
                   KAFKA_USERNAME="u", KAFKA_PASSWORD="kafka-pw-8Qz")
        r = subprocess.run([agent_bin(), "--check-config", "-c",
                            os.path.join(SRC_DIR, "conf", "kafka-siem.conf")],
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration is valid", r.stdout)
        self.assertNotIn("kafka-pw-8Qz", r.stderr + r.stdout)

    def test_each_error_at_its_file_and_line(self):
        d = tmpdir()
        cases = [
            # (extra lines, expected messages with {f} the file and line offsets)
            ("kafka.no.such.key = 1\n",
             ["{f}:13: [sink k]: key 'kafka.no.such.key': No such configuration property: "
              "\"no.such.key\""]),
            ("kafka.batch.num.messages = many\n",
             ["{f}:13: [sink k]: key 'kafka.batch.num.messages': Invalid value for "
              "configuration property \"batch.num.messages\""]),
            # librdkafka checks these only in rd_kafka_new.
            ("kafka.acks = 1\n",
             ["{f}:13: [sink k]: key 'kafka.acks': `acks` must be set to `all` when "
              "`enable.idempotence` is true"]),
            ("kafka.linger.ms = 200\nkafka.message.timeout.ms = 100\n",
             ["{f}:13: [sink k]: key 'kafka.linger.ms': `message.timeout.ms` must be greater "
              "than `linger.ms`",
              "{f}:14: [sink k]: key 'kafka.message.timeout.ms': `message.timeout.ms` must be "
              "greater than `linger.ms`"]),
            ("kafka.security.protocol = sasl_ssl\nkafka.sasl.mechanisms = PLAIN\n",
             ["{f}:14: [sink k]: key 'kafka.sasl.mechanisms': sasl.username and sasl.password "
              "must be set"]),
            ("kafka.group.id = siem\n",
             ["{f}:13: [sink k]: key 'kafka.group.id': [thrd:app]: Configuration property "
              "group.id is a consumer property and will be ignored by this producer instance"]),
            ("kafka.security.protocol = ssl\nkafka.ssl.ca.location = {d}/missing.pem\n",
             ["{f}:14: [sink k]: key 'kafka.ssl.ca.location': cannot read {d}/missing.pem: No "
              "such file or directory"]),
            ("kafka.bootstrap.servers = other:9092\nkafka.delivery.report.only.error = true\n",
             ["{f}:13: [sink k]: key 'kafka.bootstrap.servers': use 'brokers'",
              "{f}:14: [sink k]: key 'kafka.delivery.report.only.error': records are "
              "acknowledged by their delivery reports"]),
            ("kafka.message.max.bytes = 1000000\n",
             ["{f}:13: [sink k]: key 'kafka.message.max.bytes': 1000000 cannot hold an event of "
              "max_event_size (1048576 bytes) with its key and headers: set at least 1052672, "
              "or lower max_event_size"]),
            ("key = {{nope}}\n",
             ["{f}:13: [sink k]: key 'key': unknown placeholder at '{{nope}}' (use {{project}}, "
              "{{function}}, {{function_name}}, {{kind}})"]),
        ]
        for extra, want in cases:
            with self.subTest(extra=extra):
                path = write(d, extra.format(d=d))
                r = check(path)
                self.assertEqual(r.returncode, 2, r.stderr)
                got = [ln for ln in r.stderr.splitlines() if ln.startswith(path)]
                self.assertEqual(got, [w.format(f=path, d=d) for w in want])
        # A smaller max_event_size fits librdkafka's default message.max.bytes.
        path = write(d, "kafka.message.max.bytes = 1000000\n")
        with open(path) as f:
            text = f.read().replace("key_secret = s\n", "key_secret = s\nmax_event_size = 512K\n")
        with open(path, "w") as f:
            f.write(text)
        r = check(path)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_brokers_and_topic(self):
        d = tmpdir()
        path = write(d, "", brokers="kafka-1, :9092, h:99999")
        with open(path) as f:
            text = f.read().replace("topic = logs.{kind}", "topic = logs/{kind}")
        with open(path, "w") as f:
            f.write(text)
        r = check(path)
        self.assertEqual(r.returncode, 2)
        for msg in ("'kafka-1' is not host:port", "':9092' is not host:port",
                    "'h:99999' is not host:port"):
            self.assertIn("%s:11: [sink k]: key 'brokers': %s" % (path, msg), r.stderr)
        self.assertIn("%s:12: [sink k]: key 'topic': '/' is not allowed in a topic name" % path,
                      r.stderr)

    def test_check_config_connects_nowhere(self):
        d = tmpdir()
        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen(8)
            srv.settimeout(0.5)
            path = write(d, "kafka.linger.ms = 20\n", brokers="127.0.0.1:%d" % srv.getsockname()[1])
            r = check(path)
            self.assertEqual(r.returncode, 0, r.stderr)
            with self.assertRaises(socket.timeout):
                srv.accept()

    def test_start_refuses_what_check_config_refuses(self):
        d = tmpdir()
        path = write(d, "kafka.acks = 0\n")
        r = check(path)
        start = subprocess.run([agent_bin(), "-c", path], capture_output=True, text=True,
                               timeout=60)
        self.assertEqual(start.returncode, 2, start.stderr)
        msg = "%s:13: [sink k]: key 'kafka.acks'" % path
        self.assertIn(msg, r.stderr)
        self.assertIn(msg, start.stderr)

    def test_weaker_acks_are_allowed_with_a_warning(self):
        d = tmpdir()
        path = write(d, "kafka.enable.idempotence = false\nkafka.acks = 1\n")
        r = check(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, re.compile(r"warning \[sink k\] kafka\.acks = 1: a record "
                                              r"counts as delivered before every in-sync"))

    def test_help_sink_lists_the_options(self):
        r = subprocess.run([agent_bin(), "--help-sink", "kafka"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        for opt in ("brokers", "topic", "key", "compression", "kafka."):
            self.assertIn(opt, r.stdout)


if __name__ == "__main__":
    main()
