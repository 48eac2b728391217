"""The README's demo (packaging/demo.sh): records reach the terminal and
demo-out/records.jsonl within 30 seconds, and a Ctrl-C (SIGINT to the whole
process group, as a terminal sends it) or a SIGTERM to the script alone stops
the agent cleanly, after draining, and the simulator with it."""

import json
import os
import signal
import subprocess
import time
import unittest

from harness import BIN_DIR, SRC_DIR, main, tmpdir, wait_for


class Demo(unittest.TestCase):
    def run_demo(self, stop):
        d = tmpdir()
        env = dict(os.environ, DEMO_DIR=d, SINCH_BIN_DIR=BIN_DIR)
        out = open(os.path.join(d, "terminal.out"), "wb")
        err = open(os.path.join(d, "script.err"), "wb")
        p = subprocess.Popen([os.path.join(SRC_DIR, "packaging", "demo.sh")], env=env,
                             stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            records = os.path.join(d, "records.jsonl")
            started = time.monotonic()
            wait_for(lambda: os.path.exists(records) and os.path.getsize(records) > 0,
                     timeout=30, what="records in " + records)
            self.assertLess(time.monotonic() - started, 30)
            stop(p)
            self.assertEqual(p.wait(timeout=30), 0)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            out.close()
            err.close()
        with open(os.path.join(d, "terminal.out"), "rb") as f:
            first = f.readline()
        self.assertEqual(json.loads(first)["schema"], 1)
        with open(os.path.join(d, "agent.log")) as f:
            log = f.read()
        self.assertIn("connected", log)
        self.assertNotIn("demo-secret", log)
        # The agent stopped by itself, through its drain, not by a second signal.
        self.assertIn("records,", log)
        self.assertNotIn("second signal", log)
        # Nothing is left running in the demo's process group.
        def group_gone():
            try:
                os.killpg(p.pid, 0)
            except ProcessLookupError:
                return True
            return False
        wait_for(group_gone, timeout=10, what="the demo's processes to exit")

    def test_ctrl_c_stops_everything_cleanly(self):
        self.run_demo(lambda p: os.killpg(p.pid, signal.SIGINT))

    def test_sigterm_to_the_script_stops_the_agent(self):
        self.run_demo(lambda p: p.send_signal(signal.SIGTERM))


if __name__ == "__main__":
    main()
