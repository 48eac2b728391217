"""What the collector refuses for good is dead-lettered once, with its
status and the answer's excerpt, and everything else is delivered:

- 413 over a size: batches are split in halves until they fit; a record
  alone still too large goes to the dead-letter file;
- 400 for a batch holding a refused record: that batch is dead-lettered,
  once (the collector does not say which record);
- Elasticsearch bulk answers with errors: only the rejected items are
  dead-lettered, items answered 429 are sent again, the rest acknowledged;
- Splunk HEC "Invalid data format" with invalid-event-number: the events
  before it count as indexed, that event is dead-lettered, the rest sent
  again.

Every event ends up at the collector or in the dead-letter file, never both,
and no refused batch is sent again."""

from harness import main
from httpsinklib import HttpCase, dead_letters, fault, got, receiver, sink

MAX_BODY = 1200  # some of the simulator's records are larger as NDJSON lines


class Reject(HttpCase):
    def test_refused_content_is_dead_lettered_once(self):
        picked = {}
        with receiver() as rcv:
            u = rcv.url

            def prepare(ids):
                # Spread over the run: every 50th event is refused.
                picked["bad"] = ids[7::50]
                picked["retry"] = ids[11::40]
                fault(u, key="big", max_body=MAX_BODY)
                fault(u, key="bad", reject_ids=picked["bad"])
                fault(u, key="es", reject_ids=picked["bad"])
                fault(u, key="es", retry_ids=picked["retry"], count=2)
                fault(u, key="hec", reject_ids=picked["bad"])

            sinks = (sink("big", u, "ndjson", "compression = none\n") +
                     sink("bad", u, "json_array", "batch_max_records = 20\n") +
                     sink("es", u, "elasticsearch_bulk") +
                     sink("hec", u, "splunk_hec"))
            names = ["big", "bad", "es", "hec"]

            def want(st, oracle, d, a):
                return all(oracle <= set(got(st, n)) | {r["record"]["id"] for r in
                                                        dead_letters(d, n)} for n in names)

            st, oracle, log, d = self.run_agent(rcv, sinks, 100, want, prepare=prepare)
        self.assert_clean(st)
        bad = set(picked["bad"])
        self.assertEqual(len(bad), 6)
        for n in names:
            counts = got(st, n)
            dl = dead_letters(d, n)
            dl_ids = [r["record"]["id"] for r in dl]
            self.assertEqual(len(dl_ids), len(set(dl_ids)), n + ": dead-lettered twice")
            self.assertEqual(set(counts) | set(dl_ids), oracle, n)
            self.assertEqual(set(counts) & set(dl_ids), set(), n)
            self.assertEqual(max(counts.values()), 1, n + ": duplicates")

        # 413: split until it fits; what is alone too large is dead-lettered.
        dl = dead_letters(d, "big")
        self.assertTrue(dl, "no record of the simulator is larger than %d bytes" % MAX_BODY)
        for r in dl:
            self.assertGreater(r["size"] + 1, MAX_BODY)  # its NDJSON line
            self.assertIn("too large for the collector", r["reason"])
            self.assertIn("answered 413", r["reason"])
            self.assertEqual(r["sink"], "big")
        self.assertIn("splitting", log)
        # Halving 300 records down to one takes fewer than 2 x 300 requests.
        self.assertLess(st["statuses"]["big"]["413"], 2 * 300)

        # 400: each batch holding a refused record, once, whole.
        dl = dead_letters(d, "bad")
        self.assertLessEqual(bad, {r["record"]["id"] for r in dl})
        self.assertEqual(st["statuses"]["bad"]["400"] * 20 >= len(dl), True)
        self.assertLessEqual(st["statuses"]["bad"]["400"], len(bad))
        for r in dl:
            self.assertIn("/bad/json answered 400: {\"error\": \"record refused\"}", r["reason"])

        # Bulk: exactly the rejected items, with Elasticsearch's reason; the
        # 429 items went again and arrived once.
        dl = dead_letters(d, "es")
        self.assertEqual({r["record"]["id"] for r in dl}, bad)
        for r in dl:
            self.assertIn("status 400: mapper_parsing_exception: failed to parse field [status]",
                          r["reason"])
        for i in picked["retry"]:
            self.assertEqual(got(st, "es")[i], 1, i)
        self.assertIn("items to retry", log)

        # HEC: exactly the invalid events.
        dl = dead_letters(d, "hec")
        self.assertEqual({r["record"]["id"] for r in dl}, bad)
        for r in dl:
            self.assertIn("answered 400", r["reason"])
            self.assertIn("(HEC code 6)", r["reason"])


if __name__ == "__main__":
    main()
