"""rsyslogd stopped and started again mid-stream over TCP and TLS syslog
(tests/lib/rsyslog.py restarts it on the same ports): the loss and
duplicates are counted, printed, and held to what the README promises
(sysloglib.SyslogCase.restart_case checks it): the last resend_window (10)
frames are sent again after the reconnect, so at most that many
duplicates, and a frame is lost only when the dying connection swallowed
more than the window (then none of the resent frames is a duplicate: loss
and duplicates never come together)."""

from harness import main
from sysloglib import SyslogCase


class StreamRestart(SyslogCase):
    def test_tcp_restart_counts_loss_and_duplicates(self):
        self.restart_case("tcp", kill=False)

    def test_tcp_kill_counts_loss_and_duplicates(self):
        # The kernel still closes a killed receiver's connections: the
        # reconnect is as prompt as after SIGTERM.
        self.restart_case("tcp", kill=True)

    def test_tls_restart_counts_loss_and_duplicates(self):
        self.restart_case("tcp", kill=False, tls=True)


if __name__ == "__main__":
    main()
