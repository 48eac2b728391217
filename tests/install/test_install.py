"""Installs the Debian package on this machine (CTest label "install", never
run by tests/run-all.sh: it changes the host), runs the installed agent the
way the unit does (its user, its directories, the configuration readable
through its group) against the simulator, then removes the package (state
and configuration stay) and purges it (nothing stays, the user neither).
Where systemd runs, the unit is started and reloaded through systemctl too.
"""

import grp
import os
import pwd
import shutil
import subprocess
import unittest

from harness import main, sim, tmpdir, wait_for
from agentlib import Agent, read_records
from pkglib import build_package

CONF_DIR = "/etc/sinch-logd"
STATE = "/var/lib/sinch-logd"
LOGS = "/var/log/sinch-logd"


def dpkg(*args):
    r = subprocess.run(["dpkg"] + list(args), capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    assert r.returncode == 0, "dpkg %s:\n%s%s" % (" ".join(args), r.stdout, r.stderr)
    return r.stdout + r.stderr


def installed():
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", "sinch-logd"],
                       capture_output=True, text=True)
    return r.returncode == 0 and "installed" in r.stdout and "not-installed" not in r.stdout


def user_exists():
    try:
        pwd.getpwnam("sinch-logd")
        return True
    except KeyError:
        return False


@unittest.skipIf(os.geteuid() != 0, "installing a package needs root")
class Install(unittest.TestCase):
    def setUp(self):
        if installed() or os.path.exists(CONF_DIR) or user_exists():
            self.skipTest("sinch-logd is installed (or left over) on this machine already")
        self.deb = build_package(tmpdir())

    def tearDown(self):
        if installed() or os.path.exists(CONF_DIR):
            subprocess.run(["dpkg", "--purge", "sinch-logd"], capture_output=True, timeout=300)

    def run_installed_agent(self):
        """The installed binary as user sinch-logd, with a configuration in
        /etc/sinch-logd (0640, group sinch-logd) pointing at the simulator
        and writing to the package's directories."""
        cfg = os.path.join(CONF_DIR, "install-test.conf")
        out = os.path.join(LOGS, "records.jsonl")
        with sim("--rate", "50", "--no-limits") as s:
            with open(cfg, "w") as f:
                f.write("[agent]\nstate_dir = %s\ncheckpoint_interval = 200ms\n"
                        "[project sim]\napi_url = %s\ntoken_url = %s/oauth2/token\n"
                        "project_id = demo-project\nkey_id = demo-key\n"
                        "status_interval = 0\nmetrics_interval = 0\n"
                        "[sink archive]\ntype = file\npath = %s\nfsync_interval = 100ms\n"
                        % (STATE, s.url, s.url, out))
            os.chown(cfg, 0, grp.getgrnam("sinch-logd").gr_gid)
            os.chmod(cfg, 0o640)
            user = pwd.getpwnam("sinch-logd")
            setpriv = ["setpriv", "--reuid=%d" % user.pw_uid, "--regid=%d" % user.pw_gid,
                       "--init-groups", "--"]
            agent = Agent(cfg, prefix=setpriv, env={"SINCH_KEY_SECRET": "demo-secret"})
            agent.log_path = os.path.join(tmpdir(), "agent.log")
            with agent as a:
                wait_for(lambda: len(read_records(out)) > 10, 30, what="records")
                # The package's logrotate snippet, forced: it renames the
                # file, creates a new one and signals the agent (without
                # systemd: the pid in the state directory's lock).
                state = os.path.join(tmpdir(), "logrotate.state")
                r = subprocess.run(["logrotate", "-f", "-s", state, "/etc/logrotate.d/sinch-logd"],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertTrue(os.path.exists(out + ".1"))
                wait_for(lambda: len(read_records(out)) > 5, 30, what="records in a new file")
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
                ids = [r["id"] for r in read_records(out + ".1") + read_records(out)]
                self.assertEqual(len(ids), len(set(ids)), "nothing written twice")
        os.unlink(cfg)
        self.assertTrue(any(n.endswith(".ckpt") for n in os.listdir(STATE)))

    def test_install_run_remove_purge(self):
        dpkg("-i", self.deb)
        self.assertTrue(installed())
        self.assertTrue(user_exists())
        self.assertEqual(shutil.which("sinch-logd"), "/usr/bin/sinch-logd")
        st = os.stat(os.path.join(CONF_DIR, "sinch-logd.conf"))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777),
                         (0, grp.getgrnam("sinch-logd").gr_gid, 0o640))
        for d, mode in ((STATE, 0o700), (LOGS, 0o750)):
            st = os.stat(d)
            self.assertEqual((st.st_uid, st.st_mode & 0o777),
                             (pwd.getpwnam("sinch-logd").pw_uid, mode), d)
        # The shipped configuration, checked as the unit's ExecStartPre does.
        r = subprocess.run(["/usr/bin/sinch-logd", "--check-config", "-c",
                            os.path.join(CONF_DIR, "sinch-logd.conf")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run(["man", "-w", "sinch-logd.conf"], capture_output=True, text=True)
        if shutil.which("man"):
            self.assertEqual(r.returncode, 0, r.stderr)
        self.run_installed_agent()
        # Installing again (an upgrade to the same version) keeps everything.
        dpkg("-i", self.deb)
        dpkg("-r", "sinch-logd")
        self.assertFalse(os.path.exists("/usr/bin/sinch-logd"))
        self.assertTrue(os.path.exists(os.path.join(CONF_DIR, "sinch-logd.conf")),
                        "remove keeps the conffile")
        self.assertTrue(os.path.isdir(STATE), "remove keeps the checkpoints")
        dpkg("--purge", "sinch-logd")
        for path in (CONF_DIR, STATE, LOGS, "/lib/systemd/system/sinch-logd.service",
                     "/etc/logrotate.d/sinch-logd"):
            self.assertFalse(os.path.exists(path), path)
        self.assertFalse(user_exists(), "purge removes the system user")


if __name__ == "__main__":
    main()
