"""A real rsyslogd for tests: its own generated config, work directory and
loopback ports, never the host's /dev/log (imuxsock SysSock.Use="off").

    with Rsyslog() as rs:
        ... send to rs.tcp_port / rs.relp_port / rs.udp_port / rs.unix_path ...
        msgs = rs.wait_messages(lambda m: len(m) >= 10)

Every message rsyslog receives is written by a template as one JSON object
per line with what rsyslog itself parsed: pri, facility, severity, hostname,
app, procid, msgid, sd (STRUCTURED-DATA), msg, and input (the module that
received it). imtcp first listens on port 0 and reports it through its
listenPortFileName (a restart asks for that same port again: a forwarder
reconnects to the address it was given); imrelp and imudp (rsyslog 8.2302 has no port file for
them) get ports reserved just before the start, and a start that fails to
bind them is retried with new ones. ``restart()`` stops (or kills) rsyslogd
and starts it again on the same ports (the same output file)."""

import json
import os
import signal
import socket
import subprocess
import time

from harness import tmpdir, wait_for

RSYSLOGD = "/usr/sbin/rsyslogd"

CONFIG = """\
global(workDirectory="{work}" maxMessageSize="256k"
       parser.escapeControlCharactersOnReceive="on")
module(load="imuxsock" SysSock.Use="off")
module(load="imtcp")
module(load="imudp")
module(load="imrelp")
template(name="parsed" type="list" option.jsonf="on") {{
  property(outname="pri" name="pri" format="jsonf")
  property(outname="facility" name="syslogfacility-text" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="input" name="inputname" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}}
ruleset(name="parsed") {{
  action(type="omfile" file="{out}" template="parsed" flushOnTXEnd="on"
         asyncWriting="off")
}}
input(type="imtcp" port="{tcp_port}" address="127.0.0.1" listenPortFileName="{tcp_port_file}"
      ruleset="parsed")
input(type="imrelp" port="{relp_port}" address="127.0.0.1" ruleset="parsed")
input(type="imudp" port="{udp_port}" address="127.0.0.1" ruleset="parsed")
input(type="imuxsock" socket="{unix_path}" useSpecialParser="off" parseHostname="on"
      ignoreTimestamp="off" createPath="off" ruleset="parsed")
"""

# With a Pki (tests/lib/certs.py): imtcp over TLS (gtls) without and with a
# required client certificate, and imrelp over TLS (which always requires
# one).
TLS_CONFIG = """input(type="imtcp" port="{tls_port}" address="127.0.0.1"
      listenPortFileName="{tls_port_file}" ruleset="parsed"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"
      streamDriver.CAFile="{ca}" streamDriver.CertFile="{cert}" streamDriver.KeyFile="{key}")
input(type="imtcp" port="{tls_client_port}" address="127.0.0.1"
      listenPortFileName="{tls_client_port_file}" ruleset="parsed"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid"
      streamDriver.CAFile="{ca}" streamDriver.CertFile="{cert}" streamDriver.KeyFile="{key}")
input(type="imrelp" port="{relp_tls_port}" address="127.0.0.1" ruleset="parsed"
      tls="on" tls.authMode="certvalid" tls.caCert="{ca}" tls.myCert="{cert}"
      tls.myPrivKey="{key}")
"""


def reserve_port(kind=socket.SOCK_STREAM):
    """A port free right now on 127.0.0.1 (bound, then released)."""
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Rsyslog:
    def __init__(self, start_timeout=15.0, pki=None):
        self.dir = tmpdir(prefix="sinch-rsyslog-")
        self.work = os.path.join(self.dir, "work")
        os.mkdir(self.work)
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.out = os.path.join(self.dir, "parsed.jsonl")
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        self.log_path = os.path.join(self.dir, "rsyslogd.log")
        self.tcp_port_file = os.path.join(self.dir, "tcp.port")
        self.unix_path = os.path.join(self.dir, "log.sock")
        self.start_timeout = start_timeout
        self.proc = None
        self.tcp_port = self.relp_port = self.udp_port = None
        self.pki = pki
        self.tls_port = self.tls_client_port = self.relp_tls_port = None
        # imtcp listeners asked for port 0 at the first start: attribute,
        # port file.
        self.port_files = [("tcp_port", self.tcp_port_file)]
        if pki:
            self.port_files += [("tls_port", os.path.join(self.dir, "tls.port")),
                                ("tls_client_port", os.path.join(self.dir, "tlsc.port"))]

    def _write_config(self):
        with open(self.conf, "w") as f:
            f.write(CONFIG.format(work=self.work, out=self.out,
                                  tcp_port_file=self.tcp_port_file,
                                  tcp_port=self.tcp_port or 0,
                                  relp_port=self.relp_port, udp_port=self.udp_port,
                                  unix_path=self.unix_path))
            if self.pki:
                f.write(TLS_CONFIG.format(
                    tls_port=self.tls_port or 0, tls_port_file=self.port_files[1][1],
                    tls_client_port=self.tls_client_port or 0,
                    tls_client_port_file=self.port_files[2][1],
                    relp_tls_port=self.relp_tls_port, ca=self.pki.ca,
                    cert=self.pki.server_cert, key=self.pki.server_key))

    def _spawn(self):
        for p in [f for _, f in self.port_files] + [self.pidfile]:
            if os.path.exists(p):
                os.unlink(p)
        self._write_config()
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [RSYSLOGD, "-n", "-f", self.conf, "-i", self.pidfile],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.dir)
        finally:
            log.close()

    def _listening(self, port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("rsyslogd exited with %s:\n%s" % (self.proc.returncode,
                                                                self.log()))
        if not os.path.exists(self.unix_path):
            return False
        for attr, port_file in self.port_files:
            if getattr(self, attr) is None:
                # imtcp writes its port file only when asked for port 0.
                if not os.path.exists(port_file):
                    return False
                with open(port_file) as f:
                    text = f.read().strip()
                if not text:
                    return False
                setattr(self, attr, int(text))
            elif not self._listening(getattr(self, attr)):
                return False
        if self.pki and not self._listening(self.relp_tls_port):
            return False
        return self._listening(self.relp_port)

    def start(self):
        for attempt in range(3):
            if self.relp_port is None or attempt:
                self.relp_port = reserve_port()
                self.relp_tls_port = reserve_port()
                for attr, _ in self.port_files:
                    setattr(self, attr, None)
                self.udp_port = reserve_port(socket.SOCK_DGRAM)
            self._spawn()
            try:
                wait_for(self._ready, self.start_timeout, what="rsyslogd listening")
                return self
            except (RuntimeError, AssertionError):
                self.stop()
                if attempt == 2 or not self._bind_failed():
                    raise
        return self

    def _bind_failed(self):
        text = self.log()
        return "Address already in use" in text or "could not create" in text.lower()

    def restart(self, down_seconds=0.0, kill=False):
        """Stops rsyslogd (SIGTERM, or SIGKILL: it dies without closing its
        sessions cleanly), waits, starts it again on the same ports."""
        if kill:
            self.kill()
        else:
            self.stop()
        time.sleep(down_seconds)
        self._spawn()
        wait_for(self._ready, self.start_timeout, what="rsyslogd listening again")

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill(self):
        """SIGKILL: the receiver dies without closing its connections cleanly."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def messages(self):
        """Every message rsyslog wrote, parsed (a torn last line ignored)."""
        out = []
        if not os.path.exists(self.out):
            return out
        with open(self.out, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break
                out.append(json.loads(line))
        return out

    def wait_messages(self, pred, timeout=30.0, what="messages at rsyslogd"):
        def check():
            m = self.messages()
            return m if pred(m) else None
        return wait_for(check, timeout, interval=0.2, what=what)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is not None:
            import sys
            sys.stderr.write("---- rsyslogd log (%s) ----\n%s\n" % (self.log_path,
                                                                   self.log()[-3000:]))
        return False
