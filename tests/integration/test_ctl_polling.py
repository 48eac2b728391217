"""More functions than the project may stream: the first max_streams are
streamed, the rest followed by polling historical logs every poll_interval,
with the same records (byte for byte, but for the host), the same
checkpoints (a restart resumes a polled function where it stopped, without
repeats) and the same dedup; the choice is logged."""

import collections
import os
import unittest

from harness import main, sim, sim_hold_streams, sim_stats, wait_for
from agentlib import Agent, config_for, oracle_ids, read_records, tmpdir

TOTAL = 150


def by_id(recs):
    return {r["id"]: r for r in recs if r["kind"] == "request"}


class Polling(unittest.TestCase):
    def test_polled_functions_get_the_same_records_and_resume(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--functions", "7", "--rate", "40", "--total", TOTAL, "--no-limits",
                 "--long-ms", "800") as s:
            extra = "poll_interval = 300ms\nresume_overlap = 5s\n"
            cfg = config_for(s, d, project_extra=extra)
            with Agent(cfg) as a:
                wait_for(lambda: len(read_records(out)) >= 300, 30, what="some records")
                self.assertEqual(a.stop(), 0)
                log = a.log()
            self.assertIn("streaming 5 (ivr-handler, sms-webhook, callback-router, "
                          "number-lookup, voicemail-transcriber); polling 2 every 300 ms "
                          "(conference-bridge, otp-verifier): the API allows 5 concurrent "
                          "streams per project", log)
            self.assertEqual(sim_stats(s.url)["streams"]["peak"], 5)
            # A restart resumes every function, the polled ones too.
            with Agent(cfg) as a:
                wait_for(lambda: all(f["generated"] >= TOTAL
                                     for f in sim_stats(s.url)["functions"]), 30,
                         what="every event generated")
                oracle = oracle_ids(s.url)
                want = set(i for ids in oracle.values() for i in ids)
                wait_for(lambda: want <= set(by_id(read_records(out))), 30,
                         what="every event delivered")
                self.assertEqual(a.stop(), 0)
                log2 = a.log()[len(log):]
            self.assertIn("resuming from checkpoint", log2)
            recs = [r for r in read_records(out) if r["kind"] == "request"]
            dups = [i for i, n in collections.Counter(r["id"] for r in recs).items() if n > 1]
            self.assertEqual(dups, [], "records repeated across a clean restart")
            polled = {f["id"] for f in sim_stats(s.url)["functions"]
                      if f["name"] in ("conference-bridge", "otp-verifier")}
            self.assertEqual(sum(f["sent"] for f in sim_stats(s.url)["functions"]
                                 if f["id"] in polled), 0, "a polled function was streamed")
            # The same history read by streams only gives the same records.
            d2 = tmpdir()
            out2 = os.path.join(d2, "out.jsonl")
            cfg2 = config_for(s, d2, project_extra="max_streams = 7\n")
            with Agent(cfg2) as a:
                wait_for(lambda: want <= set(by_id(read_records(out2))), 30,
                         what="every event streamed")
                self.assertEqual(a.stop(), 0)
        polled_recs = by_id(r for r in recs if r["function_id"] in polled)
        streamed = by_id(read_records(out2))
        self.assertEqual(len(polled_recs), 2 * TOTAL)
        for i, r in polled_recs.items():
            self.assertEqual(r, streamed[i])


    def test_streams_taken_elsewhere_are_polled_until_a_slot_frees(self):
        # Another client holds 4 of the project's 5 streams: of the agent's
        # 3 streams, the server refuses 2 (429); those functions are polled
        # (nothing is missed) and streamed again once the slots are free.
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "20", "--heartbeat", "0", "--long-ms", "800") as s:
            held = sim_hold_streams(s, "ivr-handler", 4)
            try:
                cfg = config_for(s, d, project_extra="poll_interval = 300ms\n"
                                                     "resume_overlap = 5s\n")
                with Agent(cfg) as a:
                    wait_for(lambda: a.log().count("polling it, streaming again") == 2, 20,
                             what="two streams refused and polled")
                    wait_for(lambda: len(set(r["function_name"] for r in read_records(out)))
                             == 3, 20, what="records of all three functions")
                    for c in held:
                        c.close()
                    held = []
                    wait_for(lambda: sim_stats(s.url)["streams"]["current"] == 3, 20,
                             what="all three streamed again")
                    self.assertEqual(a.log().count("a stream slot is free"), 2)
                    oracle = oracle_ids(s.url)
                    want = set(i for ids in oracle.values() for i in ids)
                    wait_for(lambda: want <= set(by_id(read_records(out))), 30,
                             what="every event delivered")
                    self.assertEqual(a.stop(), 0)
            finally:
                for c in held:
                    c.close()
        recs = [r for r in read_records(out) if r["kind"] == "request"]
        self.assertEqual(len(recs), len(set(r["id"] for r in recs)))


if __name__ == "__main__":
    main()
