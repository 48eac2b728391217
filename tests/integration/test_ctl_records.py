"""Control-plane records against the simulator: a status record at the
first observation and exactly one per change (old and new status, the
error text; Failed and Stopped are level error); metrics records carry the
simulator's own numbers; cost records its costs and bill; and sinks select
them by kinds, min_level and match."""

import os
import time
import unittest

from harness import get_json, get_token, http_request, main, sim, sim_fn_url, sim_stats, wait_for
from agentlib import Agent, config_for, read_records, tmpdir

TOTAL = 60
CONF = ("status_interval = 200ms\nmetrics_interval = 500ms\ncost_records = true\n"
        "cost_interval = 1s\n")


def sinks(d):
    return ("[sink all]\ntype = file\npath = %s/all.jsonl\nfsync_interval = 100ms\n"
            "[sink alerts]\ntype = file\npath = %s/alerts.jsonl\nfsync_interval = 100ms\n"
            "kinds = status\nmin_level = error\n"
            "[sink ivr]\ntype = file\npath = %s/ivr.jsonl\nfsync_interval = 100ms\n"
            "kinds = status, metrics\nmatch = ivr-*\n" % (d, d, d))


def of(path, kind, fn=None):
    return [r for r in read_records(path)
            if r["kind"] == kind and (fn is None or r.get("function_name") == fn)]


class Records(unittest.TestCase):
    def test_status_metrics_cost_records(self):
        d = tmpdir()
        all_ = os.path.join(d, "all.jsonl")
        with sim("--total", TOTAL, "--rate", "100", "--no-limits") as s:
            tok = get_token(s.url)
            wait_for(lambda: all(f["generated"] >= TOTAL for f in sim_stats(s.url)["functions"]),
                     20, what="every event generated")
            cfg = config_for(s, d, sinks=sinks(d), project_extra=CONF, control=True)
            with Agent(cfg) as a:
                wait_for(lambda: len(of(all_, "status")) == 3, 20, what="a first status each")
                for r in of(all_, "status"):
                    self.assertEqual((r["function_status"], r["previous_status"], r["level"]),
                                     ("Running", None, "info"))
                http_request("POST", s.url + "/_sim/functions?set=sms-webhook&status=Failed"
                             "&error=build%20failed%3A%20exit%201")
                wait_for(lambda: len(of(all_, "status", "sms-webhook")) == 2, 20,
                         what="the change to Failed")
                # Several more polls see Failed again: no more records.
                polls = sim_stats(s.url)["requests"]["api"]
                wait_for(lambda: sim_stats(s.url)["requests"]["api"] > polls + 12, 20,
                         what="more status polls")
                http_request("POST", s.url + "/_sim/functions?set=sms-webhook&status=Running")
                wait_for(lambda: len(of(all_, "status", "sms-webhook")) == 3, 20,
                         what="the change back to Running")
                # Metrics and costs: the simulator's numbers, read now that
                # generation has ended.
                wait_for(lambda: len(of(all_, "metrics")) >= 6 and len(of(all_, "cost")) >= 8,
                         20, what="metrics and cost records")
                fid = [f["id"] for f in sim_stats(s.url)["functions"]
                       if f["name"] == "ivr-handler"][0]
                metrics = get_json(sim_fn_url(s.url, fid, "/metrics?timeRange=1h"), tok)
                costs = get_json(sim_fn_url(s.url, fid, "/costs?period=month"), tok)
                bill = get_json(s.url + "/v1/projects/demo-project/billing/current", tok)
                self.assertEqual(a.stop(), 0)
        changes = of(all_, "status", "sms-webhook")
        self.assertEqual([(r["previous_status"], r["function_status"], r["level"], r["error"])
                          for r in changes],
                         [(None, "Running", "info", None),
                          ("Running", "Failed", "error", "build failed: exit 1"),
                          ("Failed", "Running", "info", None)])
        self.assertEqual(changes[1]["message"],
                         "status changed from Running to Failed: build failed: exit 1")
        for name in ("ivr-handler", "callback-router"):
            self.assertEqual(len(of(all_, "status", name)), 1, name)
        # The alerting sink got exactly the one error.
        alerts = read_records(os.path.join(d, "alerts.jsonl"))
        self.assertEqual([(r["kind"], r["function_name"], r["function_status"]) for r in alerts],
                         [("status", "sms-webhook", "Failed")])
        # match = ivr-*, kinds = status, metrics.
        ivr = read_records(os.path.join(d, "ivr.jsonl"))
        self.assertEqual(set((r["kind"], r["function_name"]) for r in ivr),
                         {("status", "ivr-handler"), ("metrics", "ivr-handler")})
        m = of(all_, "metrics", "ivr-handler")[-1]
        self.assertEqual(m["time_range"], "1h")
        self.assertEqual(m["summary"], metrics["summary"])
        self.assertEqual(m["summary"]["totalRequests"], TOTAL)
        for series in ("responseTimeSeries", "requestVolumeSeries", "errorRateSeries"):
            latest = dict(m["latest"][series])
            want = dict(metrics[series][-1])
            latest.pop("timestamp")
            want.pop("timestamp")
            self.assertEqual(latest, want, series)
        c = [r for r in of(all_, "cost", "ivr-handler")][-1]
        self.assertEqual(c["cost"], costs)
        b = [r for r in of(all_, "cost") if r["function_id"] is None][-1]
        self.assertEqual(b["billing"]["totalCost"], bill["totalCost"])
        self.assertNotIn("function_name", b)


if __name__ == "__main__":
    main()
