"""The HTTP sink over HTTPS, against the test collector serving a
certificate from a CA the test makes (tests/lib/certs.py):

- with ca_file every event arrives, also to a collector that requires a
  client certificate (cert_file, key_file);
- without ca_file (the host's store does not know the test CA) the
  collector is refused with curl's reason, and a collector requiring a
  client certificate refuses a sink without one: the sink is down, nothing
  is sent and nothing is dead-lettered;
- tls_verify = off delivers to the untrusted collector, with a warning at
  start."""

import sys

from harness import main
from certs import Pki
from httpsinklib import HttpCase, dead_letters, got, receiver, sink, state


class Tls(HttpCase):
    def test_verification_and_client_certificates(self):
        pki = Pki()
        server = ["--cert", pki.server_cert, "--key", pki.server_key]
        with receiver(*server, scheme="https") as r1, \
                receiver(*(server + ["--client-ca", pki.ca]), scheme="https") as r2:
            ca = "ca_file = %s\n" % pki.ca
            client = "cert_file = %s\nkey_file = %s\n" % (pki.client_cert, pki.client_key)
            sinks = (sink("trusted", r1.url, "ndjson", ca) +
                     sink("client", r2.url, "ndjson", ca + client) +
                     sink("unchecked", r1.url, "ndjson", "tls_verify = off\n") +
                     sink("untrusted", r1.url, "ndjson") +
                     sink("nocert", r2.url, "ndjson", ca))
            refused = {"untrusted": "SSL certificate problem: unable to get local issuer "
                                    "certificate",
                       "nocert": "[sink nocert] request to %s/nocert/ndjson failed: " % r2.url}

            def want(st, oracle, d, a):
                log = a.log()
                return (oracle <= set(got(st, "trusted")) and
                        oracle <= set(got(st, "unchecked")) and
                        all(r in log for r in refused.values()))

            def want2(st, oracle, d, a):
                return want(st, oracle, d, a) and oracle <= set(
                    got(state(r2.url, (pki.client_cert, pki.client_key)), "client"))

            st, oracle, log, d = self.run_agent(r1, sinks, 20, want2,
                                                agent_extra="shutdown_timeout = 500ms\n")
        self.assert_clean(st)
        self.assertEqual(len(oracle), 60)
        for n in ("untrusted", "nocert"):
            self.assertEqual(got(st, n), {}, n)
            self.assertEqual(dead_letters(d, n), [], n)
            line = [ln for ln in log.splitlines() if ("[sink %s]" % n) in ln and "failed" in ln]
            self.assertTrue(line, log[-3000:])
            self.assertIn("records wait, retrying", line[0])
            sys.stderr.write(line[0] + "\n")
        self.assertIn(refused["untrusted"], log)
        self.assertIn("[sink unchecked] tls_verify = off: the collector's certificate is not "
                      "checked", log)
        self.assertNotIn("[sink trusted] tls_verify", log)


if __name__ == "__main__":
    main()
