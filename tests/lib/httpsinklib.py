"""What the HTTP sink tests share: the test collector (http_receiver.py) as
a Server, its faults and state, sink sections, the dead-letter file, and one
agent run against the simulator until a condition on what arrived holds."""

import collections
import json
import os
import sys
import unittest

from harness import Server, http_request, get_json, sim, sim_stats, tmpdir, wait_for
from agentlib import Agent, config_for, oracle_ids

RECEIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "http_receiver.py")

# The endpoint of each format at the test collector.
ENDPOINTS = {"ndjson": "ndjson", "json_array": "json", "splunk_hec": "services/collector/event",
             "elasticsearch_bulk": "_bulk", "loki": "loki/api/v1/push", "otlp_json": "v1/logs"}


def receiver(*args, scheme="http"):
    """The test collector on a free loopback port (a harness Server)."""
    return Server([sys.executable, RECEIVER, "--listen", "127.0.0.1:0"] + list(args),
                  name="http-receiver", scheme=scheme, expect_rc=0)


def fault(url, **f):
    status, _, body = http_request("POST", url + "/_ctl/fault", body=json.dumps(f))
    assert status == 200, body


def clear_faults(url):
    http_request("POST", url + "/_ctl/clear", body="{}")


def state(url):
    return get_json(url + "/_ctl/state")


def sink(name, url, fmt, extra=""):
    """A [sink NAME] posting to NAME's own path at the collector."""
    return ("[sink %s]\ntype = http\nurl = %s/%s/%s\nformat = %s\nbatch_linger = 100ms\n"
            "backoff_base = 100ms\nbackoff_max = 2s\n%s\n"
            % (name, url, name, ENDPOINTS[fmt], fmt, extra))


def dead_letters(workdir, name):
    """The sink's dead-letter lines: {"reason", "record", ...}."""
    path = os.path.join(workdir, "state", "dead-letter", name + ".jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(ln) for ln in f if ln.endswith("\n")]


def got(st, name):
    """Counter of the ids the collector took for sink `name`."""
    return collections.Counter(st["ids"].get(name, []))


def rss_anon_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


class HttpCase(unittest.TestCase):
    def run_agent(self, rcv, sinks, total, want, during=None, timeout=60, agent_extra="",
                  sim_args=("--rate", "200"), project_extra="", stop=True):
        """Runs the simulator (3 functions, `total` events each) and an agent
        with `sinks` (a function of the work directory, or text) until
        want(collector state, oracle ids, workdir, agent) holds; stops the
        agent (SIGTERM, exit 0 expected). Returns (state, oracle, log, workdir)."""
        d = tmpdir()
        text = sinks(d) if callable(sinks) else sinks
        with sim("--total", str(total), "--no-limits", *sim_args) as s:
            cfg = config_for(s, d, sinks=text, agent_extra=agent_extra,
                             project_extra=project_extra)
            with Agent(cfg) as a:
                if during:
                    during(s, a, d)
                wait_for(lambda: all(f["generated"] >= total
                                     for f in sim_stats(s.url)["functions"]),
                         60, what="events generated")
                oracle = set(i for ids in oracle_ids(s.url).values() for i in ids)
                try:
                    wait_for(lambda: want(state(rcv.url), oracle, d, a), timeout, interval=0.2,
                             what="records at the collector")
                except AssertionError:
                    raise AssertionError("timed out waiting at the collector: %s\n"
                                         "---- agent log ----\n%s" % (
                                             json.dumps({k: v for k, v in state(rcv.url).items()
                                                         if k != "ids"})[:2000],
                                             a.log()[-4000:]))
                self.assertTrue(a.alive(), a.log()[-3000:])
                if stop:
                    self.assertEqual(a.stop(), 0, a.log()[-3000:])
                log = a.log()
        return state(rcv.url), oracle, log, d

    def assert_clean(self, st):
        self.assertEqual(st["errors"], [], "the collector found malformed bodies")
