"""The list and status commands, from a configuration file or from the
Sinch CLI's environment: list prints a table or the API's JSON; status
prints a function's status, and with --wait-for exits 0 once it is reached,
1 when the function Failed or the timeout passed, 2 on usage,
configuration or authentication errors."""

import json
import os
import subprocess
import threading
import time
import unittest

from harness import http_request, main, sim
from agentlib import agent_bin, config_for, tmpdir

ENV = {"SINCH_PROJECT_ID": "demo-project", "SINCH_KEY_ID": "demo-key",
       "SINCH_KEY_SECRET": "demo-secret"}


def run(s, *args, env=None, timeout=30):
    e = dict(os.environ, **(ENV if env is None else env))
    argv = [agent_bin()] + list(args) + ["--api-url", s.url, "--token-url", s.url + "/oauth2/token"]
    return subprocess.run(argv, capture_output=True, text=True, env=e, timeout=timeout)


def set_status(s, fn, status, error=None):
    q = "set=%s&status=%s" % (fn, status) + ("&error=" + error if error else "")
    assert http_request("POST", s.url + "/_sim/functions?" + q)[0] == 200


class Commands(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = sim("--rate", "5").start()

    @classmethod
    def tearDownClass(cls):
        cls.sim.check_stop()

    def test_list(self):
        r = run(self.sim, "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "NAME", "RUNTIME", "STATUS", "UPDATED"])
        self.assertEqual([ln.split()[1] for ln in lines[1:]],
                         ["ivr-handler", "sms-webhook", "callback-router"])
        r = run(self.sim, "list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        fns = json.loads(r.stdout)
        self.assertEqual([f["name"] for f in fns], ["ivr-handler", "sms-webhook",
                                                     "callback-router"])
        self.assertEqual(set(fns[0]), {"id", "name", "runtime", "status", "createdAt",
                                       "updatedAt"})

    def test_list_from_a_configuration_file(self):
        d = tmpdir()
        cfg = config_for(self.sim, d)
        r = subprocess.run([agent_bin(), "list", "-c", cfg], capture_output=True, text=True,
                           timeout=30, env={"PATH": os.environ.get("PATH", "")})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sms-webhook", r.stdout)

    def test_status(self):
        r = run(self.sim, "status", "sms-webhook")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^sms-webhook \(\w+\): Running\n$")

    def test_wait_for_reached(self):
        set_status(self.sim, "callback-router", "Deploying")
        t = threading.Timer(1.0, set_status, (self.sim, "callback-router", "Running"))
        t.start()
        try:
            r = run(self.sim, "status", "callback-router", "--wait-for", "running",
                    "--interval", "200ms", "--timeout", "20s")
        finally:
            t.join()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^callback-router \(\w+\): Deploying\n"
                                   r"callback-router \(\w+\): Running\n$")

    def test_wait_for_failed_exits_1(self):
        set_status(self.sim, "ivr-handler", "Building")
        t = threading.Timer(0.6, set_status, (self.sim, "ivr-handler", "Failed",
                                              "build%20failed"))
        t.start()
        try:
            r = run(self.sim, "status", "ivr-handler", "--wait-for", "Running",
                    "--interval", "200ms", "--timeout", "20s")
        finally:
            t.join()
            set_status(self.sim, "ivr-handler", "Running")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("ivr-handler failed while waiting for Running: build failed", r.stderr)

    def test_wait_for_timeout_exits_1(self):
        start = time.monotonic()
        r = run(self.sim, "status", "sms-webhook", "--wait-for", "Stopped",
                "--interval", "200ms", "--timeout", "1s")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("timed out after 1 s waiting for sms-webhook to be Stopped "
                      "(status: Running)", r.stderr)
        self.assertLess(time.monotonic() - start, 10)

    def test_usage_and_auth_errors_exit_2(self):
        cases = [
            (("status",), "no FUNCTION given"),
            (("status", "ivr-handler", "--wait-for", "Sleeping"), "is not a status"),
            (("status", "ivr-handler", "--timeout", "soon"), "is not a duration"),
            (("status", "no-such-function"), "no function 'no-such-function'"),
            (("list", "extra"), "unexpected argument"),
        ]
        for args, message in cases:
            r = run(self.sim, *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(message, r.stderr)
        r = run(self.sim, "status", "ivr-handler", "--wait-for", "Running",
                env=dict(ENV, SINCH_KEY_SECRET="wrong-secret"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("authentication failed", r.stderr)
        self.assertNotIn("wrong-secret", r.stderr + r.stdout)
        r = run(self.sim, "list", env={})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("project_id is not set (nor is SINCH_PROJECT_ID)", r.stderr)


if __name__ == "__main__":
    main()
