"""The HTTP sink's configuration:

- every shipped conf/http-*.conf passes --check-config (its secrets from the
  environment or a file, its certificate paths pointed at a test PKI);
- --check-config names the file, line and key of each bad option, and never
  shows a secret;
- --help-sink http lists the options, secrets with their *_file form."""

import os
import re
import shutil
import subprocess

from harness import SRC_DIR, main, tmpdir
from agentlib import agent_bin
from certs import Pki
import unittest

HEAD = "[project p]\nproject_id = x\nkey_id = k\nkey_secret = s\n[sink a]\ntype = http\n"
ENV = dict(os.environ, SINCH_PROJECT_ID="p", SINCH_KEY_ID="k", SINCH_KEY_SECRET="s",
           WEBHOOK_TOKEN="t1", SPLUNK_HEC_TOKEN="t2", ES_API_KEY="t3", OTLP_TOKEN="t4")


def check(path, env=None):
    return subprocess.run([agent_bin(), "--check-config", "-c", path], env=env or ENV,
                          capture_output=True, text=True)


class Conf(unittest.TestCase):
    def test_shipped_examples_pass_check_config(self):
        pki = Pki()
        d = tmpdir()
        confs = sorted(f for f in os.listdir(os.path.join(SRC_DIR, "conf"))
                       if f.startswith("http-") and f.endswith(".conf"))
        self.assertEqual(len(confs), 6, confs)
        os.mkdir(os.path.join(d, "secrets"))
        with open(os.path.join(d, "secrets", "collector-password"), "w") as f:
            f.write("pw\n")
        for name in confs:
            with open(os.path.join(SRC_DIR, "conf", name)) as f:
                text = f.read()
            text = re.sub(r"/etc/sinch-logd/[a-z-]*ca\.pem", pki.ca, text)
            text = text.replace("/etc/sinch-logd/client.pem", pki.client_cert)
            text = text.replace("/etc/sinch-logd/client.key", pki.client_key)
            path = os.path.join(d, name)
            with open(path, "w") as f:
                f.write(text)
            r = check(path)
            self.assertEqual(r.returncode, 0, name + ": " + r.stderr)
            self.assertIn("configuration is valid", r.stdout, name)
        # Each preset has its example.
        presets = set()
        for name in confs:
            with open(os.path.join(SRC_DIR, "conf", name)) as f:
                presets |= set(re.findall(r"^format = (\w+)", f.read(), re.M))
        self.assertEqual(presets, {"ndjson", "json_array", "splunk_hec", "elasticsearch_bulk",
                                   "loki", "otlp_json"})
        shutil.rmtree(d)

    def test_bad_options_are_named(self):
        d = tmpdir()
        pki = Pki()
        u = "url = https://h/x\n"
        cases = [
            ("url = ftp://h/x\n", "bad.conf:7: [sink a]: key 'url': must be an http:// or "
             "https:// URL with a host and without credentials"),
            ("url = https://user:hunter2@h/x\n", "bad.conf:7: [sink a]: key 'url': must be"),
            (u + "format = xml\n", "bad.conf:8: key 'format': invalid value 'xml' (expected one "
             "of: ndjson|json_array|splunk_hec|elasticsearch_bulk|loki|otlp_json)"),
            (u + "ack = on\n", "bad.conf:8: [sink a]: key 'ack': applies to format = "
             "splunk_hec, not ndjson"),
            (u + "format = loki\nindex = x\n", "bad.conf:9: [sink a]: key 'index': applies to "
             "format = splunk_hec, not loki"),
            (u + "labels = function\n", "bad.conf:8: [sink a]: key 'labels': applies to "
             "format = loki, not ndjson"),
            (u + "format = splunk_hec\nack_timeout = 1m\n", "bad.conf:9: [sink a]: key "
             "'ack_timeout': needs ack = on"),
            (u + "auth = bearer\n", "bad.conf:8: [sink a]: key 'auth': needs token"),
            (u + "token = hunter2\n", "bad.conf:8: [sink a]: key 'token': needs auth = bearer "
             "or splunk"),
            (u + "auth = basic\nusername = a:b\npassword = hunter2\n", "bad.conf:9: [sink a]: "
             "key 'username': must not contain ':'"),
            (u + "token_file = %s/missing\nauth = bearer\n" % d, "bad.conf:8: key "
             "'token_file': cannot read '%s/missing'" % d),
            (u + "headers = Content-Length: 5\n", "bad.conf:8: [sink a]: key 'headers': "
             "Content-Length is set by the sink"),
            (u + "headers = novalue\n", "bad.conf:8: [sink a]: key 'headers': 'novalue' is "
             "not Name: value"),
            (u + "headers = Bad Name: 1\n", "bad.conf:8: [sink a]: key 'headers': 'Bad Name' "
             "is not a header name"),
            (u + "auth = splunk\ntoken = t\nheaders = authorization: x\n", "bad.conf:10: "
             "[sink a]: key 'headers': Authorization is set by auth"),
            (u + "batch_max_records = 0\n", "bad.conf:8: [sink a]: key 'batch_max_records': "
             "must be 1..10000"),
            (u + "batch_max_bytes = 100\n", "bad.conf:8: [sink a]: key 'batch_max_bytes': "
             "must be 1K..256M"),
            (u + "max_in_flight = 65\n", "bad.conf:8: [sink a]: key 'max_in_flight': must be "
             "1..64"),
            (u + "backoff_base = 5s\nbackoff_max = 1s\n", "bad.conf:9: [sink a]: key "
             "'backoff_max': need 10ms <= backoff_base <= backoff_max <= 1h"),
            (u + "format = splunk_hec\nsource = {fn}\n", "bad.conf:9: [sink a]: key 'source': "
             "unknown placeholder at '{fn}'"),
            (u + "format = elasticsearch_bulk\nindex = _x-%Y\n", "bad.conf:9: [sink a]: key "
             "'index': an index name must not start with '-', '_' or '+'"),
            (u + "format = elasticsearch_bulk\nindex = x-%y\n", "bad.conf:9: [sink a]: key "
             "'index': unknown date field at '%y'"),
            (u + "format = splunk_hec\nchannel = abc\n", "bad.conf:9: [sink a]: key 'channel': "
             "must be a GUID"),
            (u + "format = loki\nlabels = function, bogus\n", "bad.conf:9: [sink a]: key "
             "'labels': 'bogus' is not a record field"),
            (u + "format = loki\nlabels = level, level\n", "bad.conf:9: [sink a]: key "
             "'labels': label 'level' is given twice"),
            ("url = http://h/x\nca_file = %s\n" % pki.ca, "bad.conf:8: [sink a]: key "
             "'ca_file': applies to an https:// url"),
            (u + "cert_file = %s\n" % pki.client_cert, "bad.conf:5: [sink a]: key 'key_file': "
             "a client certificate needs both cert_file and key_file"),
            (u + "cert_file = %s\nkey_file = %s\n" % (pki.client_cert, pki.server_key),
             "bad.conf:9: [sink a]: key 'key_file': error:05800074:x509 certificate "
             "routines::key values mismatch"),
            (u + "ca_file = %s/missing.pem\n" % d, "bad.conf:8: [sink a]: key 'ca_file': "
             "cannot read %s/missing.pem: No such file" % d),
            (u + "batch_lingr = 1s\n", "bad.conf:8: [sink a]: unknown key 'batch_lingr' (did "
             "you mean 'batch_linger'?)"),
        ]
        for body, want in cases:
            cfg = os.path.join(d, "bad.conf")
            with open(cfg, "w") as f:
                f.write(HEAD + body)
            r = check(cfg)
            self.assertEqual(r.returncode, 2, body + r.stderr)
            self.assertIn(want, r.stderr, body)
            self.assertNotIn("hunter2", r.stderr + r.stdout)

    def test_help_sink(self):
        r = subprocess.run([agent_bin(), "--help-sink", "http"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        for key in ("url", "format", "compression", "headers", "auth", "batch_max_records",
                    "batch_max_bytes", "batch_linger", "timeout", "max_in_flight", "proxy",
                    "ca_file", "cert_file", "key_file", "tls_verify", "ack", "labels"):
            self.assertRegex(r.stdout, r"(?m)^  %s " % key)
        self.assertIn("(or token_file: read from a file)", r.stdout)
        self.assertIn("(or password_file: read from a file)", r.stdout)
        self.assertIn("(or headers_file: read from a file)", r.stdout)


if __name__ == "__main__":
    main()
