"""rsyslogd stopped and started again mid-stream over RELP (tests/lib/
rsyslog.py restarts it on the same ports): nothing is lost, whether
rsyslogd stops cleanly (SIGTERM) or dies (SIGKILL), plain or over TLS: a
record is acknowledged only by its rsp 200, and every unanswered message is
sent again on the new session. TCP and TLS syslog restarts are in
test_syslog_restart_stream.py (the two files run in parallel)."""

from harness import main
from sysloglib import SyslogCase


class RelpRestart(SyslogCase):
    def test_relp_restart_loses_nothing(self):
        lost, _ = self.restart_case("relp", kill=False)
        self.assertEqual(lost, set())

    def test_relp_kill_loses_nothing(self):
        lost, _ = self.restart_case("relp", kill=True)
        self.assertEqual(lost, set())

    def test_relp_over_tls_restart_loses_nothing(self):
        lost, _ = self.restart_case("relp", kill=False, tls=True)
        self.assertEqual(lost, set())


if __name__ == "__main__":
    main()
