"""A collector that refuses the sink (401, 404: a rotated token, a wrong
url) or is gone (503 for good) takes the sink down: it says so loudly,
dead-letters nothing, holds its records within its queue bounds (the streams
pause, the agent's memory stays flat) and delivers everything once the
collector is back. Stopped while the collector is down, the agent drains
for shutdown_timeout, exits, and sends what was not acknowledged at its
next start."""

import time

from harness import main, sim, sim_wait_generated, tmpdir, wait_for
from agentlib import Agent, config_for, oracle_ids
from httpsinklib import HttpCase, clear_faults, dead_letters, fault, got, receiver, sink, state


class Down(HttpCase):
    def test_refused_then_back_bounded_memory(self):
        total = 5000
        with receiver() as rcv:
            u = rcv.url
            bounds = "queue_max_records = 300\nqueue_max_bytes = 512K\nbatch_max_records = 100\n"
            sinks = (sink("auth", u, "ndjson", bounds + "auth = bearer\ntoken = rotated-token\n") +
                     sink("gone", u, "loki", bounds))

            def prepare(ids):
                fault(u, key="auth", status=401, seconds=4, body={"error": "token expired"})
                fault(u, key="gone", status=404, seconds=4)

            def want(st, oracle, d, a):
                return all(oracle <= set(got(st, n)) for n in ("auth", "gone"))

            st, oracle, log, d = self.run_agent(
                rcv, sinks, total, want, prepare=prepare, timeout=120,
                sim_args=("--rate", "2000", "--long-ms", "200",
                          "--stream-buffer-max", "33554432"),
                project_extra="resume_overlap = 2s\n", args=["--log-level", "debug"],
                secrets=("rotated-token",),
                # 15,000 records of ~1 KB would need ~15 MB if they were all
                # held; the bounds keep the agent near its idle size.
                rss_limit_kb=12 * 1024)
        self.assert_clean(st)
        self.assertEqual(len(oracle), 3 * total)
        for n in ("auth", "gone"):
            self.assertEqual(max(got(st, n).values()), 1, n + ": duplicates")
            self.assertEqual(dead_letters(d, n), [], n)
        self.assertGreater(st["statuses"]["auth"]["401"], 2)
        self.assertIn("[sink auth] http://127.0.0.1:%d/auth/ndjson answered 401: "
                      "{\"error\": \"token expired\"}: the collector refuses this sink" % rcv.port,
                      log)
        self.assertIn("error [sink gone]", log)
        self.assertIn("the sink is down", log)
        self.assertIn("queue full", log)
        self.assertIn("resuming intake", log)
        self.assertIn("[sink auth] the collector accepts again", log)

    def test_stop_while_down_replays_at_next_start(self):
        d = tmpdir()
        with receiver() as rcv, sim("--total", "50", "--no-limits", "--rate", "200") as s:
            u = rcv.url
            sim_wait_generated(s.url, 50)
            oracle = set(i for ids in oracle_ids(s.url).values() for i in ids)
            fault(u, key="out", status=503, seconds=600)
            cfg = config_for(s, d, sinks=sink("out", u, "splunk_hec"),
                             agent_extra="shutdown_timeout = 1s\n")
            with Agent(cfg) as a:
                wait_for(lambda: state(u)["statuses"].get("out", {}).get("503", 0) >= 3, 20,
                         what="the agent retrying")
                t0 = time.monotonic()
                self.assertEqual(a.stop(), 0, a.log()[-3000:])
                took = time.monotonic() - t0
                log = a.log()
            self.assertLess(took, 8, "the drain outlasted shutdown_timeout")
            self.assertIn("150 record(s) not acknowledged by the sinks in time; they are read "
                          "again at the next start", log)
            self.assertEqual(got(state(u), "out"), {})
            clear_faults(u)
            with Agent(cfg, log_name="agent2.log") as a:
                wait_for(lambda: oracle <= set(got(state(u), "out")), 30,
                         what="replayed records at the collector")
                self.assertEqual(a.stop(), 0)
            self.assertEqual(max(got(state(u), "out").values()), 1)
        self.assertEqual(dead_letters(d, "out"), [])


if __name__ == "__main__":
    main()
