"""The syslog sink against a real rsyslogd (tests/lib/rsyslog.py), checked
on what rsyslog itself parsed (PRI, APP-NAME, MSGID, STRUCTURED-DATA, MSG):

- every event id arrives over RELP, TCP with octet counting, TCP with LF
  framing, UDP and a unix datagram socket, in request and line mode, and
  in RFC 3164 over TCP;
- the formatter's golden cases (tests/data/syslog/*.out: quotes, backslashes,
  ']', NUL, non-ASCII, over-long fields, truncation) sent as one octet-counted
  TCP stream are parsed field by field as intended, without desynchronizing.

Restarts are in test_syslog_restart.py, TLS in test_syslog_tls.py."""

import glob
import json
import os
import re
import socket
import sys
import threading
import time

from harness import SRC_DIR, main, sim
from agentlib import Agent, config_for, tmpdir
from rsyslog import Rsyslog
from sysloglib import SyslogCase, ids_of, sd_params, sink


class Syslog(SyslogCase):
    def test_every_event_over_each_transport(self):
        total = 40
        with Rsyslog() as rs:
            sinks = (sink("relp", "relp", "127.0.0.1:%d" % rs.relp_port) +
                     sink("tcp-octet", "tcp", "127.0.0.1:%d" % rs.tcp_port) +
                     sink("tcp-lf", "tcp", "127.0.0.1:%d" % rs.tcp_port, "framing = lf\n") +
                     sink("udp", "udp", "127.0.0.1:%d" % rs.udp_port) +
                     sink("unix", "unix", rs.unix_path) +
                     sink("relp-line", "relp", "127.0.0.1:%d" % rs.relp_port,
                          "mode = line\napp_name = {function_name}\n") +
                     sink("rfc3164", "tcp", "127.0.0.1:%d" % rs.tcp_port,
                          "format = rfc3164\nfacility = daemon\n"))
            hosts = ["relp", "tcp-octet", "tcp-lf", "udp", "unix"]

            def ids3164(h):
                return [json.loads(m["msg"])["id"] for m in h["rfc3164"]]

            def want(h, oracle, agent):
                return (all(oracle <= set(ids_of(h[n])) for n in hosts) and
                        oracle <= set(ids3164(h)))

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
        # RFC 3164: no structured data, TAG the APP-NAME, the JSON as MSG.
        self.assertEqual(sorted(ids3164(got)), sorted(oracle))
        for m in got["rfc3164"]:
            rec = json.loads(m["msg"])
            self.assertEqual((m["app"], m["sd"], m["facility"]), ("sinch-fn", "-", "daemon"))
            sev = {"error": 3, "warning": 4, "info": 6, "debug": 7}[rec["level"]]
            self.assertEqual(int(m["pri"]), 3 * 8 + sev)
        self.assertIn("closing:", log)

    def test_golden_cases_parse_in_rsyslog(self):
        """Sends every octet-counted golden message in one stream, then
        each as a UDP datagram, then the LF-framed case twice."""
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
        with open(os.path.join(SRC_DIR, "tests/data/syslog/rfc5424_lf_framing.out"), "rb") as f:
            lf = f.read()
        with Rsyslog() as rs:
            s = socket.create_connection(("127.0.0.1", rs.tcp_port))
            s.sendall(b"".join(b"%d %s" % (len(m), m) for _, m in frames))
            s.close()
            msgs = rs.wait_messages(lambda m: len(m) >= len(frames), 20)
            self.assertEqual(len(msgs), len(frames), "the stream desynchronized")
            self.check_parsed(frames, msgs)
            # The same messages as datagrams, one each.
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for _, m in frames:
                u.sendto(m, ("127.0.0.1", rs.udp_port))
            u.close()
            msgs = rs.wait_messages(lambda m: len(m) >= 2 * len(frames), 20)[len(frames):]
            self.assertEqual(len(msgs), len(frames))
            self.check_parsed(frames, msgs)
            # LF framing: the newline inside travels as #012, one message.
            s = socket.create_connection(("127.0.0.1", rs.tcp_port))
            s.sendall(lf + lf)
            s.close()
            msgs = rs.wait_messages(lambda m: len(m) >= 2 * len(frames) + 2, 20)
        self.assertEqual(len(msgs), 2 * len(frames) + 2)
        self.assertEqual([m["msg"] for m in msgs[-2:]], ["two#012lines"] * 2)
        self.assertEqual(msgs[-1]["msgid"], "console")

    def test_receiver_dropping_each_session_gets_a_growing_backoff(self):
        """A receiver that accepts and closes at once (as one refusing a
        certificate does) is retried with a growing backoff: a session
        only resets it once it has lasted."""
        lsn = socket.socket()
        lsn.bind(("127.0.0.1", 0))
        lsn.listen(16)
        lsn.settimeout(0.1)
        accepted = []
        done = threading.Event()

        def serve():
            while not done.is_set():
                try:
                    c, _ = lsn.accept()
                except socket.timeout:
                    continue
                accepted.append(time.monotonic())
                c.close()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        d = tmpdir()
        with sim("--total", "5", "--no-limits") as s:
            cfg = config_for(s, d, sinks=sink("drop", "tcp", "127.0.0.1:%d" %
                                              lsn.getsockname()[1]),
                             agent_extra="shutdown_timeout = 200ms\n")
            with Agent(cfg) as a:
                time.sleep(4.0)
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
        done.set()
        t.join(5)
        lsn.close()
        # Delays uniform in [50ms, 0.5s * 2^n]: about 4 sessions in 4 s
        # (resetting the backoff each time would make about 15).
        self.assertGreaterEqual(len(accepted), 2)
        sys.stderr.write("%d sessions in 4 s\n" % len(accepted))
        self.assertLessEqual(len(accepted), 9)

    def check_parsed(self, frames, msgs):
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


if __name__ == "__main__":
    main()
