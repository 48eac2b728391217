"""What the syslog integration tests share: sink sections, grouping what
rsyslogd parsed by the sending sink (each sink sends its own name as
HOSTNAME), reading the structured data back, and one agent run against the
simulator."""

import collections
import re
import unittest

from harness import sim, sim_stats, wait_for
from agentlib import Agent, config_for, oracle_ids, tmpdir

SD_PARAM = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def sd_params(sd):
    return {k: re.sub(r'\\(.)', r'\1', v) for k, v in SD_PARAM.findall(sd)}


def sink(name, transport, address, extra=""):
    return ("[sink %s]\ntype = syslog\ntransport = %s\naddress = %s\nhostname = %s\n%s\n"
            % (name, transport, address, name, extra))


def by_host(msgs):
    out = collections.defaultdict(list)
    for m in msgs:
        out[m["hostname"]].append(m)
    return out


def ids_of(msgs):
    return collections.Counter(sd_params(m["sd"]).get("request_id") for m in msgs)


class SyslogCase(unittest.TestCase):
    def run_agent(self, rs, sinks, total, during=None, want=None, timeout=60, agent_extra="",
                  sim_args=()):
        """Runs the simulator (3 functions, `total` events each) and an agent
        with `sinks` until want(messages by host, oracle ids) holds.
        Returns (messages by host, oracle ids, the agent's log)."""
        d = tmpdir()
        with sim("--total", str(total), "--no-limits", "--rate", "200", *sim_args) as s:
            cfg = config_for(s, d, sinks=sinks, agent_extra=agent_extra)
            with Agent(cfg) as a:
                if during:
                    during(s, a, rs)
                wait_for(lambda: all(f["generated"] >= total
                                     for f in sim_stats(s.url)["functions"]),
                         60, what="events generated")
                oracle = set(i for ids in oracle_ids(s.url).values() for i in ids)
                try:
                    msgs = rs.wait_messages(lambda m: want(by_host(m), oracle, a), timeout)
                except AssertionError:
                    raise AssertionError("%s\n---- agent log ----\n%s" % (
                        "timed out waiting for messages at rsyslogd", a.log()[-3000:]))
                self.assertTrue(a.alive(), a.log()[-3000:])
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
                log = a.log()
        return by_host(msgs), oracle, log
