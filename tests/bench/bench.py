#!/usr/bin/env python3
"""Throughput and CPU cost of the agent, one row per way of delivering, in
one run against one simulator (never a test: CTest label `bench`, target
`cmake --build build --target bench`; tests/run-all.sh skips it).

The simulator first generates the events (3 functions, EVENTS in all) and
keeps them; each row then starts a fresh agent (its own state directory)
with an initial_lookback covering them, so every stream replays the whole
history at full speed. The row ends when the simulator has sent every event and every record
is in the file or the topic (for the null sink: when the agent's CPU time
stops moving); the agent is then stopped with SIGTERM, so its drain (fsync,
delivery reports) is part of the time. Per row:

  records     records the agent made (its streams' summaries)
  rec/s       records / wall time from start to exit, less the idle wait
  cpu s       user + system CPU of the agent process (getrusage)
  cpu s/M     CPU seconds per million records
  peak RSS MB the agent's VmHWM; peak anon MB: its largest RssAnon, sampled
              every 50 ms

Rows: `null` (the agent alone: parse, normalize, route), `file` (JSON
lines, fsync = interval), `kafka` (the test broker: librdkafka's mock
cluster, 3 brokers on loopback, zstd). Each row checks that every record
arrived. A row is a class with sinks() (its [sink] sections), delivered()
and verify(); to add one, append to ROWS.

    tests/bench/bench.py [--events N] [--rows kafka,file,null] [--json PATH]
"""

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from harness import BIN_DIR, get_json, sim, tmpdir, wait_for  # noqa: E402
from agentlib import agent_bin, count_lines, config_for  # noqa: E402
from kafkalib import KafkaBroker, TOPIC, kafka_sink, read_topic, topic_count  # noqa: E402

FUNCTIONS = 3
CLK_TCK = os.sysconf("SC_CLK_TCK")


class NullRow:
    name = "null"
    desc = "null sink (parse, normalize, route)"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def sinks(self, d):
        return "[sink out]\ntype = null\n"

    def delivered(self, d):
        """Records delivered so far, or None when only the agent going idle
        tells (the null sink acknowledges at once)."""
        return None

    def verify(self, d, records):
        return None


class FileRow(NullRow):
    name = "file"
    desc = "file sink, fsync = interval"

    def __enter__(self):
        self.lines, self.offset = 0, 0
        return self

    def sinks(self, d):
        return "[sink out]\ntype = file\npath = %s/out.jsonl\n" % d

    def delivered(self, d):
        # Written, not yet fsynced: the drain at SIGTERM syncs, within the time.
        try:
            with open(os.path.join(d, "out.jsonl"), "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return 0
        self.offset += len(chunk)
        self.lines += chunk.count(b"\n")
        return self.lines

    def verify(self, d, records):
        n = count_lines(os.path.join(d, "out.jsonl"))
        return None if n == records else "%d lines for %d records" % (n, records)


class KafkaRow(NullRow):
    name = "kafka"
    desc = "kafka sink, zstd, test broker (3 mock brokers)"

    def __enter__(self):
        self.kb = KafkaBroker().start()
        self.kb.command("topic %s 3" % TOPIC)
        return self

    def __exit__(self, *exc):
        self.kb.stop()
        return False

    def sinks(self, d):
        return kafka_sink(self.kb.bootstrap, extra="compression = zstd\n")

    def delivered(self, d):
        return topic_count(self.kb.bootstrap)

    def verify(self, d, records):
        n = len(read_topic(self.kb.bootstrap, timeout_ms=20000))
        return None if n == records else "%d messages for %d records" % (n, records)


ROWS = {r.name: r for r in (KafkaRow, FileRow, NullRow)}


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def status_kb(pid, field):
    """A kB field of /proc/PID/status (RssAnon, VmHWM), or 0."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def sim_sent(url):
    """Events the simulator has sent on all streams so far, repeats included."""
    return get_json(url + "/_sim/stats", timeout=60)["streams"]["eventsSent"]


def run_row(row, s, total):
    """One agent run replaying every event through row's sinks."""
    d = tmpdir(prefix="sinch-bench-")
    # config_for's initial_lookback (10m) covers the generated history.
    cfg = config_for(s, d, sinks=row.sinks(d), agent_extra="shutdown_timeout = 60s\n")
    log_path = os.path.join(d, "agent.log")
    sent0 = sim_sent(s.url)
    with open(log_path, "wb") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen([agent_bin(), "-c", cfg], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=log)
        peak_anon = 0
        last_ticks, last_change, done_at, sent = -1, t0, None, 0
        # Every event sent, then every record delivered (or, for a sink
        # that shows nothing, the agent idle for 300 ms): done.
        while done_at is None:
            time.sleep(0.05)
            if proc.poll() is not None:
                raise RuntimeError("agent exited early:\n" + open(log_path).read()[-3000:])
            peak_anon = max(peak_anon, status_kb(proc.pid, "RssAnon"))
            ticks = cpu_ticks(proc.pid)
            now = time.monotonic()
            if ticks != last_ticks:
                last_ticks, last_change = ticks, now
            if sent < total:
                sent = sim_sent(s.url) - sent0
                continue
            n = row.delivered(d)
            if n is None and now - last_change > 0.3:
                done_at = last_change
            elif n is not None and n >= total:
                done_at = time.monotonic()
        # Not ru_maxrss: a child's counts the forking Python's pages too.
        hwm = status_kb(proc.pid, "VmHWM")
        t_stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, status, ru = os.wait4(proc.pid, 0)
        t_exit = time.monotonic()
    with open(log_path) as f:
        text = f.read()
    if status != 0:
        raise RuntimeError("agent exit status %d:\n%s" % (status, text[-3000:]))
    records = sum(int(n) for n in re.findall(r"\d+ events: (\d+) records", text))
    wall = (done_at - t0) + (t_exit - t_stop)
    cpu = ru.ru_utime + ru.ru_stime
    problem = row.verify(d, records)
    return {"row": row.name, "desc": row.desc, "records": records, "wall_s": round(wall, 3),
            "records_per_s": round(records / wall), "cpu_s": round(cpu, 3),
            "cpu_s_per_million": round(cpu / records * 1e6, 2),
            "peak_rss_mb": round(hwm / 1024, 1), "peak_anon_mb": round(peak_anon / 1024, 1),
            "complete": records == total and problem is None, "problem": problem}


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def table(results):
    head = ("row", "records", "rec/s", "cpu s", "cpu s/M", "peak RSS MB", "peak anon MB")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in results:
        lines.append("| %s | %d | %d | %.2f | %.2f | %.1f | %.1f |%s" % (
            r["row"], r["records"], r["records_per_s"], r["cpu_s"], r["cpu_s_per_million"],
            r["peak_rss_mb"], r["peak_anon_mb"], "" if r["complete"] else
            "  INCOMPLETE: %s" % (r["problem"] or "records missing")))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=150000, help="events in all (default 150000)")
    ap.add_argument("--rows", default="kafka,file,null", help="rows to run, in order")
    ap.add_argument("--json", help="also write the results here as JSON")
    args = ap.parse_args()
    rows = [ROWS[n.strip()] for n in args.rows.split(",") if n.strip()]
    per_fn = args.events // FUNCTIONS
    total = per_fn * FUNCTIONS
    results = []
    print("generating %d events in the simulator..." % total, flush=True)
    with sim("--total", per_fn, "--rate", "10000", "--no-limits", "--replay-horizon", "86400",
             "--oracle-cap", "0", "--heartbeat", "0", "--seed", "1") as s:
        wait_for(lambda: all(f["generated"] >= per_fn for f in
                             get_json(s.url + "/_sim/stats", timeout=60)["functions"]),
                 600, interval=1, what="the events generated")
        for cls in rows:
            with cls() as row:
                r = run_row(row, s, total)
            print("%-6s %d records, %d rec/s, %.2f CPU s per million" % (
                r["row"], r["records"], r["records_per_s"], r["cpu_s_per_million"]), flush=True)
            results.append(r)
    out = {"machine": "%s, %d cores, %s" % (cpu_model(), os.cpu_count(), platform.platform()),
           "events": total, "bin_dir": BIN_DIR, "rows": results}
    print()
    print(out["machine"])
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0 if all(r["complete"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
