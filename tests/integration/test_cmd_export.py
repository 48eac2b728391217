"""The export command: 5,000 historical records of a function, read in
order within the historical-logs rate limit, are exactly the simulator's
history (same ids, same order, each once), through -o FILE or a sink of the
configuration; interrupted by SIGINT it exits 130 and the same command
resumes it without a repeat; on a terminal it draws a progress bar."""

import os
import pty
import select
import signal
import subprocess
import time
import unittest

from harness import get_json, main, sim, sim_stats, wait_for
from agentlib import agent_bin, read_records, tmpdir

TOTAL = 5000


def history(s):
    fid = sim_stats(s.url)["functions"][0]["id"]
    return [e["id"] for e in get_json(s.url + "/_sim/events?function=" + fid)["events"]]


def conf(s, d, extra=""):
    path = os.path.join(d, "export.conf")
    with open(path, "w") as f:
        f.write("[agent]\nstate_dir = %s/state\n[project sim]\napi_url = %s\n"
                "token_url = %s/oauth2/token\nproject_id = demo-project\nkey_id = demo-key\n"
                "key_secret = demo-secret\n%s\n[sink archive]\ntype = file\npath = %s/archive.jsonl\n"
                "fsync_interval = 50ms\n" % (d, s.url, s.url, extra, d))
    return path


def export(cfg, *args, timeout=60):
    return subprocess.run([agent_bin(), "export", "ivr-handler", "-c", cfg] + list(args),
                          capture_output=True, text=True, timeout=timeout)


class Export(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = sim("--functions", "1", "--rate", "2500", "--total", TOTAL,
                      "--limit-window", "2").start()
        wait_for(lambda: sim_stats(cls.sim.url)["functions"][0]["generated"] >= TOTAL, 30,
                 what="the history generated")
        cls.want = history(cls.sim)
        assert len(cls.want) == TOTAL

    @classmethod
    def tearDownClass(cls):
        cls.sim.check_stop()

    def test_export_to_a_file_matches_the_history(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        before = sim_stats(self.sim.url)["requests"]["logs"]
        r = export(conf(self.sim, d), "--since", "1h", "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("5000 record(s) of ivr-handler", r.stderr)
        recs = read_records(out)
        self.assertEqual([x["id"] for x in recs], self.want)
        self.assertEqual(set(x["kind"] for x in recs), {"request"})
        # The largest pages, in sequence: 5 of them.
        self.assertEqual(sim_stats(self.sim.url)["requests"]["logs"] - before, 5)
        self.assertEqual(sorted(os.listdir(d)), ["export.conf", "out.jsonl"])  # no state left

    def test_export_through_a_sink_with_filters(self):
        d = tmpdir()
        r = export(conf(self.sim, d), "--since", "1h", "--sink", "archive",
                   "--status", "error", "--level", "warning")
        self.assertEqual(r.returncode, 0, r.stderr)
        recs = read_records(os.path.join(d, "archive.jsonl"))
        self.assertTrue(recs)
        self.assertTrue(all(x["status"] >= 400 for x in recs))
        self.assertTrue(all(x["level"] in ("warning", "error") for x in recs))
        got = [x["id"] for x in recs]
        self.assertEqual(got, [i for i in self.want if i in set(got)])

    def test_sigint_then_resume(self):
        # 100 per page within a small historical-logs budget: 50 pages at
        # 10 per window, long enough to interrupt in the middle.
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        cfg = conf(self.sim, d, "logs_rate_limit = 20\nrate_limit_window = 1s\n")
        args = [agent_bin(), "export", "ivr-handler", "-c", cfg, "--since", "1h", "-o", out,
                "--page-size", "100"]
        p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: len(read_records(out)) >= 1000, 30, what="a fifth exported")
            p.send_signal(signal.SIGINT)
            _, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("run the same command again to resume", err)
        first = [x["id"] for x in read_records(out)]
        self.assertLess(len(first), TOTAL)
        self.assertEqual(first, self.want[:len(first)])
        self.assertTrue(os.path.exists(out + ".export.json"))
        # Different arguments do not silently overwrite it.
        r = subprocess.run(args[:-2] + ["--page-size", "100", "--level", "error"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("add --restart", r.stderr)
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("the export was resumed", r.stderr)
        self.assertEqual([x["id"] for x in read_records(out)], self.want)
        self.assertFalse(os.path.exists(out + ".export.json"))
        self.assertFalse(os.path.exists(out + ".export.ckpt"))
        self.assertEqual(sim_stats(self.sim.url)["rateLimited"]["logs"], 0)

    def test_progress_bar_on_a_terminal(self):
        d = tmpdir()
        cfg = conf(self.sim, d, "logs_rate_limit = 20\nrate_limit_window = 1s\n")
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(agent_bin(), [agent_bin(), "export", "ivr-handler", "-c", cfg, "--since",
                                   "1h", "-o", os.path.join(d, "out.jsonl"), "--page-size",
                                   "500"])
        text = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 1)
            if not r:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            text += chunk
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, text)
        self.assertIn(b"\r[###", text)
        self.assertIn(b"100%  5000/5000 records", text)


if __name__ == "__main__":
    main()
