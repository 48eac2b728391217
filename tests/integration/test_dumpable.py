"""The agent holds secrets and customers' records in memory: it makes itself
not dumpable (no core file, no ptrace or /proc/PID/mem by its own user)
unless [agent] allow_core_dumps = true, which a reload can switch. The
kernel shows it in /proc/PID's ownership: the files of a process that is not
dumpable belong to root, whoever runs it, so the agent runs here as nobody."""

import os
import pwd
import shutil
import signal
import unittest

from harness import main, sim, wait_for
from agentlib import Agent, VALGRIND, config_for, read_records, tmpdir


def proc_owner(pid):
    return os.stat("/proc/%d/status" % pid).st_uid


@unittest.skipIf(os.geteuid() != 0 or not shutil.which("setpriv"),
                 "needs root and setpriv to run the agent as another user")
@unittest.skipIf(VALGRIND, "valgrind runs the agent as a child of its own")
class Dumpable(unittest.TestCase):
    def run_as_nobody(self, agent_extra):
        nobody = pwd.getpwnam("nobody")
        d = tmpdir()
        os.chmod(d, 0o777)
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "20", "--no-limits") as s:
            cfg = config_for(s, d, agent_extra=agent_extra)
            os.chmod(cfg, 0o644)
            setpriv = ["--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
                       "--clear-groups", "--"]
            with Agent(cfg, prefix=["setpriv"] + setpriv) as a:
                wait_for(lambda: read_records(out), 20, what="records")
                owner = proc_owner(a.proc.pid)
                with open(cfg) as f:
                    text = f.read()
                flipped = (text.replace("allow_core_dumps = true", "allow_core_dumps = false")
                           if "allow_core_dumps = true" in text else
                           text.replace("[agent]\n", "[agent]\nallow_core_dumps = true\n"))
                with open(cfg, "w") as f:
                    f.write(flipped)
                a.proc.send_signal(signal.SIGHUP)
                wait_for(lambda: "reload complete" in a.log(), 20, what="reload")
                after = proc_owner(a.proc.pid)
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
        return nobody.pw_uid, owner, after

    def test_not_dumpable_by_default(self):
        uid, owner, after = self.run_as_nobody("")
        self.assertEqual(owner, 0, "not dumpable: /proc/PID belongs to root")
        self.assertEqual(after, uid, "allow_core_dumps = true applied by a reload")

    def test_allow_core_dumps(self):
        uid, owner, after = self.run_as_nobody("allow_core_dumps = true\n")
        self.assertEqual(owner, uid, "dumpable: /proc/PID belongs to the agent's user")
        self.assertEqual(after, 0, "switched off again by a reload")


if __name__ == "__main__":
    main()
