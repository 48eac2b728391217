"""End to end: the simulator's events reach the file sink exactly as the
delivery guarantee says, across forced disconnects (one mid-event), long
requests spanning a break, shared start times, and a SIGKILL + restart."""

import collections
import glob
import os
import shutil
import struct
import time
import unittest

from harness import sim, sim_fault, sim_stats, wait_for, main
from agentlib import Agent, config_for, oracle_ids, read_records, wait_all_delivered, tmpdir


def fnv1a(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def read_checkpoint(path):
    """(since_ms, overlap_ms, {id hash: start ms}) of a checkpoint file."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n", 6)
    assert lines[0] == b"sinch-logd-checkpoint 2", lines[0]
    since = lines[1].split()[1]
    assert lines[2].startswith(b"origin_ms "), lines[2]
    overlap = int(lines[3].split()[1])
    count = int(lines[5].split()[1])
    body = lines[6][:16 * count]
    ids = {}
    for i in range(count):
        h, start = struct.unpack_from("<Qq", body, 16 * i)
        ids[h] = start
    return (None if since == b"none" else int(since)), overlap, ids


def iso_ms(ts):
    t = time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
    ms = int(ts[20:23]) if len(ts) > 20 and ts[19] == "." else 0
    import calendar
    return calendar.timegm(t) * 1000 + ms


class Delivery(unittest.TestCase):
    def test_disconnects_and_kill_lose_nothing(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        total = 6667  # x 3 functions = 20,001 events
        # The overlap must cover the long requests (no backfill here) and a
        # reconnect replays overlap x rate events, well under drop-every.
        with sim("--functions", "3", "--rate", "400", "--total", str(total),
                 "--long-ms", "1500", "--seed", "42", "--no-limits",
                 "--fault", "drop-every=2500", "--oracle-cap", "20000") as s:
            cfg = config_for(s, d, project_extra="resume_overlap = 3s\n")
            with Agent(cfg) as a:
                # Let a third arrive, force one break in the middle of an event.
                wait_for(lambda: len(read_records(out)) > 3000, 60, what="first records")
                sim_fault(s.url, "cut-mid-event=3")
                wait_for(lambda: sim_stats(s.url)["faultsApplied"]["cut-mid-event"] >= 1,
                         30, what="a cut mid-event")
                sim_fault(s.url, "cut-mid-event=0")
                wait_for(lambda: len(read_records(out)) > 8000, 60, what="more records")
                a.kill()
            kill_ckpts = {}
            for p in glob.glob(os.path.join(d, "state", "*.ckpt")):
                kill_ckpts[os.path.basename(p)] = read_checkpoint(p)
            self.assertEqual(len(kill_ckpts), 3, "one checkpoint per stream")
            at_kill = collections.Counter(r["id"] for r in read_records(out))
            with Agent(cfg, log_name="agent2.log") as a2:
                recs = wait_all_delivered(s.url, out, total, timeout=120)
                self.assertEqual(a2.stop(), 0, a2.log())
            stats = sim_stats(s.url)
            self.assertGreaterEqual(stats["faultsApplied"]["drop-every"], 5)
            oracle = oracle_ids(s.url)

        want = set(i for ids in oracle.values() for i in ids)
        self.assertEqual(len(want), 3 * total)
        counts = collections.Counter(r["id"] for r in recs)
        self.assertEqual(set(counts) - want, set(), "records that the simulator never sent")
        self.assertEqual(want - set(counts), set(), "lost records")
        # Duplicates: only records that were in flight at the kill, i.e. not
        # in the checkpoint's delivered window, and never within one run.
        ckpt_ids = {}
        floors = {}
        for name, (since, overlap, ids) in kill_ckpts.items():
            ckpt_ids.update(ids)
            floors[name] = since - overlap if since is not None else None
        dups = [i for i, n in counts.items() if n > 1]
        for i in dups:
            self.assertLessEqual(counts[i], 2, "id %s delivered %d times" % (i, counts[i]))
            self.assertEqual(at_kill[i], 1, "id %s duplicated within one run" % i)
            self.assertNotIn(fnv1a(i), ckpt_ids,
                             "id %s was checkpointed as delivered, yet repeated" % i)
        # The run covered what makes resuming hard: events sharing one start
        # time, and events arriving out of start order (long requests).
        per_fn_time = collections.Counter((r["function_id"], r["time"]) for r in recs)
        self.assertGreater(sum(1 for n in per_fn_time.values() if n > 1), 10)
        out_of_order = 0
        last = {}
        for r in recs:
            if r["time"] < last.get(r["function_id"], ""):
                out_of_order += 1
            last[r["function_id"]] = max(last.get(r["function_id"], ""), r["time"])
        self.assertGreater(out_of_order, 10)
        # Every record is well-formed and carries its function.
        names = {r["function_id"]: r["function_name"] for r in recs}
        self.assertEqual(set(names), set(oracle))
        for r in recs[:200]:
            self.assertEqual(r["schema"], 1)
            self.assertNotIn("Authorization", r.get("request", {}).get("headers", {}))


if __name__ == "__main__":
    main()
