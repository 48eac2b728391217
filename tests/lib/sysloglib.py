"""What the syslog integration tests share: sink sections, grouping what
rsyslogd parsed by the sending sink (each sink sends its own name as
HOSTNAME), reading the structured data back, one agent run against the
simulator, and a receiver restart in the middle of one."""

import collections
import re
import sys
import time
import unittest

from harness import sim, sim_stats, wait_for
from agentlib import Agent, config_for, oracle_ids, tmpdir
from certs import Pki
from rsyslog import Rsyslog

# sink_syslog's default: frames sent again after a TCP or TLS reconnect.
RESEND_WINDOW = 10

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

    def restart_case(self, transport, kill, tls=False):
        """Stops (SIGTERM) or kills rsyslogd once 150 messages arrived and
        starts it again on the same ports; returns (lost ids, duplicates)
        of 1200 events, printed. TCP and TLS are counted once the stream
        has settled after the reconnect."""
        total = 400  # at 200/s per function: about two seconds of stream
        pki = Pki() if tls else None
        with Rsyslog(pki=pki) as rs:
            if transport == "relp":
                port = rs.relp_tls_port if tls else rs.relp_port
            else:
                port = rs.tls_port if tls else rs.tcp_port
            extra = ""
            if pki:
                extra = "ca_file = %s\n" % pki.ca
            if pki and transport == "relp":
                extra += "tls = on\ncert_file = %s\nkey_file = %s\n" % (pki.client_cert,
                                                                      pki.client_key)
            kind = "tls" if tls and transport == "tcp" else transport
            sinks = sink(transport, kind, "127.0.0.1:%d" % port, extra)
            marks = {}

            def during(s, a, r):
                wait_for(lambda: len(r.messages()) >= 150, 30, what="first messages")
                marks["log"] = len(a.log())
                r.restart(down_seconds=0.5, kill=kill)

            def want(h, oracle, a):
                if len(oracle) != 3 * total:
                    return False
                if transport == "relp":
                    return oracle <= set(ids_of(h[transport]))
                # TCP may lose what the dying connection swallowed: once
                # reconnected, wait for the stream to settle, then count.
                if "connected to" not in a.log()[marks["log"]:]:
                    return False
                n = len(h[transport])
                time.sleep(2.0)
                return len(by_host(rs.messages())[transport]) == n

            got, oracle, log = self.run_agent(rs, sinks, total, during, want, timeout=90)
        counts = ids_of(got[transport])
        lost = oracle - set(counts)
        dups = sum(c - 1 for c in counts.values() if c > 1)
        sys.stderr.write("%s%s restart (%s): %d events, %d lost, %d duplicates\n" %
                         (transport, " over TLS" if tls else "", "SIGKILL" if kill else "SIGTERM",
                          len(oracle), len(lost), dups))
        self.assertIn("reconnecting", log)
        self.assertEqual(set(counts) - oracle, set())
        if transport != "relp":
            # What the dead connection swallowed is the end of what was
            # written: the window either covers it (duplicates, no loss) or
            # falls inside it (loss, no duplicates).
            self.assertLessEqual(dups, RESEND_WINDOW)
            self.assertTrue(not lost or dups == 0, "both loss and duplicates")
        return lost, dups
