"""stunnel4 as a TLS front for a plain loopback server (the simulator, a
test receiver): clients speak TLS to the proxy, which forwards plaintext.

    pki = Pki()
    with sim() as s, TlsProxy(s.port, pki) as p:
        p.url   # https://127.0.0.1:PORT, certificate for 127.0.0.1/localhost

stunnel cannot bind port 0 and say which port it got, so the proxy reserves
a free port, starts stunnel on it and tries again with another port when
the bind lost a race. Always stopped, even when the test fails.
"""

import os
import socket
import subprocess
import time

from harness import tmpdir, wait_for

STUNNEL = "stunnel4"


def _free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class TlsProxy:
    def __init__(self, target_port, pki, cert=None, key=None):
        self.target_port = target_port
        self.cert = cert or pki.server_cert
        self.key = key or pki.server_key
        self.dir = tmpdir(prefix="sinch-stunnel-")
        self.conf = os.path.join(self.dir, "stunnel.conf")
        self.log_path = os.path.join(self.dir, "stunnel.log")
        self.proc = None
        self.port = None
        self.url = None

    def _spawn(self):
        with open(self.conf, "w") as f:
            f.write("foreground = yes\npid =\ndebug = 4\noutput = %s\n"
                    "[front]\naccept = 127.0.0.1:%d\nconnect = 127.0.0.1:%d\n"
                    "cert = %s\nkey = %s\n"
                    % (self.log_path, self.port, self.target_port, self.cert, self.key))
        self.proc = subprocess.Popen([STUNNEL, self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _listening(self):
        if self.proc.poll() is not None:
            raise RuntimeError("stunnel exited with %s:\n%s" % (self.proc.returncode,
                                                               self.log()))
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def start(self):
        for attempt in range(3):
            self.port = _free_port()
            self._spawn()
            try:
                wait_for(self._listening, 15, what="stunnel listening")
                self.url = "https://127.0.0.1:%d" % self.port
                return self
            except (RuntimeError, AssertionError):
                self.stop()
                if attempt == 2:
                    raise
                time.sleep(0.1)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
