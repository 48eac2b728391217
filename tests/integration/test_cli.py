"""The command line: --check-config reports every error as FILE:LINE and
exits non-zero without connecting; a locked state directory refuses a second
agent naming the holder; --version and --help; SIGTERM drains and exits 0;
secrets never reach the output."""

import os
import subprocess
import time
import unittest

from harness import main, sim, wait_for
from agentlib import Agent, agent_bin, config_for, read_records, tmpdir


def run(*args, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([agent_bin()] + list(args), capture_output=True, text=True,
                          timeout=30, env=e)


def write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


class Cli(unittest.TestCase):
    def test_version_and_help(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^sinch-logd \d+\.\d+\.\d+")
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--check-config", r.stdout)
        self.assertIn("file", r.stdout)
        r = run("--help-sink", "file")
        self.assertIn("fsync_interval", r.stdout)
        self.assertNotEqual(run("--bogus").returncode, 0)
        self.assertNotEqual(run().returncode, 0)

    def test_check_config_reports_every_error_with_file_and_line(self):
        d = tmpdir()
        cfg = write(d, "bad.conf", """[agent]
state_dir = %s/state
[project p]
project_id = demo
key_id = k
key_secret = very-secret-value-123
idle_timeout = soon
functinos = *
[sink out]
type = file
pth = /tmp/x
fsync = sometimes
[sink other]
type = carrier-pigeon
""" % d)
        r = run("--check-config", "-c", cfg)
        self.assertEqual(r.returncode, 2)
        err = r.stderr
        self.assertIn("bad.conf:7:", err)   # idle_timeout
        self.assertIn("bad.conf:8:", err)   # unknown key functinos
        self.assertIn("functinos", err)
        self.assertIn("bad.conf:9:", err)   # missing required path
        self.assertIn("bad.conf:11:", err)  # unknown key pth
        self.assertIn("bad.conf:12:", err)  # bad fsync value
        self.assertIn("bad.conf:14:", err)  # unknown sink type
        self.assertNotIn("very-secret-value-123", err + r.stdout)
        self.assertFalse(os.path.exists(os.path.join(d, "state")), "check-config wrote state")

    def test_check_config_reports_bounds_and_conflicts(self):
        d = tmpdir()
        write(d, "state-is-a-file", "")
        cfg = write(d, "bounds.conf", """[agent]
state_dir = %s/state-is-a-file
shutdown_timeout = 18446744073709551615ms
checkpoint_interval = 0
[project a]
project_id = demo
token = t0k3n
[project b]
project_id = demo
token = t0k3n
[project c]
project_id = other
token = t0k3n
max_streams = -1
resume_overlap = 0
backoff_base = 0
backoff_max = 2d
[sink out]
type = null
""" % d)
        r = run("--check-config", "-c", cfg)
        self.assertEqual(r.returncode, 2)
        err = r.stderr
        self.assertIn("bounds.conf:2: [agent]: state_dir", err)
        self.assertIn("bounds.conf:3: [agent]: shutdown_timeout must be at most 1h", err)
        self.assertIn("bounds.conf:4: [agent]: checkpoint_interval", err)
        self.assertIn("bounds.conf:9: [project b]: project_id demo is [project a]'s too", err)
        self.assertIn("bounds.conf:14: [project c]: max_streams must be between 0 and 1000",
                      err)
        self.assertIn("bounds.conf:15: [project c]: resume_overlap must be between 1s", err)
        self.assertIn("bounds.conf:16: [project c]: backoff_base must be between 10ms", err)
        self.assertIn("bounds.conf:17: [project c]: backoff_max must be at least backoff_base",
                      err)
        self.assertNotIn("t0k3n", err + r.stdout)

    def test_check_config_accepts_the_shipped_demo(self):
        d = tmpdir()
        r = run("--check-config", "-c", os.path.join(os.environ["SINCH_SRC_DIR"], "conf",
                                                      "demo.conf"),
                env={"SIM_URL": "http://127.0.0.1:1", "DEMO_DIR": d, "SINCH_KEY_ID": "demo-key",
                     "SINCH_KEY_SECRET": "demo-secret"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration is valid", r.stdout)

    def test_secret_readable_by_others_draws_a_warning(self):
        d = tmpdir()
        secret = write(d, "secret", "very-secret-value-456\n")
        inline = write(d, "inline.conf", "[agent]\nstate_dir = %s/state\n[project p]\n"
                       "project_id = x\nkey_id = k\nkey_secret = very-secret-value-456\n"
                       "[sink a]\ntype = null\n" % d)
        viafile = write(d, "viafile.conf", "[agent]\nstate_dir = %s/state\n[project p]\n"
                        "project_id = x\nkey_id = k\nkey_secret_file = secret\n"
                        "[sink a]\ntype = null\n" % d)
        for path, mode in ((inline, 0o644), (viafile, 0o600), (secret, 0o604)):
            os.chmod(path, mode)
        r = run("--check-config", "-c", inline)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("inline.conf:6: warning: key 'key_secret': this file holds a secret and "
                      "is readable by other users (mode 0644)", r.stderr)
        r = run("--check-config", "-c", viafile)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("viafile.conf:6: warning: key 'key_secret_file': '%s' is readable by "
                      "other users (mode 0604)" % secret, r.stderr)
        self.assertNotIn("very-secret-value", r.stderr + r.stdout)
        # Group-readable is how a service user is given a secret: no warning.
        os.chmod(inline, 0o640)
        os.chmod(secret, 0o640)
        for path in (inline, viafile):
            r = run("--check-config", "-c", path)
            self.assertEqual((r.returncode, r.stderr), (0, ""))

    def test_config_without_sink_or_with_bad_urls_is_refused(self):
        d = tmpdir()
        cfg = write(d, "nosink.conf", "[agent]\nstate_dir = %s/state\n[project p]\n"
                    "api_url = not a url\nproject_id = x\ntoken = t\n" % d)
        r = run("--check-config", "-c", cfg)
        self.assertEqual(r.returncode, 2)
        self.assertIn("nosink.conf:4: [project p]: key 'api_url': not an http", r.stderr)
        self.assertIn("no [sink NAME] section", r.stderr)
        cfg = write(d, "nodir.conf", "[project p]\nproject_id = x\ntoken = t\n"
                    "[sink out]\ntype = file\npath = %s/missing/out.jsonl\n" % d)
        r = run("--check-config", "-c", cfg)
        self.assertEqual(r.returncode, 2)
        self.assertIn("nodir.conf:6: [sink out]: key 'path': its directory must exist", r.stderr)

    def test_agent_refuses_to_start_on_bad_config(self):
        d = tmpdir()
        cfg = write(d, "bad.conf", "[agent]\nstate_dir = %s/state\nbogus = 1\n" % d)
        r = run("-c", cfg)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad.conf:3:", r.stderr)

    def test_locked_state_dir_and_clean_stop(self):
        d = tmpdir()
        with sim("--rate", "20") as s:
            cfg = config_for(s, d)
            with Agent(cfg) as a:
                out = os.path.join(d, "out.jsonl")
                wait_for(lambda: len(read_records(out)) > 5, 20, what="records")
                r = run("-c", cfg)
                self.assertEqual(r.returncode, 1)
                self.assertIn("in use by process %d" % a.proc.pid, r.stderr)
                self.assertTrue(a.alive())
                self.assertEqual(a.stop(), 0)
                log = a.log()
        self.assertIn("sinks drained, checkpoints written", log)
        self.assertNotIn("demo-secret", log)
        ckpts = [f for f in os.listdir(os.path.join(d, "state")) if f.endswith(".ckpt")]
        self.assertEqual(len(ckpts), 3)

    def test_missing_function_is_a_startup_error(self):
        d = tmpdir()
        with sim() as s:
            cfg = config_for(s, d, project_extra="functions = ivr-handler, no-such-fn\n")
            with Agent(cfg) as a:
                a.proc.wait(20)
                self.assertEqual(a.proc.returncode, 1)
                self.assertIn("function 'no-such-fn' is not in project", a.log())

    def test_functions_by_name_and_sighup_reopens(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "50") as s:
            cfg = config_for(s, d, project_extra="functions = sms-webhook\n")
            with Agent(cfg) as a:
                wait_for(lambda: len(read_records(out)) > 10, 20, what="records")
                os.rename(out, out + ".old")
                a.proc.send_signal(1)  # SIGHUP, as logrotate's postrotate does
                wait_for(lambda: len(read_records(out)) > 10, 20, what="records in new file")
                self.assertEqual(a.stop(), 0)
        recs = read_records(out + ".old") + read_records(out)
        self.assertEqual(set(r["function_name"] for r in recs), {"sms-webhook"})
        ids = [r["id"] for r in recs]
        self.assertEqual(len(ids), len(set(ids)))


if __name__ == "__main__":
    main()
