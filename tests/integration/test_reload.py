"""SIGHUP reloads the configuration by difference: a sink whose section
changed is replaced without losing a record (even one it could not deliver),
the other sinks keep their file handles, a project whose section changed
restarts from its checkpoint, a secret file rewritten is read again, a
configuration that fails validation is rejected with the old one kept
running, and the output files are reopened whatever the configuration says
(logrotate's postrotate)."""

import collections
import os
import signal
import unittest

from harness import main, sim, sim_stats, wait_for
from agentlib import Agent, config_for, oracle_ids, read_records, tmpdir
from httpsinklib import fault, got, receiver, sink, state


def file_sink(name, path):
    return "[sink %s]\ntype = file\npath = %s\nfsync_interval = 100ms\n" % (name, path)


def fds_to(pid, path):
    """The descriptor numbers of process pid open on path."""
    out = set()
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            if os.readlink(os.path.join(d, fd)) == path:
                out.add(int(fd))
        except OSError:
            pass
    return out


def all_ids(url):
    return set(i for ids in oracle_ids(url).values() for i in ids)


def generated(url, total):
    return all(f["generated"] >= total for f in sim_stats(url)["functions"])


def ids_in(*paths):
    c = collections.Counter()
    for p in paths:
        c.update(r["id"] for r in read_records(p))
    return c


def hup(agent, what):
    """SIGHUP, then waits for the agent to say the reload is over."""
    before = agent.log().count(what)
    agent.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: agent.log().count(what) > before, 30, what=what)


class Reload(unittest.TestCase):
    def test_changed_sink_restarts_alone_and_loses_nothing(self):
        d = tmpdir()
        a_path, b_path, b2_path = (os.path.join(d, n) for n in ("a.jsonl", "b.jsonl", "b2.jsonl"))
        total = 800
        with sim("--total", str(total), "--rate", "150", "--no-limits") as s:
            cfg = config_for(s, d, sinks=file_sink("a", a_path) + file_sink("b", b_path))
            with Agent(cfg) as a:
                wait_for(lambda: len(read_records(b_path)) > 300, 30, what="first records")
                a_fds = fds_to(a.proc.pid, a_path)
                self.assertTrue(a_fds, "sink a has its file open")
                # Only b changes (its path, and the order of a's lines,
                # which is no change).
                config_for(s, d, sinks="[sink a]\nfsync_interval = 100ms\npath = %s\n"
                           "type = file\n" % a_path + file_sink("b", b2_path))
                hup(a, "reload complete")
                self.assertEqual(fds_to(a.proc.pid, a_path), a_fds,
                                 "the unchanged sink kept its file handle")
                wait_for(lambda: generated(s.url, total), 60, what="every event generated")
                want = all_ids(s.url)
                wait_for(lambda: want <= set(ids_in(a_path)) and
                         want <= set(ids_in(b_path, b2_path)), 60, what="every event delivered")
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
                log = a.log()
        self.assertIn("[sink b] configuration changed", log)
        self.assertNotIn("[sink a] configuration changed", log)
        self.assertIn("reload complete: 1 sink(s) and 0 project(s)", log)
        self.assertGreater(len(read_records(b2_path)), 0, "the new sink wrote")
        # A file sink acknowledges all it holds when flushed: nothing twice.
        for paths in ((a_path,), (b_path, b2_path)):
            dup = [i for i, n in ids_in(*paths).items() if n > 1]
            self.assertEqual(dup, [], paths)

    def test_records_a_replaced_sink_could_not_deliver_go_to_the_new_one(self):
        d = tmpdir()
        total = 300
        with receiver() as rcv, sim("--total", str(total), "--rate", "100",
                                    "--no-limits") as s:
            fault(rcv.url, key="old", status=503, seconds=600)
            cfg = config_for(s, d, sinks=sink("h", rcv.url, "ndjson").replace("/h/", "/old/"),
                             agent_extra="shutdown_timeout = 1s\n")
            with Agent(cfg) as a:
                wait_for(lambda: state(rcv.url)["requests"].get("old", 0) > 3, 30, what="refused batches")
                config_for(s, d, sinks=sink("h", rcv.url, "ndjson").replace("/h/", "/new/"),
                           agent_extra="shutdown_timeout = 1s\n")
                hup(a, "reload complete")
                wait_for(lambda: generated(s.url, total), 60, what="every event generated")
                want = all_ids(s.url)
                wait_for(lambda: want <= set(got(state(rcv.url), "new")), 60,
                         what="every event at the new url")
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
                log = a.log()
            st = state(rcv.url)
        self.assertEqual(got(st, "old"), collections.Counter(), "the old url took nothing")
        self.assertIn("took over", log)
        self.assertEqual(st["errors"], [])

    def test_changed_project_resumes_from_its_checkpoint(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        total = 600
        with sim("--total", str(total), "--rate", "100", "--no-limits") as s:
            cfg = config_for(s, d)
            with Agent(cfg) as a:
                wait_for(lambda: len(read_records(out)) > 200, 30, what="first records")
                config_for(s, d, project_extra="labels = env=reloaded\n")
                hup(a, "reload complete")
                wait_for(lambda: generated(s.url, total), 60, what="every event generated")
                want = all_ids(s.url)
                wait_for(lambda: want <= set(ids_in(out)), 60, what="every event delivered")
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
                log = a.log()
        recs = read_records(out)
        self.assertIn("[project sim] section changed", log)
        self.assertIn("resuming from checkpoint", log)
        self.assertTrue(any(r.get("labels", {}).get("env") == "reloaded" or r.get("env") ==
                            "reloaded" for r in recs), "records made after the reload")
        dup = [i for i, n in ids_in(out).items() if n > 1]
        self.assertEqual(dup, [], "the resume boundary drops what was delivered")

    def test_invalid_config_is_rejected_and_files_are_reopened(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "50", "--no-limits") as s:
            cfg = config_for(s, d)
            with open(cfg) as f:
                good = f.read()
            with Agent(cfg) as a:
                wait_for(lambda: len(read_records(out)) > 20, 30, what="first records")
                # logrotate renames the file, then signals; the new
                # configuration has an unknown key and a changed state_dir.
                os.rename(out, out + ".1")
                with open(cfg, "a") as f:
                    f.write("flush_interval = 1s\n")
                with open(cfg) as f:
                    text = f.read().replace("state_dir = %s/state" % d,
                                            "state_dir = %s/other" % d)
                with open(cfg, "w") as f:
                    f.write(text)
                hup(a, "reload rejected")
                wait_for(lambda: len(read_records(out)) > 10, 30, what="records in a new file")
                self.assertTrue(a.alive())
                # The old configuration still runs; a good one is taken again.
                with open(cfg, "w") as f:
                    f.write(good)
                hup(a, "configuration unchanged")
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
                log = a.log()
        self.assertRegex(log, r"%s:\d+: \[sink out\]: unknown key 'flush_interval'" % cfg)
        self.assertRegex(log, r"%s:\d+: \[agent\]: state_dir cannot change on reload" % cfg)
        ids = ids_in(out + ".1", out)
        self.assertEqual([i for i, n in ids.items() if n > 1], [])

    def test_rewritten_secret_file_is_read_again(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        secret = os.path.join(d, "key_secret")
        with open(secret, "w") as f:
            f.write("not-the-right-one\n")
        with sim("--rate", "50", "--no-limits") as s:
            cfg = config_for(s, d)
            with open(cfg) as f:
                text = f.read().replace("key_secret = demo-secret", "key_secret_file = key_secret")
            with open(cfg, "w") as f:
                f.write(text)
            with Agent(cfg) as a:
                wait_for(lambda: "401" in a.log() or "refused" in a.log(), 30,
                         what="the wrong secret refused")
                self.assertEqual(read_records(out), [])
                with open(secret, "w") as f:
                    f.write("demo-secret\n")
                hup(a, "reload complete")
                wait_for(lambda: len(read_records(out)) > 10, 30, what="records")
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
                log = a.log()
        self.assertIn("[project sim] section changed", log)


if __name__ == "__main__":
    main()
