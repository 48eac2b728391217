"""The tail command: on a terminal (a pseudo-terminal here) each request is
one coloured line (time, status, duration, level, method and URL) and its
console lines under it; otherwise JSON lines, the agent's own records;
Ctrl-C ends it with status 0. When the project's 5 streams are all taken it
says so and follows the function by polling instead."""

import json
import os
import pty
import re
import select
import signal
import subprocess
import time
import unittest

from harness import main, sim, sim_hold_streams, sim_stats
from agentlib import agent_bin

ENV = dict(os.environ, SINCH_PROJECT_ID="demo-project", SINCH_KEY_ID="demo-key",
           SINCH_KEY_SECRET="demo-secret")
LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3}Z  \x1b\[3[123]m\d{3}\x1b\[0m +\d+ms  "
                  r"\x1b\[(31|33|32|2)m(debug|info|warning|error) *\x1b\[0m  "
                  r"(GET|POST|PUT|DELETE) https://", re.M)


def argv(s, *args):
    return [agent_bin(), "tail"] + list(args) + ["--api-url", s.url, "--token-url",
                                                 s.url + "/oauth2/token"]


def read_until(fd, pred, timeout=20):
    text = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not pred(text):
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            text += chunk
    return text


def lines_then_sigint(args, n):
    """Runs tail with stdout on a pipe, reads n lines, sends SIGINT; returns
    (lines, stderr, exit status)."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    try:
        lines = [p.stdout.readline() for _ in range(n)]
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    return lines, err.decode(), p.returncode


class Tail(unittest.TestCase):
    def test_terminal_output_is_coloured_lines(self):
        with sim("--rate", "20") as s:
            pid, fd = pty.fork()
            if pid == 0:
                os.environ.update(ENV)
                os.environ.pop("NO_COLOR", None)
                os.execv(agent_bin(), argv(s, "sms-webhook", "--since", "1m"))
            text = read_until(fd, lambda t: len(LINE.findall(t.decode("utf-8", "replace")))
                              >= 5)
            os.kill(pid, signal.SIGINT)
            read_until(fd, lambda t: False, timeout=2)
            _, status = os.waitpid(pid, 0)
        out = text.decode("utf-8", "replace").replace("\r\n", "\n")
        self.assertGreaterEqual(len(LINE.findall(out)), 5, out[:2000])
        # Console lines sit under their request, indented, with their level.
        self.assertRegex(out, r"\n {14}\x1b\[(31|33|32|2)m(debug|info|warning|error) *\x1b\[0m  \S")
        self.assertNotIn('{"schema"', out)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)

    def test_json_lines_when_not_a_terminal(self):
        with sim("--rate", "20") as s:
            lines, err, rc = lines_then_sigint(argv(s, "ivr-handler", "--since", "1m",
                                                    "--level", "warning"), 5)
        recs = [json.loads(ln) for ln in lines]
        self.assertEqual(set(r["function_name"] for r in recs), {"ivr-handler"})
        self.assertEqual(set(r["kind"] for r in recs), {"request"})
        self.assertTrue(all(r["level"] in ("warning", "error") for r in recs), recs)
        self.assertEqual(rc, 0, err)

    def test_falls_back_to_polling_when_5_streams_are_open(self):
        with sim("--rate", "20", "--heartbeat", "0") as s:
            held = sim_hold_streams(s, "callback-router", 5)
            try:
                lines, err, rc = lines_then_sigint(argv(s, "sms-webhook", "--since", "30s",
                                                        "--poll-interval", "300ms"), 10)
                stats = sim_stats(s.url)
            finally:
                for c in held:
                    c.close()
        self.assertIn("the project already has its 5 log streams open (HTTP 429): following "
                      "sms-webhook by polling its historical logs every 300 ms instead", err)
        recs = [json.loads(ln) for ln in lines]
        self.assertEqual(set(r["function_name"] for r in recs), {"sms-webhook"})
        self.assertEqual(len(set(r["id"] for r in recs)), 10)
        self.assertEqual(stats["rateLimited"]["stream"], 1)
        self.assertGreaterEqual(stats["requests"]["logs"], 1)
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    main()
