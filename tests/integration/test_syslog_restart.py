"""rsyslogd stopped and started again mid-stream (tests/lib/rsyslog.py
restarts it on the same ports):

- over RELP nothing is lost, whether rsyslogd stops cleanly (SIGTERM) or
  dies (SIGKILL): a record is acknowledged only by its rsp 200, and every
  unanswered message is sent again on the new session;
- over TCP (SIGTERM and SIGKILL) and TLS the loss and duplicates are
  counted and printed, and held to what the README promises: the last
  resend_window (10) frames are sent again after the reconnect, so at most
  that many duplicates, and a frame is lost only when the dying connection
  swallowed more than the window (then none of the resent frames is a
  duplicate: loss and duplicates never come together)."""

import sys
import time

from harness import main, wait_for
from certs import Pki
from rsyslog import Rsyslog
from sysloglib import SyslogCase, by_host, ids_of, sink

RESEND_WINDOW = 10  # the default


class Restart(SyslogCase):
    def restart_case(self, transport, kill):
        total = 400  # at 200/s per function: about two seconds of stream
        pki = Pki() if transport == "tls" else None
        with Rsyslog(pki=pki) as rs:
            port = {"relp": rs.relp_port, "tcp": rs.tcp_port, "tls": rs.tls_port}[transport]
            extra = "ca_file = %s\n" % pki.ca if pki else ""
            sinks = sink(transport, transport, "127.0.0.1:%d" % port, extra)
            marks = {}

            def during(s, a, r):
                wait_for(lambda: len(r.messages()) >= 150, 30, what="first messages")
                marks["log"] = len(a.log())
                if kill:
                    r.kill()
                    time.sleep(0.5)
                    r._spawn()
                    wait_for(r._ready, 15, what="rsyslogd again")
                else:
                    r.restart(down_seconds=0.5)

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
        sys.stderr.write("%s restart (%s): %d events, %d lost, %d duplicates\n" %
                         (transport, "SIGKILL" if kill else "SIGTERM", len(oracle), len(lost),
                          dups))
        self.assertIn("reconnecting", log)
        self.assertEqual(set(counts) - oracle, set())
        if transport != "relp":
            # What the dead connection swallowed is the end of what was
            # written: the window either covers it (duplicates, no loss) or
            # falls inside it (loss, no duplicates).
            self.assertLessEqual(dups, RESEND_WINDOW)
            self.assertTrue(not lost or dups == 0, "both loss and duplicates")
        return lost, dups

    def test_relp_restart_loses_nothing(self):
        lost, _ = self.restart_case("relp", kill=False)
        self.assertEqual(lost, set())

    def test_relp_kill_loses_nothing(self):
        lost, _ = self.restart_case("relp", kill=True)
        self.assertEqual(lost, set())

    def test_tcp_restart_counts_loss_and_duplicates(self):
        self.restart_case("tcp", kill=False)

    def test_tcp_kill_counts_loss_and_duplicates(self):
        # The kernel still closes a killed receiver's connections: the
        # reconnect is as prompt as after SIGTERM.
        self.restart_case("tcp", kill=True)

    def test_tls_restart_counts_loss_and_duplicates(self):
        self.restart_case("tls", kill=False)


if __name__ == "__main__":
    main()
