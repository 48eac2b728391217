"""The syslog sink over TLS against rsyslogd's imtcp with the gtls driver
and imrelp with tls="on", with a CA and certificates the test makes
(tests/lib/certs.py):

- with ca_file, every event arrives: TCP syslog over TLS checking the IP
  address the certificate names, checking a DNS name given as
  tls_server_name (sent as SNI), with a client certificate where imtcp
  requires one, and RELP over TLS (imrelp requires a client certificate);
- an untrusted certificate (no ca_file: the host's store does not know the
  test CA) and a certificate for another name are refused, nothing is sent,
  and the agent's log says why in OpenSSL's words; a receiver requiring a
  client certificate gets nothing from an agent without one; tls_verify =
  off delivers to the untrusted receiver, with a warning."""

import sys

from harness import main
from certs import Pki
from rsyslog import Rsyslog
from sysloglib import SyslogCase, ids_of, sink


class Tls(SyslogCase):
    def test_delivery_with_ca_file(self):
        pki = Pki()
        with Rsyslog(pki=pki) as rs:
            ca = "ca_file = %s\n" % pki.ca
            client = "cert_file = %s\nkey_file = %s\n" % (pki.client_cert, pki.client_key)
            sinks = (sink("tls-ip", "tls", "127.0.0.1:%d" % rs.tls_port, ca) +
                     sink("tls-name", "tls", "127.0.0.1:%d" % rs.tls_port,
                          ca + "tls_server_name = localhost\nframing = lf\n") +
                     sink("tls-client", "tls", "127.0.0.1:%d" % rs.tls_client_port,
                          ca + client) +
                     sink("relp-tls", "relp", "127.0.0.1:%d" % rs.relp_tls_port,
                          ca + client + "tls = on\n"))
            hosts = ["tls-ip", "tls-name", "tls-client", "relp-tls"]

            def want(h, oracle, agent):
                return all(oracle <= set(ids_of(h[n])) for n in hosts)

            got, oracle, log = self.run_agent(rs, sinks, 20, want=want)
        self.assertEqual(len(oracle), 60)
        for n in hosts:
            counts = ids_of(got[n])
            self.assertEqual(set(counts), oracle, n)
            self.assertEqual(max(counts.values()), 1, n + ": duplicates")
        self.assertNotIn("reconnecting", log)

    def test_untrusted_certificate_is_refused(self):
        pki = Pki()
        with Rsyslog(pki=pki) as rs:
            sinks = (sink("no-ca", "tls", "127.0.0.1:%d" % rs.tls_port) +
                     sink("wrong-name", "tls", "127.0.0.1:%d" % rs.tls_port,
                          "ca_file = %s\ntls_server_name = other.example\n" % pki.ca) +
                     sink("relp-no-ca", "relp", "127.0.0.1:%d" % rs.relp_tls_port,
                          "tls = on\ncert_file = %s\nkey_file = %s\n"
                          % (pki.client_cert, pki.client_key)) +
                     sink("no-client-cert", "tls", "127.0.0.1:%d" % rs.tls_client_port,
                          "ca_file = %s\n" % pki.ca) +
                     # The controls: the same receiver, trusted, or not
                     # checked at all (with a warning).
                     sink("trusted", "tls", "127.0.0.1:%d" % rs.tls_port,
                          "ca_file = %s\n" % pki.ca) +
                     sink("unchecked", "tls", "127.0.0.1:%d" % rs.tls_port,
                          "tls_verify = off\n"))
            reasons = {
                "no-ca": "certificate verify failed: unable to get local issuer certificate",
                "wrong-name": "certificate verify failed: hostname mismatch",
                "relp-no-ca": "certificate verify failed: unable to get local issuer",
            }

            def want(h, oracle, agent):
                log = agent.log()
                return (oracle <= set(ids_of(h["trusted"])) and
                        oracle <= set(ids_of(h["unchecked"])) and
                        all(("[sink %s]" % n) in log and r in log for n, r in reasons.items())
                        and "[sink no-client-cert]" in log)

            got, oracle, log = self.run_agent(rs, sinks, 10, want=want,
                                              agent_extra="shutdown_timeout = 500ms\n")
        for n, reason in reasons.items():
            line = [ln for ln in log.splitlines() if ("[sink %s]" % n) in ln and reason in ln]
            self.assertTrue(line, n + ": " + log[-3000:])
            sys.stderr.write(line[0] + "\n")
            self.assertEqual(got[n], [], n)
        self.assertEqual(got["no-client-cert"], [])
        self.assertIn("[sink unchecked] tls_verify = off: the receiver's certificate is not "
                      "checked", log)
        refused = [ln for ln in log.splitlines()
                   if "[sink no-client-cert]" in ln and "reconnecting" in ln]
        self.assertTrue(refused, log[-3000:])
        sys.stderr.write(refused[0] + "\n")


if __name__ == "__main__":
    main()
