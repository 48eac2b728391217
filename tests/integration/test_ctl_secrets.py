"""Credentials, every way they can be given: key_secret_file and token_file
(paths relative to the config file), ${ENV} expansion, and the Sinch CLI's
SINCH_PROJECT_ID / SINCH_KEY_ID / SINCH_KEY_SECRET when the section says
nothing. The key secret and the tokens never appear in the agent's log (at
debug level), in --check-config output or in the records."""

import os
import subprocess
import unittest

from harness import get_token, main, sim, wait_for
from agentlib import Agent, agent_bin, read_records, tmpdir

SECRET = "s3cr3t-Kq7-do-not-log"
KEY = "key-4711"


def write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def base(d, s, project):
    return ("[agent]\nstate_dir = %s/state\ncheckpoint_interval = 200ms\n"
            "[project sim]\napi_url = %s\ntoken_url = %s/oauth2/token\n"
            "status_interval = 200ms\nmetrics_interval = 500ms\n%s"
            "[sink out]\ntype = file\npath = %s/out.jsonl\nfsync_interval = 100ms\n"
            % (d, s.url, s.url, project, d))


class Secrets(unittest.TestCase):
    def run_case(self, s, d, project, env=None):
        cfg = write(d, "agent.conf", base(d, s, project))
        e = dict(os.environ, **(env or {}))
        r = subprocess.run([agent_bin(), "--check-config", "-c", cfg], capture_output=True,
                           text=True, env=e, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(d, "out.jsonl")
        with Agent(cfg, args=["-v", "--log-level", "debug"], env=env) as a:
            wait_for(lambda: set(rec["kind"] for rec in read_records(out)) >=
                     {"request", "status", "metrics"}, 20, what="records of every kind")
            self.assertEqual(a.stop(), 0)
            log = a.log()
        with open(out) as f:
            text = f.read()
        return log + r.stdout + r.stderr, text

    def test_key_secret_file_and_env_expansion(self):
        d = tmpdir()
        write(d, "key_secret", SECRET + "\n")
        with sim("--rate", "20", "--key-id", KEY, "--key-secret", SECRET) as s:
            log, recs = self.run_case(s, d, "project_id = ${SIM_PROJECT}\nkey_id = ${SIM_KEY}\n"
                                      "key_secret_file = key_secret\n",
                                      env={"SIM_PROJECT": "demo-project", "SIM_KEY": KEY})
        self.assertNotIn(SECRET, log + recs)

    def test_sinch_environment_defaults(self):
        d = tmpdir()
        with sim("--rate", "20", "--key-id", KEY, "--key-secret", SECRET) as s:
            log, recs = self.run_case(s, d, "", env={"SINCH_PROJECT_ID": "demo-project",
                                                     "SINCH_KEY_ID": KEY,
                                                     "SINCH_KEY_SECRET": SECRET})
        self.assertNotIn(SECRET, log + recs)

    def test_token_file(self):
        d = tmpdir()
        with sim("--rate", "20", "--key-id", KEY, "--key-secret", SECRET) as s:
            token = get_token(s.url, KEY, SECRET)
            write(d, "token", token + "\n")
            log, recs = self.run_case(s, d, "project_id = demo-project\ntoken_file = token\n")
        self.assertNotIn(token, log + recs)
        self.assertNotIn(token.split(".")[2], log + recs)

    def test_check_config_never_shows_a_secret(self):
        d = tmpdir()
        cfg = write(d, "bad.conf", "[project p]\nproject_id = x\nkey_id = k\n"
                    "key_secret = %s\nstatus_interval = 1ms\nmax_streams = 5000\n"
                    "[sink s]\ntype = null\n" % SECRET)
        r = subprocess.run([agent_bin(), "--check-config", "-c", cfg], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad.conf:5: [project p]: status_interval must be 0 or between 100ms",
                      r.stderr)
        self.assertIn("bad.conf:6: [project p]: max_streams must be between 0 and 1000",
                      r.stderr)
        self.assertNotIn(SECRET, r.stdout + r.stderr)


if __name__ == "__main__":
    main()
