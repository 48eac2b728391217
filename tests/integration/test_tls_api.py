"""TLS to the Sinch API and token endpoint: the simulator behind stunnel4
with a certificate from a CA the test generates. Verification is on by
default, so the agent refuses the untrusted certificate (and says why,
retrying), and connects once ca_file names the CA; tls_verify = off
connects without it, with a warning at start and in --check-config."""

import os
import subprocess
import time
import unittest

from harness import main, sim, wait_for
from agentlib import Agent, agent_bin, config_for, read_records, tmpdir
from certs import Pki
from tlsproxy import TlsProxy


class TlsApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()

    def test_untrusted_certificate_is_refused_and_ca_file_is_accepted(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "20", "--functions", "1") as s, TlsProxy(s.port, self.pki) as p:
            cfg = config_for(p, d)
            with Agent(cfg) as a:
                wait_for(lambda: "certificate problem" in a.log(), 20,
                         what="the agent to say why it refuses the certificate")
                time.sleep(1)
                self.assertTrue(a.alive())
                self.assertEqual(read_records(out), [])
                self.assertEqual(a.stop(), 0)
            log = a.log()
            self.assertIn("token request failed: SSL certificate problem: unable to get local "
                          "issuer certificate", log)

            cfg = config_for(p, d, project_extra="ca_file = %s\n" % self.pki.ca)
            with Agent(cfg, log_name="agent2.log") as a:
                wait_for(lambda: len(read_records(out)) >= 20, 30,
                         what="records over TLS with ca_file")
                self.assertEqual(a.stop(), 0)

    def test_tls_verify_off_connects_and_warns(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "20", "--functions", "1") as s, TlsProxy(s.port, self.pki) as p:
            cfg = config_for(p, d, project_extra="tls_verify = off\n")
            r = subprocess.run([agent_bin(), "--check-config", "-c", cfg], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stderr, r"agent.conf:\d+: warning: \[project sim\]: tls_verify = off")
            with Agent(cfg) as a:
                wait_for(lambda: len(read_records(out)) >= 20, 30,
                         what="records over TLS without verification")
                self.assertEqual(a.stop(), 0)
            self.assertIn("tls_verify = off: the API's and token URL's certificates are not "
                          "checked", a.log())


if __name__ == "__main__":
    main()
