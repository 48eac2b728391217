"""The agent speaks systemd's notification protocol (sd_notify) itself: a
unix datagram listener stands in for systemd as NOTIFY_SOCKET (a path, or an
abstract name starting with '@') and hears READY=1 once the streams and
sinks are started, STATUS= lines, WATCHDOG=1 every half WATCHDOG_USEC,
RELOADING=1 (with MONOTONIC_USEC) then READY=1 around a SIGHUP reload, and
STOPPING=1 at shutdown. Without NOTIFY_SOCKET nothing is sent."""

import os
import signal
import socket
import threading
import time
import unittest

from harness import main, sim, wait_for
from agentlib import Agent, config_for, read_records, tmpdir


class Listener:
    """A datagram socket collecting every message, each as a dict of its
    KEY=VALUE lines, with the time it came."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.2)
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
            with self.lock:
                self.messages.append((time.monotonic(), fields))

    def close(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()

    def keys(self):
        """Every message's keys, in order ("READY", "WATCHDOG"...)."""
        with self.lock:
            return [k for _, m in self.messages for k in m]

    def having(self, key):
        with self.lock:
            return [(t, m) for t, m in self.messages if key in m]


class Notify(unittest.TestCase):
    def run_agent(self, address, env_socket, watchdog_usec=None, watchdog_pid=None):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        lst = Listener(address)
        env = {"NOTIFY_SOCKET": env_socket}
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        if watchdog_pid:
            env["WATCHDOG_PID"] = str(watchdog_pid)
        try:
            with sim("--rate", "20", "--no-limits") as s:
                cfg = config_for(s, d)
                with Agent(cfg, env=env) as a:
                    wait_for(lambda: "READY" in lst.keys(), 20, what="READY=1")
                    wait_for(lambda: read_records(out), 20, what="records")
                    if watchdog_usec and not watchdog_pid:
                        wait_for(lambda: len(lst.having("WATCHDOG")) >= 5, 20,
                                 what="watchdog pings")
                    n_ready = len(lst.having("READY"))
                    a.proc.send_signal(signal.SIGHUP)
                    wait_for(lambda: len(lst.having("READY")) > n_ready, 20,
                             what="READY=1 after the reload")
                    self.assertEqual(a.stop(), 0, a.log()[-3000:])
                    wait_for(lambda: "STOPPING" in lst.keys(), 10, what="STOPPING=1")
        finally:
            lst.close()
        return lst

    def check_sequence(self, lst):
        keys = [k for k in lst.keys() if k != "WATCHDOG"]
        self.assertEqual(lst.having("STATUS")[0][1]["STATUS"], "starting")
        first_ready = keys.index("READY")
        reloading = keys.index("RELOADING")
        self.assertLess(first_ready, reloading)
        self.assertIn("READY", keys[reloading + 1:])
        self.assertEqual(keys[-2:], ["STOPPING", "STATUS"])
        t, msg = lst.having("RELOADING")[0]
        self.assertEqual(msg["RELOADING"], "1")
        # CLOCK_MONOTONIC, as Python's monotonic clock on Linux.
        self.assertLess(abs(int(msg["MONOTONIC_USEC"]) / 1e6 - t), 5)
        statuses = [m["STATUS"] for _, m in lst.having("STATUS")]
        self.assertTrue(any(s.startswith("running: 1 project(s), 1 sink(s)") for s in statuses),
                        statuses)
        self.assertIn("reloading the configuration", statuses)

    def test_path_socket_ready_reload_watchdog_stopping(self):
        path = os.path.join(tmpdir(), "notify.sock")
        lst = self.run_agent(path, path, watchdog_usec=400000)
        self.check_sequence(lst)
        pings = [t for t, _ in lst.having("WATCHDOG")]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        # Every 200 ms; a loaded machine may delay one, never skip half.
        self.assertLess(min(gaps), 0.35, gaps)
        self.assertGreater(min(gaps), 0.1, gaps)

    def test_abstract_socket_and_watchdog_of_another_process(self):
        name = "sinch-logd-test-%d-%d" % (os.getpid(), time.monotonic_ns())
        # WATCHDOG_PID names someone else: the watchdog is not ours to feed.
        lst = self.run_agent("\0" + name, "@" + name, watchdog_usec=400000, watchdog_pid=1)
        self.check_sequence(lst)
        self.assertEqual(lst.having("WATCHDOG"), [])


if __name__ == "__main__":
    main()
