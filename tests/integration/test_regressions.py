"""Regression tests for bugs found by trying to break the agent."""

import os
import time
import unittest

from harness import main, sim, sim_stats, wait_for
from agentlib import Agent, config_for, read_records, run_with_sim, tmpdir


class Regressions(unittest.TestCase):
    def test_stuck_sink_for_one_function_does_not_stop_others(self):
        # Sink b (sms-*) can never write (/dev/full) and stays full; sink a
        # (ivr-*) must keep receiving after its own brief back-pressure.
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        sinks = ("[sink a]\ntype = file\npath = %s\nfsync_interval = 1s\nmatch = ivr-*\n"
                 "queue_max_records = 50\n"
                 "[sink b]\ntype = file\npath = /dev/full\nmatch = sms-*\n"
                 "queue_max_records = 10\n" % out)
        with sim("--rate", "100", "--functions", "2", "--no-limits") as s:
            with Agent(config_for(s, d, sinks=sinks)) as a:
                wait_for(lambda: len(read_records(out)) > 300, 30,
                         what="ivr-handler records while sms-webhook's sink is stuck")
                a.kill()

    def test_selective_slow_sink_pauses_without_loss(self):
        # Sink errs takes only error records and acknowledges them late, so
        # every other record waits behind them in the stream's ack queue:
        # the stream must pause at max_in_flight, never drop.
        sinks_tmpl = ("[sink all]\ntype = file\npath = {out}\nfsync = never\n"
                      "[sink errs]\ntype = null\nack_delay = 2s\nmin_level = error\n")
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        recs, log, _ = run_with_sim(self, ["--rate", "150", "--functions", "1"], 600,
                                    project_extra="max_in_flight = 100\n",
                                    sinks=sinks_tmpl.format(out=out), out=out)
        self.assertEqual(len(recs), len(set(r["id"] for r in recs)))
        self.assertNotIn("too many records in flight", log)

    def test_duplicate_only_connections_back_off(self):
        # Every connection is dropped before the replay of the overlap
        # window ends: no progress is possible, but the agent must back off
        # rather than reconnect in a storm (backoff_max is 2 s here).
        d = tmpdir()
        with sim("--rate", "20", "--total", "200", "--no-limits", "--functions", "1",
                 "--fault", "drop-every=37") as s:
            with Agent(config_for(s, d)) as a:
                time.sleep(3)
                first = sim_stats(s.url)["requests"]["stream"]
                time.sleep(6)
                later = sim_stats(s.url)["requests"]["stream"] - first
                self.assertTrue(a.alive())
        self.assertLess(later, 20, "%d stream requests in 6 s" % later)

    def test_fifo_output_fails_fast(self):
        d = tmpdir()
        fifo = os.path.join(d, "out.jsonl")
        os.mkfifo(fifo)
        with sim() as s:
            with Agent(config_for(s, d)) as a:
                a.proc.wait(15)
                self.assertEqual(a.proc.returncode, 2)
                self.assertIn("key 'path': cannot open", a.log())

    def test_out_of_range_durations_are_config_errors(self):
        d = tmpdir()
        with sim() as s:
            cfg = config_for(s, d, project_extra="resume_overlap = 9223372036854775807ms\n")
            with Agent(cfg) as a:
                a.proc.wait(15)
                self.assertEqual(a.proc.returncode, 2)
                self.assertIn("resume_overlap must be between 1s and 366d", a.log())

    def test_first_run_records_not_acknowledged_are_read_again(self):
        # A first run whose only slow sink acknowledged nothing before the
        # stop: the next start must read those records again, not skip to
        # live events (the starting point is in the checkpoint at once).
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        sinks = ("[sink slow]\ntype = null\nack_delay = {delay}\n"
                 "[sink out]\ntype = file\npath = %s\nfsync = never\n" % out)
        with sim("--rate", "20", "--functions", "1", "--no-limits") as s:
            cfg = config_for(s, d, sinks=sinks.format(delay="30s"),
                             agent_extra="shutdown_timeout = 1s")
            with open(cfg) as f:
                text = f.read().replace("initial_lookback = 10m", "initial_lookback = 0")
            with open(cfg, "w") as f:
                f.write(text)
            with Agent(cfg) as a:
                wait_for(lambda: len(read_records(out)) >= 20, 30, what="first-run records")
                self.assertEqual(a.stop(), 0)
                self.assertIn("not acknowledged", a.log())
            first = set(r["id"] for r in read_records(out))
            with open(cfg, "w") as f:
                f.write(text.replace("ack_delay = 30s", "ack_delay = 0"))
            os.rename(out, out + ".1")
            with Agent(cfg) as a:
                wait_for(lambda: first <= set(r["id"] for r in read_records(out)), 30,
                         what="the first run's records read again")
                a.stop()

    def test_huge_server_retry_is_capped_at_backoff_max(self):
        # The server asks for a reconnect delay of ~31 years and drops the
        # connection every 100 events (each connection replays about 40 of
        # resume_overlap, so each makes progress): the agent waits at most
        # backoff_max (2 s here) and keeps delivering. Uncapped, it would
        # stop after the first connection's 100 records.
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "40", "--functions", "1", "--no-limits", "--sse-retry",
                 "999999999999", "--fault", "drop-every=100") as s:
            with Agent(config_for(s, d, project_extra="resume_overlap = 1s\n")) as a:
                wait_for(lambda: len(read_records(out)) >= 200, 40,
                         what="records across several server drops")
                self.assertGreaterEqual(sim_stats(s.url)["requests"]["stream"], 3)
                a.stop()

    def test_window_moving_during_a_slow_reconnect_repeats_nothing(self):
        # Each stream response starts 1.5 s after its request, whose since
        # was fixed when it was sent; meanwhile the file sink's fsyncs
        # acknowledge what the previous connection read and move the
        # checkpoint on. The ids the slow connection replays must still be
        # known then: nothing may be delivered twice in one run.
        sinks = ("[sink out]\ntype = file\npath = {out}\nfsync_interval = 1s\n")
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        recs, _, stats = run_with_sim(
            self, ["--rate", "200", "--functions", "1", "--fault", "drop-every=1500",
                   "--fault", "stall=1500", "--long-ms", "300"], 2000,
            project_extra="resume_overlap = 3s\n",
            sinks=sinks.format(out=out), out=out, timeout=90)
        self.assertGreaterEqual(stats["faultsApplied"]["stall"], 2)
        ids = [r["id"] for r in recs]
        self.assertEqual(len(ids), len(set(ids)), "records delivered twice in one run")


if __name__ == "__main__":
    main()
