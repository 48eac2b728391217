"""Discovery with functions = *: the list is read again every
discovery_interval; a function added to the project is followed (polled
here, every stream slot being taken), a removed one is let go cleanly (its
records delivered, its checkpoint kept) and its stream slot goes to the
polled function."""

import os
import re
import unittest

from harness import get_json, http_request, main, sim, sim_stats, wait_for
from agentlib import Agent, config_for, read_records, tmpdir

CONF = ("functions = *\ndiscovery_interval = 500ms\nmax_streams = 3\npoll_interval = 300ms\n"
        "resume_overlap = 5s\n")


def ctl(sim_url, query):
    status, _, body = http_request("POST", sim_url + "/_sim/functions?" + query)
    assert status == 200, body
    return body


def names(path, kind="request"):
    return set(r["function_name"] for r in read_records(path) if r["kind"] == kind)


class Discovery(unittest.TestCase):
    def test_added_function_followed_removed_one_let_go(self):
        d = tmpdir()
        out = os.path.join(d, "out.jsonl")
        with sim("--rate", "20", "--no-limits", "--long-ms", "800") as s:
            cfg = config_for(s, d, project_extra=CONF)
            with Agent(cfg) as a:
                wait_for(lambda: len(names(out)) == 3, 20, what="the first three functions")
                ctl(s.url, "add=pager-relay")
                wait_for(lambda: "pager-relay" in names(out), 20,
                         what="records of the added function")
                self.assertRegex(a.log(), r"function pager-relay \(\w+\) added: polling it")
                ctl(s.url, "remove=sms-webhook")
                wait_for(lambda: re.search(r"function sms-webhook \(\w+\) is no longer in the "
                                           r"project: stopped following it", a.log()), 20,
                         what="the removal noticed")
                wait_for(lambda: "a stream slot is free: pager-relay is streamed from now on"
                         in a.log(), 20, what="the free slot given to pager-relay")
                removed = [f for f in sim_stats(s.url)["functions"]
                           if f["name"] == "sms-webhook"][0]
                # Everything it generated before it was removed arrives.
                gone = get_json(s.url + "/_sim/events?function=" + removed["id"])
                want = set(e["id"] for e in gone["events"])
                wait_for(lambda: want <= set(r["id"] for r in read_records(out)), 20,
                         what="the removed function's records")
                wait_for(lambda: "function sms-webhook let go" in a.log(), 20,
                         what="the removed function let go")
                # The added function now streams; 3 streams, never more.
                added = [f for f in sim_stats(s.url)["functions"]
                         if f["name"] == "pager-relay"][0]
                wait_for(lambda: [f for f in sim_stats(s.url)["functions"]
                                  if f["name"] == "pager-relay"][0]["sent"] > 0, 20,
                         what="pager-relay streamed")
                self.assertGreater(added["generated"], 0)
                stats = sim_stats(s.url)
                self.assertLessEqual(stats["streams"]["peak"], 3)
                self.assertEqual(stats["streams"]["current"], 3)
                self.assertTrue(a.alive())
                self.assertEqual(a.stop(), 0)
        ckpts = os.listdir(os.path.join(d, "state"))
        self.assertIn("demo-project-%s.ckpt" % removed["id"], ckpts)
        self.assertIn("demo-project-%s.ckpt" % added["id"], ckpts)
        recs = [r for r in read_records(out) if r["kind"] == "request"]
        self.assertEqual(len(recs), len(set(r["id"] for r in recs)), "duplicates")


if __name__ == "__main__":
    main()
