"""TLS to the brokers, through librdkafka (kafka.security.protocol = ssl).
The mock cluster speaks plaintext only, so the handshake is checked against
`openssl s_server` with a certificate from a CA the test makes: without
kafka.ssl.ca.location the agent refuses the broker's certificate; with it
the handshake completes and the Kafka protocol starts over TLS (the server
sees librdkafka's first request)."""

import subprocess
import unittest

from harness import Server, sim, main, wait_for
from agentlib import Agent, config_for, tmpdir
from certs import Pki, OPENSSL
from kafkalib import kafka_sink


def s_server(pki):
    # -no_dhe: the first line is then "ACCEPT HOST:PORT"; stdin stays open,
    # or s_server ends the first connection at its end of input.
    return Server([OPENSSL, "s_server", "-no_dhe", "-accept", "127.0.0.1:0",
                   "-cert", pki.server_cert, "-key", pki.server_key],
                  name="openssl-s_server", stdin=subprocess.PIPE)


class Tls(unittest.TestCase):
    def run_agent(self, extra, until):
        pki = Pki()
        d = tmpdir()
        with s_server(pki) as srv, sim("--rate", "5") as s:
            sink = kafka_sink("127.0.0.1:%d" % srv.port,
                              extra="kafka.security.protocol = ssl\n" + extra(pki))
            with Agent(config_for(s, d, sinks=sink,
                                  agent_extra="shutdown_timeout = 1s\n")) as a:
                wait_for(lambda: until(srv, a), 30, what="the TLS outcome")
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
                return srv.log(), a.log()

    def test_unknown_ca_is_refused(self):
        srv_log, log = self.run_agent(lambda pki: "",
                                      lambda srv, a: "certificate verify failed" in a.log())
        self.assertNotIn("CIPHER is", srv_log)
        self.assertIn("[sink k] kafka: ssl://127.0.0.1:", log)

    def test_ca_file_is_trusted(self):
        srv_log, log = self.run_agent(lambda pki: "kafka.ssl.ca.location = %s\n" % pki.ca,
                                      lambda srv, a: "librdkafka" in srv.log())
        self.assertIn("CIPHER is TLS_", srv_log)
        self.assertNotIn("certificate verify failed", log)


if __name__ == "__main__":
    main()
