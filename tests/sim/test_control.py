"""sinch-fn-sim: functions added, removed and given a status at run time
(/_sim/functions), and the faults on the control plane: api-status (list,
status, logs, metrics, costs, billing), forbid (every request about one
function) and token-status (the token endpoint)."""

import unittest

from harness import (get_json, get_token, http_get, http_request, main, raw_get, sim,
                     sim_fault, sim_fn_url, sim_stats, token_request, wait_for)

P = "/v1/projects/demo-project"


def ctl(sim_url, query):
    status, _, body = http_request("POST", sim_url + "/_sim/functions?" + query)
    return status, body


class Control(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = sim("--rate", "50", "--heartbeat", "0", "--no-limits").start()
        cls.tok = get_token(cls.sim.url)

    @classmethod
    def tearDownClass(cls):
        cls.sim.check_stop()

    def setUp(self):
        self.assertEqual(sim_fault(self.sim.url, "clear=1"), 200)

    def names(self):
        return [f["name"] for f in get_json(self.sim.url + P + "/functions", self.tok)["functions"]]

    def test_add_and_remove(self):
        status, body = ctl(self.sim.url, "add=pager-relay")
        self.assertEqual(status, 200, body)
        self.assertIn("pager-relay", self.names())
        # It generates requests from now on, like the others.
        wait_for(lambda: [f for f in sim_stats(self.sim.url)["functions"]
                          if f["name"] == "pager-relay" and f["generated"] >= 5], 10,
                 what="requests of the added function")
        self.assertEqual(ctl(self.sim.url, "add=pager-relay")[0], 400)  # name taken
        url = sim_fn_url(self.sim.url, "pager-relay", "/logs/stream")
        status, _, _, closed = raw_get(url, self.tok, timeout=0.3)
        self.assertEqual(status, 200)
        self.assertEqual(ctl(self.sim.url, "remove=pager-relay")[0], 200)
        self.assertNotIn("pager-relay", self.names())
        self.assertEqual(http_get(sim_fn_url(self.sim.url, "pager-relay", "/status"),
                                  self.tok)[0], 404)
        gone = [f for f in sim_stats(self.sim.url)["functions"] if f["name"] == "pager-relay"]
        self.assertTrue(gone[0]["deleted"])
        generated = gone[0]["generated"]
        # The oracle still answers for it; it generates nothing more.
        body = get_json(self.sim.url + "/_sim/events?function=pager-relay")
        self.assertEqual(body["count"], generated)
        self.assertEqual(ctl(self.sim.url, "remove=pager-relay")[0], 400)

    def test_removing_ends_its_streams(self):
        ctl(self.sim.url, "add=short-lived")
        url = sim_fn_url(self.sim.url, "short-lived", "/logs/stream")

        def remove_soon(body):
            if not getattr(remove_soon, "done", False):
                remove_soon.done = True
                ctl(self.sim.url, "remove=short-lived")
            return False
        _, _, _, closed = raw_get(url, self.tok, timeout=5, until=remove_soon)
        self.assertTrue(closed, "the stream of a removed function stays open")

    def test_set_status(self):
        fid = get_json(self.sim.url + P + "/functions", self.tok)["functions"][1]["id"]
        status, body = ctl(self.sim.url, "set=%s&status=Failed&error=build%%20failed" % fid)
        self.assertEqual(status, 200, body)
        st = get_json(sim_fn_url(self.sim.url, fid, "/status"), self.tok)
        self.assertEqual((st["status"], st["error"]), ("Failed", "build failed"))
        listed = [f for f in get_json(self.sim.url + P + "/functions", self.tok)["functions"]
                  if f["id"] == fid]
        self.assertEqual(listed[0]["status"], "Failed")
        ctl(self.sim.url, "set=%s&status=Running" % fid)
        st = get_json(sim_fn_url(self.sim.url, fid, "/status"), self.tok)
        self.assertEqual((st["status"], st["error"]), ("Running", None))
        self.assertEqual(ctl(self.sim.url, "set=%s&status=Sleeping" % fid)[0], 400)
        self.assertEqual(ctl(self.sim.url, "set=nope&status=Running")[0], 400)

    def test_api_status_fault(self):
        sim_fault(self.sim.url, "api-status=503:2")
        url = self.sim.url + P + "/functions"
        for _ in range(2):
            status, headers, _ = http_get(url, self.tok)
            self.assertEqual((status, headers["Retry-After"]), (503, "1"))
        self.assertEqual(http_get(url, self.tok)[0], 200)
        sim_fault(self.sim.url, "api-status=401:1")
        status, headers, _ = http_get(url, self.tok)
        self.assertEqual(status, 401)
        self.assertIn("token expired", headers["WWW-Authenticate"])
        self.assertEqual(sim_stats(self.sim.url)["faultsApplied"]["api-status"], 3)

    def test_forbid_fault(self):
        fns = get_json(self.sim.url + P + "/functions", self.tok)["functions"]
        sim_fault(self.sim.url, "forbid=" + fns[0]["name"])
        for suffix in ("/status", "/logs", "/metrics", "/logs/stream"):
            self.assertEqual(http_get(sim_fn_url(self.sim.url, fns[0]["id"], suffix),
                                      self.tok)[0], 403, suffix)
        self.assertEqual(http_get(sim_fn_url(self.sim.url, fns[1]["id"], "/status"),
                                  self.tok)[0], 200)
        self.assertEqual(http_get(self.sim.url + P + "/functions", self.tok)[0], 200)

    def test_token_status_fault(self):
        sim_fault(self.sim.url, "token-status=429:2")
        for _ in range(2):
            status, _ = token_request(self.sim.url)
            self.assertEqual(status, 429)
        self.assertEqual(token_request(self.sim.url)[0], 200)


if __name__ == "__main__":
    main()
