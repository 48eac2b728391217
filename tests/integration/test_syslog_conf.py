"""The shipped rsyslog examples work, and bad TLS options are named:

- conf/rsyslog-forward.conf (the agent side) passes --check-config;
- conf/rsyslog-receiver.conf, with its paths and ports pointed at a test
  directory, a test CA and free loopback ports, runs in a real rsyslogd
  (SysSock.Use="off" added, so the host's /dev/log is never touched), takes
  every event from the agent over RELP, RELP over TLS, TCP and TLS with a
  client certificate, and writes each as one JSON line whose structured data
  and record are JSON objects;
- --check-config names the file, line and key of each bad TLS option (an
  unreadable ca_file, TLS keys on a transport without TLS, half a client
  certificate, a key that does not match its certificate, tls on tcp)."""

import collections
import json
import os
import subprocess

from harness import SRC_DIR, main, tmpdir, wait_for
from agentlib import agent_bin
from certs import Pki
from rsyslog import RSYSLOGD, reserve_port
from sysloglib import SyslogCase, sink


class Receiver:
    """rsyslogd running conf/rsyslog-receiver.conf, rewritten for the test."""

    def __init__(self, pki):
        self.dir = tmpdir(prefix="sinch-rsyslog-recv-")
        self.out = os.path.join(self.dir, "functions.jsonl")
        self.ports = {p: reserve_port() for p in (2514, 2515, 1514, 6514)}
        with open(os.path.join(SRC_DIR, "conf", "rsyslog-receiver.conf")) as f:
            text = f.read()
        text = text.replace("/etc/rsyslog.d/tls/ca.pem", pki.ca)
        text = text.replace("/etc/rsyslog.d/tls/server.pem", pki.server_cert)
        text = text.replace("/etc/rsyslog.d/tls/server.key", pki.server_key)
        text = text.replace("/var/log/sinch/functions.jsonl", self.out)
        for port, free in self.ports.items():
            text = text.replace('port="%d"' % port, 'port="%d" address="127.0.0.1"' % free)
        os.mkdir(os.path.join(self.dir, "work"))
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        with open(self.conf, "w") as f:
            f.write('global(workDirectory="%s/work")\n'
                    'module(load="imuxsock" SysSock.Use="off")\n' % self.dir + text)
        self.log = open(os.path.join(self.dir, "rsyslogd.log"), "wb")
        self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", self.conf, "-i",
                                      os.path.join(self.dir, "pid")],
                                     stdout=self.log, stderr=self.log, cwd=self.dir)

    def records(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out) as f:
            return [json.loads(ln) for ln in f if ln.endswith("\n")]

    def wait_messages(self, pred, timeout):
        """For SyslogCase.run_agent: its want() reads records() itself,
        the template here is not the parsed-fields one it groups."""
        wait_for(lambda: pred([]), timeout, interval=0.2,
                 what="records from the receiver config")
        return []

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


class ShippedConf(SyslogCase):
    def test_forward_conf_passes_check_config(self):
        env = dict(os.environ, SINCH_PROJECT_ID="p", SINCH_KEY_ID="k", SINCH_KEY_SECRET="s")
        r = subprocess.run([agent_bin(), "--check-config", "-c",
                            os.path.join(SRC_DIR, "conf", "rsyslog-forward.conf")],
                           env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration is valid", r.stdout)

    def test_check_config_names_bad_tls_options(self):
        # The router opens no sink after one failed, so one config each.
        d = tmpdir()
        pki = Pki()
        head = "[project p]\nproject_id = x\nkey_id = k\nkey_secret = s\n[sink a]\n"
        cases = [
            ("transport = tls\naddress = h:6514\nca_file = %s/missing.pem\n" % d,
             "bad.conf:9: [sink a]: key 'ca_file': cannot read %s/missing.pem: No such file"
             % d),
            ("transport = udp\naddress = h:514\nca_file = %s\n" % pki.ca,
             "bad.conf:9: [sink a]: key 'ca_file': needs transport = tls, or relp with tls = on"),
            ("transport = relp\ntls = on\naddress = h:2514\ncert_file = %s\n" % pki.client_cert,
             "bad.conf:5: [sink a]: key 'key_file': a client certificate needs both"),
            ("transport = tls\naddress = h:6514\ncert_file = %s\nkey_file = %s\n"
             % (pki.client_cert, pki.server_key),
             "bad.conf:10: [sink a]: key 'key_file': error:05800074:x509 certificate "
             "routines::key values mismatch"),
            ("transport = tcp\ntls = on\naddress = h:1514\n",
             "bad.conf:8: [sink a]: key 'tls': applies to transport = relp"),
        ]
        for body, want in cases:
            cfg = os.path.join(d, "bad.conf")
            with open(cfg, "w") as f:
                f.write(head + "type = syslog\n" + body)
            r = subprocess.run([agent_bin(), "--check-config", "-c", cfg],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(want, r.stderr)

    def test_receiver_conf_writes_json(self):
        pki = Pki()
        rs = Receiver(pki)
        try:
            ca = "ca_file = %s\n" % pki.ca
            client = "cert_file = %s\nkey_file = %s\n" % (pki.client_cert, pki.client_key)
            addr = lambda p: "127.0.0.1:%d" % rs.ports[p]  # noqa: E731
            sinks = (sink("relp", "relp", addr(2514)) +
                     sink("relp-tls", "relp", addr(2515), "tls = on\n" + ca + client) +
                     sink("tcp", "tcp", addr(1514), "framing = lf\n") +
                     sink("tls", "tls", addr(6514), ca + client))
            hosts = ("relp", "relp-tls", "tcp", "tls")

            def got():
                out = collections.defaultdict(set)
                for r in rs.records():
                    out[r["host"]].add(r["sd"]["fn@32473"]["request_id"])
                return out

            def want(_, oracle, agent):
                return all(oracle <= got()[h] for h in hosts)

            wait_for(lambda: os.path.exists(os.path.join(rs.dir, "pid")), 15,
                     what="rsyslogd started")
            _, oracle, log = self.run_agent(rs, sinks, 10, want=want)
            records = rs.records()
        finally:
            rs.close()
        self.assertEqual(len(oracle), 30)
        for r in records:
            self.assertIn(r["host"], hosts)
            self.assertEqual(r["kind"], "request")
            self.assertEqual(r["record"]["id"], r["sd"]["fn@32473"]["request_id"])
            self.assertEqual(r["function_id"], r["record"]["function_id"])
            self.assertEqual(r["facility"], "local0")


if __name__ == "__main__":
    main()
