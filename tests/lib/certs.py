"""A throwaway PKI for TLS tests, made with the openssl CLI: a CA, a
server certificate for 127.0.0.1 and localhost signed by it, and a client
certificate signed by it. Nothing on the host trusts the CA.

    pki = Pki()
    pki.ca, pki.server_cert, pki.server_key, pki.client_cert, pki.client_key
"""

import os
import subprocess

from harness import tmpdir

OPENSSL = "openssl"


def _run(*args, cwd):
    subprocess.run([OPENSSL] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pki:
    def __init__(self):
        self.dir = tmpdir(prefix="sinch-pki-")
        d = self.dir
        p = lambda name: os.path.join(d, name)  # noqa: E731
        self.ca, self.ca_key = p("ca.pem"), p("ca.key")
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", self.ca_key, "-out", self.ca, "-days", "2",
             "-subj", "/CN=sinch-logd test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        self.server_cert, self.server_key = self._leaf(
            "server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "serverAuth")
        self.client_cert, self.client_key = self._leaf(
            "client", "/CN=sinch-logd test client", "subjectAltName=DNS:client.test",
            "clientAuth")

    def _leaf(self, name, subj, san, usage):
        d = self.dir
        key, csr, cert, ext = (os.path.join(d, name + s) for s in
                               (".key", ".csr", ".pem", ".ext"))
        with open(ext, "w") as f:
            f.write("%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n" % (san, usage))
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", csr, "-subj", subj, cwd=d)
        _run("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
             "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext, cwd=d)
        return cert, key
