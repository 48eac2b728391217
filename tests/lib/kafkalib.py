"""What the Kafka tests share: the test broker (tests/tools/kafka-test-broker,
librdkafka's mock cluster: 3 brokers on loopback) driven through its stdin
commands, reading a topic back with a real librdkafka consumer
(tests/tools/kafka-read), a Kafka sink section, and the checks every test
makes on what arrived.

    with KafkaBroker() as kb:
        kb.command("topic sinch 3")
        msgs = read_topic(kb.bootstrap, "sinch")
"""

import collections
import json
import os
import re
import subprocess
import unittest

from harness import BIN_DIR, Server, sim, sim_stats, tmpdir, wait_for
from agentlib import Agent, config_for, oracle_ids, read_records

TOPIC = "sinch-logs"


class KafkaBroker(Server):
    """kafka-test-broker with its command pipe; ``bootstrap`` is the
    comma-separated broker list it printed."""

    def __init__(self, brokers=3):
        Server.__init__(self, [os.path.join(BIN_DIR, "kafka-test-broker"), "--brokers", brokers],
                        name="kafka-test-broker", expect_rc=0, stdin=subprocess.PIPE)
        self.bootstrap = None
        self._answers = 0

    def start(self):
        Server.start(self)
        self.bootstrap = self.first_line.split()[1]
        return self

    def command(self, line, timeout=10):
        """Sends one command and waits for its "ok" (AssertionError otherwise)."""
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        self._answers += 1
        want = self._answers

        def answers():
            lines = [ln for ln in self.log().splitlines() if ln == "ok" or ln.startswith("error")]
            return lines if len(lines) >= want else None
        last = wait_for(answers, timeout, what="broker answer to %r" % line)[want - 1]
        if last != "ok":
            raise AssertionError("broker: %s" % last)

    def all_down(self):
        self.command("down all")

    def all_up(self):
        self.command("up all")


def read_topic(bootstrap, topic=TOPIC, timeout_ms=5000):
    """Every message of the topic, from the start of each partition to its
    end now: dicts with partition, offset, key, headers (a list of
    (name, value) pairs), value (the decoded record)."""
    out = subprocess.run([os.path.join(BIN_DIR, "kafka-read"), bootstrap, topic, "0",
                          str(timeout_ms)], capture_output=True, timeout=timeout_ms / 1000 + 30)
    if out.returncode != 0:
        raise AssertionError("kafka-read failed (%d): %s" % (out.returncode,
                                                             out.stderr.decode()[-2000:]))
    msgs = []
    for line in out.stdout.decode().splitlines():
        part, off, key, hdrs, value = line.split("\t", 4)
        headers = [tuple(h.split("=", 1)) for h in hdrs.split(";")] if hdrs else []
        msgs.append({"partition": int(part), "offset": int(off), "key": key,
                     "headers": headers, "value": json.loads(value)})
    return msgs


def topic_count(bootstrap, topic=TOPIC, timeout_ms=5000):
    """How many messages the topic holds (its partitions' watermarks)."""
    out = subprocess.run([os.path.join(BIN_DIR, "kafka-read"), bootstrap, topic, "--count",
                          str(timeout_ms)], capture_output=True, timeout=timeout_ms / 1000 + 30)
    if out.returncode != 0:
        raise AssertionError("kafka-read --count failed: %s" % out.stderr.decode()[-2000:])
    return int(out.stdout)


def kafka_sink(bootstrap, name="k", topic=TOPIC, extra=""):
    """A [sink] section for the test broker; backoff-free enough for tests."""
    return ("[sink %s]\ntype = kafka\nbrokers = %s\ntopic = %s\n%s\n"
            % (name, bootstrap, topic, extra))


def ids_in(msgs):
    return collections.Counter(m["value"]["id"] for m in msgs)


def wait_topic_has(bootstrap, want_ids, timeout=60, topic=TOPIC, agent=None):
    """Waits until every id of want_ids is in the topic; returns the messages."""
    def done():
        msgs = read_topic(bootstrap, topic)
        return msgs if set(want_ids) <= set(ids_in(msgs)) else None
    try:
        return wait_for(done, timeout, interval=0.5, what="every record in the topic")
    except AssertionError:
        missing = set(want_ids) - set(ids_in(read_topic(bootstrap, topic)))
        raise AssertionError("%d records never reached the topic, e.g. %s%s" % (
            len(missing), sorted(missing)[:3],
            ("\n---- agent log ----\n" + agent.log()[-3000:]) if agent else ""))


def wait_oracle_in_topic(testcase, sim_url, bootstrap, total, timeout=60, agent=None,
                         topic=TOPIC, exclude=()):
    """Waits until the simulator finished `total` events per function and all
    (but those in exclude) are in the topic. Returns (messages, the oracle's
    ids less exclude)."""
    wait_for(lambda: all(f["generated"] >= total for f in sim_stats(sim_url)["functions"]),
             timeout, what="%d events per function" % total)
    want = set(i for ids in oracle_ids(sim_url).values() for i in ids)
    testcase.assertEqual(len(want), 3 * total)
    want -= set(exclude)
    return wait_topic_has(bootstrap, want, timeout, topic=topic, agent=agent), want


def check_messages(testcase, msgs, project="demo-project"):
    """Every message is well formed: the value a record of schema 1, the key
    its function id, the headers project, function, kind, schema; each
    function's records all in one partition."""
    fn_part = {}
    for m in msgs:
        v = m["value"]
        testcase.assertEqual(v["schema"], 1)
        testcase.assertEqual(m["key"], v["function_id"])
        testcase.assertEqual(m["headers"], [("project", project), ("function", v["function_id"]),
                                            ("kind", v["kind"]), ("schema", "1")])
        testcase.assertEqual(fn_part.setdefault(v["function_id"], m["partition"]),
                             m["partition"], "function %s in two partitions" % v["function_id"])


def function_order(records):
    """{function id: [record ids]} in the given order, first occurrences only."""
    out = collections.defaultdict(list)
    seen = set()
    for r in records:
        if r["id"] not in seen:
            seen.add(r["id"])
            out[r["function_id"]].append(r["id"])
    return dict(out)


def check_order(testcase, msgs, file_path):
    """Within its partition, each function's records are in the order the
    agent read them, which is the order a file sink of the same agent wrote
    them in (a record produced again may repeat, never overtake)."""
    in_topic = function_order(m["value"] for m in sorted(
        msgs, key=lambda m: (m["partition"], m["offset"])))
    in_file = function_order(read_records(file_path))
    testcase.assertEqual(set(in_topic), set(in_file))
    for fn, ids in in_file.items():
        testcase.assertEqual(in_topic[fn], ids, "function %s: order differs from arrival" % fn)


def log_stat(log, pattern):
    """The last integer captured by regex pattern in a log, or None."""
    found = re.findall(pattern, log)
    return int(found[-1]) if found else None


class KafkaRestartCase(unittest.TestCase):
    def run_case(self, stop, total=1000):
        """Runs an agent until records flow, calls stop(broker, agent) with
        records in flight, then runs a second agent on the same state until
        every event is in the topic (nothing lost, nothing foreign). Returns
        (messages, the first agent's log)."""
        d = tmpdir()
        with KafkaBroker() as kb:
            kb.command("topic %s 3" % TOPIC)
            with sim("--total", total, "--no-limits", "--rate", "250", "--seed", "3") as s:
                cfg = config_for(s, d, sinks=kafka_sink(kb.bootstrap),
                                 agent_extra="shutdown_timeout = 3s\n")
                with Agent(cfg) as a:
                    wait_for(lambda: topic_count(kb.bootstrap) >= 300, 30,
                             what="records in the topic")
                    stop(kb, a)
                    log1 = a.log()
                with Agent(cfg, log_name="agent2.log") as a2:
                    msgs, want = wait_oracle_in_topic(self, s.url, kb.bootstrap, total,
                                                      timeout=60, agent=a2)
                    self.assertEqual(a2.stop(), 0, a2.log()[-3000:])
        self.assertEqual(set(m["value"]["id"] for m in msgs), want, "lost or foreign records")
        check_messages(self, msgs)
        return msgs, log1
