"""Helpers to run sinch-logd in tests: write a config against a simulator,
start the agent, read its output, kill or stop it. Standard library only.

    with sim("--total", "100") as s, Agent(config_for(s, d)) as a:
        wait_for(lambda: count_lines(out) >= 300)
"""

import glob
import json
import os
import re
import signal
import subprocess
import time

from harness import BIN_DIR, tmpdir, wait_for, get_json  # noqa: F401


def agent_bin():
    return os.path.join(BIN_DIR, "sinch-logd")


def config_for(sim_server, workdir, sinks=None, project_extra="", agent_extra="",
               control=False):
    """A configuration reading every function of the simulator into
    workdir/out.jsonl (or the given sink sections). Returns its path.
    Status and metrics records are off unless `control` (project_extra then
    sets their intervals)."""
    if not control:
        project_extra = "status_interval = 0\nmetrics_interval = 0\n" + project_extra
    if sinks is None:
        sinks = ("[sink out]\ntype = file\npath = %s/out.jsonl\n"
                 "fsync_interval = 100ms\n" % workdir)
    text = ("[agent]\nstate_dir = %s/state\ncheckpoint_interval = 200ms\n%s\n"
            "[project sim]\napi_url = %s\ntoken_url = %s/oauth2/token\n"
            "project_id = demo-project\nkey_id = demo-key\nkey_secret = demo-secret\n"
            "backoff_base = 100ms\nbackoff_max = 2s\ninitial_lookback = 10m\n%s\n%s"
            % (workdir, agent_extra, sim_server.url, sim_server.url, project_extra, sinks))
    path = os.path.join(workdir, "agent.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


# What no output of the agent may ever contain: the test credentials every
# configuration here uses, any JWT (the simulator's tokens are JWTs: a
# base64url JSON header starts "eyJ") and any bearer credential.
SECRET_PATTERNS = [re.compile(p) for p in (
    r"demo-secret", r"very-secret-value", r"t0k3n", r"eyJ[A-Za-z0-9_-]{8,}",
    r"(?i)bearer\s+[A-Za-z0-9._~+/-]{8,}", r"(?i)authorization:\s*\S")]

# Under the sanitizers (and with SINCH_TEST_DEBUG_LOG=1) every agent runs at
# debug level, so the secret scan sees the most talkative log there is.
DEBUG_LOG = os.environ.get("SINCH_SANITIZE") == "1" or os.environ.get("SINCH_TEST_DEBUG_LOG") == "1"


# SINCH_VALGRIND=1 runs every agent under valgrind memcheck (the CTest label
# "valgrind"); a run that ends without an exception fails on any error
# valgrind reports: invalid reads or writes, uses of uninitialized values,
# and, when the agent exited by itself, definite or indirect leaks.
VALGRIND = os.environ.get("SINCH_VALGRIND") == "1"
VALGRIND_ERRORS = re.compile(r"^==\d+== (Invalid (read|write|free)|Conditional jump|Use of uninit"
                             r"|Syscall param|Mismatched free|Source and destination overlap"
                             r"|.*(definitely|indirectly) lost in)", re.M)


def find_secrets(text, extra=()):
    """The secret-looking strings in text (empty when clean)."""
    found = []
    for pat in SECRET_PATTERNS + [re.compile(re.escape(e)) for e in extra if e]:
        m = pat.search(text)
        if m:
            start = text.rfind("\n", 0, m.start()) + 1
            end = text.find("\n", m.end())
            found.append(text[start:end if end >= 0 else len(text)])
    return found


class Agent:
    """sinch-logd -c CONFIG as a child process; stderr goes to a log file.
    Always stopped (SIGKILL as the last resort) on exit. A run that ends
    without an exception fails when the log holds a secret (SECRET_PATTERNS,
    plus `secrets`)."""

    def __init__(self, config, args=(), env=None, log_name="agent.log", secrets=(), prefix=()):
        self.config = config
        self.args = list(args)
        self.prefix = list(prefix)  # a command the agent runs under, e.g. setpriv
        self.env = env
        self.secrets = list(secrets)
        self.log_path = os.path.join(os.path.dirname(config), log_name)
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.pop("SINCH_KEY_SECRET", None)
        if self.env:
            env.update(self.env)
        self._log = open(self.log_path, "ab")
        verbosity = "-vv" if DEBUG_LOG else "-v"
        prefix = []
        if VALGRIND:
            # One file per process: an Agent restarted keeps each run's report.
            self.valgrind_log = self.log_path + ".valgrind.%p"
            prefix = ["valgrind", "--tool=memcheck", "--leak-check=full",
                      "--show-leak-kinds=definite,indirect", "--track-origins=yes",
                      "--num-callers=30", "--log-file=" + self.valgrind_log]
        self.proc = subprocess.Popen(self.prefix + prefix + [agent_bin(), "-c", self.config,
                                                             verbosity] + self.args,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._log, env=env)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout=30):
        """SIGTERM, wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("agent did not stop within %ss" % timeout)
        return self.proc.returncode

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def rss_kb(self, field="VmHWM"):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        if exc_type is None:
            leaked = find_secrets(self.log(), self.secrets)
            if leaked:
                raise AssertionError("the agent's log shows a secret:\n" + "\n".join(leaked))
            if VALGRIND:
                self.check_valgrind()
        return False

    def check_valgrind(self):
        for path in glob.glob(self.log_path + ".valgrind.*"):
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            if VALGRIND_ERRORS.search(text):
                raise AssertionError("valgrind found errors in the agent (%s):\n%s"
                                     % (path, text[-6000:]))


def read_records(path):
    """Every complete JSON line of a JSON-lines file (a torn last line, left
    by a kill, is ignored)."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            out.append(json.loads(line))
    return out


def count_lines(path):
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def oracle_ids(sim_url):
    """{function id: [event ids]} of every real event the simulator finished."""
    stats = get_json(sim_url + "/_sim/stats")
    out = {}
    for fn in stats["functions"]:
        body = get_json("%s/_sim/events?function=%s" % (sim_url, fn["id"]))
        assert body["dropped"] == 0, "oracle capped; raise --oracle-cap"
        out[fn["id"]] = [e["id"] for e in body["events"]]
    return out


def wait_all_delivered(sim_url, path, total, timeout=60):
    """Waits until the simulator finished `total` events per function and
    every one of them is in the output file; returns the records."""
    def done():
        stats = get_json(sim_url + "/_sim/stats")
        if not all(f["generated"] >= total for f in stats["functions"]):
            return None
        want = set(i for ids in oracle_ids(sim_url).values() for i in ids)
        recs = read_records(path)
        got = set(r["id"] for r in recs)
        return recs if want <= got else None
    return wait_for(done, timeout, interval=0.3, what="every event delivered")


def run_with_sim(testcase, sim_args, total, project_extra="", sinks=None, during=None,
                 timeout=60, allow_missing=None, out=None):
    """Runs the simulator (with sim_args, `total` events per function) and an
    agent reading it until every finished event is delivered, then stops the
    agent with SIGTERM and checks it exits 0. `during(sim, agent, workdir)`
    runs while the agent works. Returns (records, agent log, sim stats)."""
    from harness import sim
    d = os.path.dirname(out) if out else tmpdir()
    out = out or os.path.join(d, "out.jsonl")
    with sim("--total", str(total), "--no-limits", *sim_args) as s:
        cfg = config_for(s, d, sinks=sinks, project_extra=project_extra)
        with Agent(cfg) as a:
            if during:
                during(s, a, d)
            if allow_missing is None:
                recs = wait_all_delivered(s.url, out, total, timeout=timeout)
            else:
                recs = allow_missing(s, a, out)
            testcase.assertTrue(a.alive(), "agent died:\n" + a.log()[-3000:])
            status = a.stop()
            log = a.log()
            testcase.assertEqual(status, 0, log[-3000:])
        stats = get_json(s.url + "/_sim/stats")
    return recs, log, stats
