"""sinch-fn-sim: per-project limits: 5 streams, 100 and 200 requests per window."""

import socket
import time
import unittest

from harness import (get_token, http_get, main, sim, sim_fn_url, sim_function_ids, sim_stats,
                     wait_for)

P = "/v1/projects/demo-project"


def open_stream(sim_, url_path, tok):
    s = socket.create_connection((sim_.host, sim_.port), timeout=5)
    s.sendall(("GET %s HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n" % (url_path, tok)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    return s, head


class Limits(unittest.TestCase):
    def test_sixth_stream_gets_429(self):
        with sim("--heartbeat", "0") as s:
            tok = get_token(s.url)
            fids = sim_function_ids(s.url, tok)
            socks = []
            try:
                for i in range(5):
                    sock, head = open_stream(s, P + "/functions/%s/logs/stream" % fids[i % 3], tok)
                    self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
                    socks.append(sock)
                status, headers, _ = http_get(sim_fn_url(s.url, fids[0], "/logs/stream"), tok)
                self.assertEqual(status, 429)
                self.assertGreaterEqual(int(headers["Retry-After"]), 1)
                st = sim_stats(s.url)["streams"]
                self.assertEqual((st["current"], st["peak"]), (5, 5))
                socks.pop().close()
                wait_for(lambda: sim_stats(s.url)["streams"]["current"] == 4, 5)
                sock, head = open_stream(s, P + "/functions/%s/logs/stream" % fids[0], tok)
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
                socks.append(sock)
                self.assertEqual(sim_stats(s.url)["rateLimited"]["stream"], 1)
            finally:
                for sock in socks:
                    sock.close()

    def test_api_window_100(self):
        # The window must outlast 100 requests even on a loaded machine.
        with sim("--limit-window", "8") as s:
            tok = get_token(s.url)
            fid = sim_function_ids(s.url, tok)[0]  # request 1 of 100
            urls = [s.url + P + "/functions", sim_fn_url(s.url, fid, "/status"),
                    sim_fn_url(s.url, fid, "/metrics"), sim_fn_url(s.url, fid, "/costs")]
            for i in range(99):
                self.assertEqual(http_get(urls[i % 4], tok)[0], 200, i)
            status, headers, _ = http_get(urls[1], tok)
            self.assertEqual(status, 429)
            retry = int(headers["Retry-After"])
            self.assertTrue(1 <= retry <= 8, retry)
            # Historical logs have their own budget.
            self.assertEqual(http_get(sim_fn_url(s.url, fid, "/logs"), tok)[0], 200)
            time.sleep(retry + 0.2)
            self.assertEqual(http_get(urls[1], tok)[0], 200)
            self.assertGreaterEqual(sim_stats(s.url)["rateLimited"]["api"], 1)

    def test_logs_window_200(self):
        with sim("--limit-window", "30") as s:
            tok = get_token(s.url)
            fid = sim_function_ids(s.url, tok)[0]
            url = sim_fn_url(s.url, fid, "/logs?pageSize=1")
            for i in range(200):
                self.assertEqual(http_get(url, tok)[0], 200, i)
            status, headers, _ = http_get(url, tok)
            self.assertEqual(status, 429)
            self.assertTrue(1 <= int(headers["Retry-After"]) <= 30)
            self.assertEqual(http_get(sim_fn_url(s.url, fid, "/status"), tok)[0], 200)

    def test_no_limits(self):
        with sim("--no-limits", "--heartbeat", "0") as s:
            tok = get_token(s.url)
            fid = sim_function_ids(s.url, tok)[0]
            for _ in range(110):
                self.assertEqual(http_get(sim_fn_url(s.url, fid, "/status"), tok)[0], 200)
            socks = [open_stream(s, P + "/functions/%s/logs/stream" % fid, tok)[0]
                     for _ in range(7)]
            self.assertEqual(sim_stats(s.url)["streams"]["current"], 7)
            for sock in socks:
                sock.close()


if __name__ == "__main__":
    main()
