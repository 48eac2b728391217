"""The syslog sink against a real rsyslogd (tests/lib/rsyslog.py), checked
on what rsyslog itself parsed (PRI, APP-NAME, MSGID, STRUCTURED-DATA, MSG):

- every event id arrives over RELP, TCP with octet counting, TCP with LF
  framing, UDP and a unix datagram socket, in request and line mode;
- the formatter's golden cases (tests/data/syslog/*.out: quotes, backslashes,
  ']', NUL, non-ASCII, over-long fields, truncation) sent as one octet-counted
  TCP stream are parsed field by field as intended, without desynchronizing;
- rsyslogd stopped and restarted mid-stream: over RELP nothing is lost; over
  TCP the losses and duplicates are counted and printed (the README promises
  best effort: duplicates possible, loss possible)."""

import collections
import glob
import json
import os
import re
import socket
import sys
import time
import unittest

from harness import SRC_DIR, sim, sim_stats, wait_for, main
from agentlib import Agent, config_for, oracle_ids, tmpdir
from rsyslog import Rsyslog

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


class Syslog(unittest.TestCase):
    def run_agent(self, rs, sinks, total, during=None, want=None, timeout=60):
        """Runs the simulator (3 functions, `total` events each) and an agent
        with `sinks` until want(messages by host, oracle ids) holds."""
        d = tmpdir()
        with sim("--total", str(total), "--no-limits", "--rate", "200") as s:
            cfg = config_for(s, d, sinks=sinks)
            with Agent(cfg) as a:
                if during:
                    during(s, a, rs)
                wait_for(lambda: all(f["generated"] >= total
                                     for f in sim_stats(s.url)["functions"]),
                         60, what="events generated")
                oracle = set(i for ids in oracle_ids(s.url).values() for i in ids)
                msgs = rs.wait_messages(lambda m: want(by_host(m), oracle), timeout)
                self.assertTrue(a.alive(), a.log()[-3000:])
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
                log = a.log()
        return by_host(msgs), oracle, log

    def test_every_event_over_each_transport(self):
        total = 40
        with Rsyslog() as rs:
            sinks = (sink("relp", "relp", "127.0.0.1:%d" % rs.relp_port) +
                     sink("tcp-octet", "tcp", "127.0.0.1:%d" % rs.tcp_port) +
                     sink("tcp-lf", "tcp", "127.0.0.1:%d" % rs.tcp_port, "framing = lf\n") +
                     sink("udp", "udp", "127.0.0.1:%d" % rs.udp_port) +
                     sink("unix", "unix", rs.unix_path) +
                     sink("relp-line", "relp", "127.0.0.1:%d" % rs.relp_port,
                          "mode = line\napp_name = {function_name}\n"))
            hosts = ["relp", "tcp-octet", "tcp-lf", "udp", "unix"]

            def want(h, oracle):
                return all(oracle <= set(ids_of(h[n])) for n in hosts)

            got, oracle, log = self.run_agent(rs, sinks, total, want=want)
        self.assertEqual(len(oracle), 3 * total)
        for n in hosts:
            msgs = got[n]
            counts = ids_of(msgs)
            self.assertEqual(set(counts) - oracle, set(), n)
            self.assertEqual([i for i, c in counts.items() if c > 1], [], n + ": duplicates")
            for m in msgs:
                rec = json.loads(m["msg"])
                sd = sd_params(m["sd"])
                self.assertEqual(sd["request_id"], rec["id"])
                self.assertEqual(sd["function_name"], rec["function_name"])
                self.assertEqual(m["app"], "sinch-fn")
                self.assertEqual(m["msgid"], "request")
                self.assertEqual(m["procid"], rec["function_id"])
                sev = {"error": 3, "warning": 4, "info": 6, "debug": 7}[rec["level"]]
                self.assertEqual(int(m["pri"]), 16 * 8 + sev, n)
                self.assertEqual(m["timestamp"], rec["time"])
                self.assertTrue(m["sd"].startswith("[fn@32473 "))
        # Line mode: one message per console line, APP-NAME the function.
        lines = got["relp-line"]
        self.assertTrue(all(m["msgid"] in ("console", "request") for m in lines))
        self.assertTrue(any(m["msgid"] == "console" for m in lines))
        self.assertTrue(oracle <= set(ids_of(lines)))
        self.assertTrue(all(m["app"] == sd_params(m["sd"])["function_name"] for m in lines))
        self.assertIn("closing:", log)

    def test_golden_cases_parse_in_rsyslog(self):
        """Sends every octet-counted golden message in one stream."""
        cases = []
        for path in sorted(glob.glob(os.path.join(SRC_DIR, "tests/data/syslog/*.in"))):
            with open(path) as f:
                opts = f.read().split("\n\n")[0]
            if "framing = " in opts or "rfc3164" in opts:
                continue
            with open(path[:-3] + ".out", "rb") as f:
                cases.append((os.path.basename(path)[:-3], f.read()))
        frames = []
        for name, data in cases:
            i = 0
            while i < len(data):
                sp = data.index(b" ", i)
                n = int(data[i:sp])
                frames.append((name, data[sp + 1:sp + 1 + n]))
                i = sp + 1 + n
        self.assertGreater(len(frames), 10)
        with Rsyslog() as rs:
            s = socket.create_connection(("127.0.0.1", rs.tcp_port))
            s.sendall(b"".join(b"%d %s" % (len(m), m) for _, m in frames))
            s.close()
            msgs = rs.wait_messages(lambda m: len(m) >= len(frames), 20)
        self.assertEqual(len(msgs), len(frames), "the stream desynchronized")
        for (name, raw), m in zip(frames, msgs):
            head = raw.split(b" ", 6)
            self.assertEqual(m["pri"], head[0][1:head[0].index(b">")].decode(), name)
            self.assertEqual(m["hostname"].encode(), head[2], name)
            self.assertEqual(m["app"].encode(), head[3], name)
            self.assertEqual(m["procid"].encode(), head[4], name)
            self.assertEqual(m["msgid"], head[5].decode(), name)
            rest = raw.split(b" ", 6)[6].decode("utf-8")
            if rest.startswith("-"):
                self.assertEqual(m["sd"], "-", name)
            else:
                self.assertTrue(rest.startswith(m["sd"]), name)
                text = rest[len(m["sd"]) + 1:]
                # rsyslog shows control characters as #ooo (its default).
                text = re.sub("[\x00-\x1f]", lambda c: "#%03o" % ord(c.group()), text)
                self.assertEqual(m["msg"], text, name)
            if name == "sd_escapes":
                sd = sd_params(m["sd"])
                self.assertEqual(sd["function_name"], 'fn "q" \\ ]x')
                self.assertEqual(sd["request_id"], 'id]"\\')
            if name == "long_fields":
                self.assertEqual(len(m["hostname"]), 255)
                self.assertEqual(len(m["app"]), 48)
                self.assertEqual(len(m["procid"]), 128)
            if name == "nul_and_nonascii":
                self.assertIn("ünïcødé 日本", m["msg"])

    def restart_case(self, transport, kill):
        total = 400  # at 200/s per function: about two seconds of stream
        with Rsyslog() as rs:
            port = rs.relp_port if transport == "relp" else rs.tcp_port
            sinks = sink(transport, transport, "127.0.0.1:%d" % port)

            def during(s, a, r):
                wait_for(lambda: len(r.messages()) >= 150, 30, what="first messages")
                if kill:
                    r.kill()
                    time.sleep(0.5)
                    r._spawn()
                    wait_for(r._ready, 15, what="rsyslogd again")
                else:
                    r.restart(down_seconds=0.5)

            def want(h, oracle):
                return len(oracle) == 3 * total and oracle <= set(ids_of(h[transport]))

            if transport == "relp":
                got, oracle, log = self.run_agent(rs, sinks, total, during, want, timeout=60)
            else:
                # TCP may lose what the dying connection swallowed: once
                # reconnected, wait for the stream to settle, then count.
                agent_log = []

                def during_tcp(s, a, r):
                    during(s, a, r)
                    agent_log.append(a)

                def settled(h, oracle):
                    if "connected to" not in agent_log[0].log():
                        return False
                    n = len(h[transport])
                    time.sleep(2.0)
                    return len(oracle) == 3 * total and len(by_host(rs.messages())[transport]) == n
                got, oracle, log = self.run_agent(rs, sinks, total, during_tcp, settled,
                                                  timeout=90)
        counts = ids_of(got[transport])
        lost = oracle - set(counts)
        dups = sum(c - 1 for c in counts.values() if c > 1)
        sys.stderr.write("%s restart (%s): %d events, %d lost, %d duplicates\n" %
                         (transport, "SIGKILL" if kill else "SIGTERM", len(oracle), len(lost),
                          dups))
        self.assertIn("reconnecting", log)
        return lost, dups

    def test_relp_restart_loses_nothing(self):
        lost, _ = self.restart_case("relp", kill=False)
        self.assertEqual(lost, set())

    def test_relp_kill_loses_nothing(self):
        lost, _ = self.restart_case("relp", kill=True)
        self.assertEqual(lost, set())

    def test_tcp_restart_counts_loss_and_duplicates(self):
        lost, dups = self.restart_case("tcp", kill=False)
        # The README's promise: best effort, at most resend_window (10)
        # duplicates per reconnect; what a dying connection swallowed
        # beyond the window may be lost. This run's numbers are printed.
        self.assertLessEqual(dups, 10)


if __name__ == "__main__":
    main()
