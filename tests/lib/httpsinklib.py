"""What the HTTP sink tests share: the test collector (http_receiver.py) as
a Server, its faults and state, sink sections, the dead-letter file, and one
agent run against the simulator until a condition on what arrived holds."""

import collections
import http.client
import json
import os
import ssl
import sys
import threading
import time
import unittest
import urllib.parse

from harness import Server, sim, sim_stats, tmpdir, wait_for
from agentlib import Agent, config_for, oracle_ids

RECEIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "http_receiver.py")
# Memory is not measured where a tool inflates it.
MEASURED = os.environ.get("SINCH_SANITIZE") != "1" and os.environ.get("SINCH_VALGRIND") != "1"

# The endpoint of each format at the test collector.
ENDPOINTS = {"ndjson": "ndjson", "json_array": "json", "splunk_hec": "services/collector/event",
             "elasticsearch_bulk": "_bulk", "loki": "loki/api/v1/push", "otlp_json": "v1/logs"}


def receiver(*args, scheme="http"):
    """The test collector on a free loopback port (a harness Server)."""
    return Server([sys.executable, RECEIVER, "--listen", "127.0.0.1:0"] + list(args),
                  name="http-receiver", scheme=scheme, expect_rc=0)


def _ctl(method, url, body=None, client=None):
    """A control request to the collector (over HTTPS without checking its
    certificate: the test's own CA is for the agent; client: a (cert, key)
    for a collector that requires one)."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl._create_unverified_context()
        if client:
            ctx.load_cert_chain(*client)
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=10, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request(method, u.path, body=body)
        resp = conn.getresponse()
        data = resp.read()
        assert resp.status == 200, (url, resp.status, data[:300])
        return json.loads(data)
    finally:
        conn.close()


def fault(url, **f):
    _ctl("POST", url + "/_ctl/fault", json.dumps(f))


def clear_faults(url):
    _ctl("POST", url + "/_ctl/clear", "{}")


def state(url, client=None):
    return _ctl("GET", url + "/_ctl/state", client=client)


def sink(name, url, fmt, extra=""):
    """A [sink NAME] posting to NAME's own path at the collector."""
    return ("[sink %s]\ntype = http\nurl = %s/%s/%s\nformat = %s\nbatch_linger = 100ms\n"
            "backoff_base = 100ms\nbackoff_max = 2s\n%s\n"
            % (name, url, name, ENDPOINTS[fmt], fmt, extra))


def dead_letters(workdir, name):
    """The sink's dead-letter lines: {"reason", "record", ...}, and "size",
    the bytes of the record's JSON as the agent wrote it."""
    path = os.path.join(workdir, "state", "dead-letter", name + ".jsonl")
    if not os.path.exists(path):
        return []
    out = []
    with open(path, "rb") as f:
        for ln in f:
            if not ln.endswith(b"\n"):
                continue
            d = json.loads(ln)
            d["size"] = len(ln) - ln.index(b'"record":') - len(b'"record":') - 2
            out.append(d)
    return out


def got(st, name):
    """Counter of the ids the collector took for sink `name`."""
    return collections.Counter(st["ids"].get(name, []))


def rss_anon_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class HttpCase(unittest.TestCase):
    def run_agent(self, rcv, sinks, total, want, during=None, prepare=None, timeout=60,
                  agent_extra="", sim_args=("--rate", "200"), project_extra="", stop=True,
                  args=(), rss_limit_kb=16 * 1024, secrets=()):
        """Runs the simulator (3 functions, `total` events each) and an agent
        with `sinks` (a function of the work directory, or text) until
        want(collector state, oracle ids, workdir, agent) holds; stops the
        agent (SIGTERM, exit 0 expected). prepare(oracle ids, sorted), when
        given, runs once every event exists and before the agent starts;
        during(sim, agent, workdir) once the agent started. The agent's
        anonymous memory is sampled all along: its peak (self.peak_rss_kb)
        must stay under rss_limit_kb (not under sanitizers or valgrind). The
        agent's log must not show any of `secrets`. Returns (state, oracle,
        log, workdir)."""
        d = tmpdir()
        text = sinks(d) if callable(sinks) else sinks
        with sim("--total", str(total), "--no-limits", *sim_args) as s:
            def generated():
                wait_for(lambda: all(f["generated"] >= total
                                     for f in sim_stats(s.url)["functions"]),
                         60, what="events generated")
                return set(i for ids in oracle_ids(s.url).values() for i in ids)
            if prepare:
                prepare(sorted(generated()))
            cfg = config_for(s, d, sinks=text, agent_extra=agent_extra,
                             project_extra=project_extra)
            with Agent(cfg, args=list(args), secrets=secrets) as a:
                self.peak_rss_kb = 0

                def sample():
                    while a.alive():
                        self.peak_rss_kb = max(self.peak_rss_kb, rss_anon_kb(a.proc.pid))
                        time.sleep(0.05)
                threading.Thread(target=sample, daemon=True).start()
                if during:
                    during(s, a, d)
                oracle = generated()
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
        sys.stderr.write("agent peak RssAnon %d KiB\n" % self.peak_rss_kb)
        if MEASURED:
            self.assertLess(self.peak_rss_kb, rss_limit_kb,
                            "peak RssAnon %d KiB" % self.peak_rss_kb)
        return state(rcv.url), oracle, log, d

    def assert_clean(self, st):
        self.assertEqual(st["errors"], [], "the collector found malformed bodies")
