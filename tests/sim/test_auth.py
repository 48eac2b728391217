"""sinch-fn-sim: bearer tokens, the token endpoint and its burst limit."""

import time
import unittest

from harness import (get_token, http_get, http_request, main, sim, sim_fault, token_request)

P = "/v1/projects/demo-project"


class Auth(unittest.TestCase):
    def assert_401(self, resp, reason):
        status, headers, _ = resp
        self.assertEqual(status, 401)
        www = headers.get("WWW-Authenticate", "")
        self.assertTrue(www.startswith("Bearer "), www)
        self.assertIn('error="invalid_token"', www)
        self.assertIn(reason, www)

    def test_missing_unknown_expired(self):
        with sim("--token-ttl", "1") as s:
            url = s.url + P + "/functions"
            self.assert_401(http_get(url), "missing")
            self.assert_401(http_get(url, headers={"Authorization": "Basic eDp5"}), "missing")
            self.assert_401(http_get(url, "not-a-token"), "unknown")
            tok = get_token(s.url)
            self.assertEqual(http_get(url, tok)[0], 200)
            time.sleep(1.3)
            self.assert_401(http_get(url, tok), "expired")
            # Several tokens may be valid at once.
            t1, t2 = get_token(s.url), get_token(s.url)
            self.assertNotEqual(t1, t2)
            self.assertEqual(http_get(url, t1)[0], 200)
            self.assertEqual(http_get(url, t2)[0], 200)

    def test_token_endpoint(self):
        with sim("--key-id", "k1", "--key-secret", "s1", "--token-ttl", "120") as s:
            status, body = token_request(s.url, "k1", "s1")
            self.assertEqual(status, 200)
            self.assertEqual(body["token_type"], "bearer")
            self.assertEqual(body["expires_in"], 120)
            self.assertIn("scope", body)
            self.assertEqual(len(body["access_token"].split(".")), 3)
            self.assertEqual(token_request(s.url, "k1", "wrong")[0], 401)
            self.assertEqual(token_request(s.url, "demo-key", "demo-secret")[0], 401)
            status, _, _ = http_request("POST", s.url + "/oauth2/token",
                                        body={"grant_type": "password"},
                                        headers={"Authorization": "Basic azE6czE="})
            self.assertEqual(status, 400)
            self.assertEqual(http_get(s.url + "/oauth2/token")[0], 405)

    def test_token_expiry_fault_once(self):
        with sim() as s:
            tok = get_token(s.url)
            url = s.url + P + "/functions"
            self.assertEqual(sim_fault(s.url, "token-expiry=1"), 200)
            self.assert_401(http_get(url, tok), "expired")
            self.assertEqual(http_get(url, tok)[0], 200)

    def test_token_burst_429_without_retry_after(self):
        with sim() as s:
            results = [token_request(s.url) for _ in range(45)]
            statuses = [r[0] for r in results]
            self.assertEqual(statuses[:25], [200] * 25)
            self.assertIn(429, statuses)
            for _ in range(40):
                status, headers, _ = http_request(
                    "POST", s.url + "/oauth2/token", body={"grant_type": "client_credentials"},
                    headers={"Authorization": "Basic ZGVtby1rZXk6ZGVtby1zZWNyZXQ="})
                if status == 429:
                    break
            self.assertEqual(status, 429)
            self.assertIsNone(headers.get("Retry-After"))
            time.sleep(0.5)
            self.assertEqual(token_request(s.url)[0], 200)

    def test_no_limits_token(self):
        with sim("--no-limits") as s:
            self.assertNotIn(429, [token_request(s.url)[0] for _ in range(45)])


if __name__ == "__main__":
    main()
