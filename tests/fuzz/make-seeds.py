#!/usr/bin/env python3
"""Rebuilds the seed corpora in tests/fuzz/corpus/ from the unit tests' data
files and the example configurations, so the fuzzers start from every case
the project already knows. Run it after adding test data; commit the result.
Each seed is named after its source and carries the selector bytes its
target reads first (see each fuzz_*.c)."""

import glob
import os
import re
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(SRC, "tests", "data")


def reset(name):
    d = os.path.join(HERE, "corpus", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def unescape(line):
    """The .case input escapes: \\n \\r \\t \\\\ \\xHH."""
    out = bytearray()
    i = 0
    b = line.encode("utf-8")
    while i < len(b):
        c = b[i]
        if c == 0x5C and i + 1 < len(b):
            n = chr(b[i + 1])
            if n == "x":
                out.append(int(b[i + 2:i + 4], 16))
                i += 4
                continue
            out += {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\"}.get(n, bytes([b[i + 1]]))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def sse_input(path):
    data = bytearray()
    section = None
    for line in open(path, encoding="utf-8").read().split("\n"):
        if line.startswith("--- "):
            section = line[4:].split()[0]
            continue
        if section == "input" and line:
            data += unescape(line)
    return bytes(data)


def main():
    d = reset("sse")
    for path in sorted(glob.glob(os.path.join(DATA, "sse", "*.case"))):
        name = os.path.basename(path)[:-5]
        body = sse_input(path)
        for sel in (0x03, 0x81):
            write(d, "%s-%02x" % (name, sel), bytes([sel]) + body)

    d = reset("normalize")
    for path in sorted(glob.glob(os.path.join(DATA, "normalize", "*.in"))):
        name = os.path.basename(path)[:-3]
        body = open(path, "rb").read()
        for sel in (0x00, 0x7F):
            write(d, "%s-%02x" % (name, sel), bytes([sel]) + body)

    d = reset("syslog_fmt")
    for path in sorted(glob.glob(os.path.join(DATA, "normalize", "*.in"))):
        name = os.path.basename(path)[:-3]
        body = open(path, "rb").read()
        for a, b in ((0x0C, 0x10), (0x02, 0x80), (0x71, 0x05)):
            write(d, "ev-%s-%02x%02x" % (name, a, b), bytes([a, b]) + body)
    for path in sorted(glob.glob(os.path.join(DATA, "syslog", "*.in"))):
        name = os.path.basename(path)[:-3]
        text = open(path, "rb").read()
        record = text.split(b"\n\n", 1)[1].strip()
        for a, b in ((0x8C, 0x10), (0x82, 0x80)):
            write(d, "rec-%s-%02x%02x" % (name, a, b), bytes([a, b]) + record)

    d = reset("http_fmt")
    for path in sorted(glob.glob(os.path.join(DATA, "http_fmt", "*.in"))):
        name = os.path.basename(path)[:-3]
        records = open(path, "rb").read().split(b"\n\n", 1)[1]
        for sel in range(6):
            write(d, "rec-%s-%02x" % (name, 0x80 | sel), bytes([0x80 | sel]) + records)
    for path in sorted(glob.glob(os.path.join(DATA, "normalize", "*.in"))):
        name = os.path.basename(path)[:-3]
        body = open(path, "rb").read().replace(b"\n", b" ")
        for sel in (0x02, 0x2C, 0x5D):
            write(d, "ev-%s-%02x" % (name, sel), bytes([sel]) + body + b"\n" + body)

    d = reset("http_resp")
    selectors = {"bulk": None, "hec": 0x40, "hec_acks": 0x81, "otlp": 0x80}
    for path in sorted(glob.glob(os.path.join(DATA, "http_resp", "*.in"))):
        name = os.path.basename(path)[:-3]
        how, body = open(path, "rb").read().split(b"\n", 1)
        how = how.decode().split()
        sel = selectors[how[0]]
        if sel is None:
            sel = int(how[1]) | (0x20 if how[2] == "create" else 0)
        write(d, "%s-%02x" % (name, sel), bytes([sel]) + body)
    for i, value in enumerate((b"120", b"Sun, 06 Nov 1994 08:49:37 GMT", b"-1", b"1e3")):
        write(d, "retry-after-%d" % i, bytes([0xC0 | 0x30]) + value)

    d = reset("history_page")
    events = [open(p, "rb").read().strip() for p in
              sorted(glob.glob(os.path.join(DATA, "normalize", "*.in")))]
    good = [e for e in events if e.startswith(b"{")]
    for i in range(0, len(good), 4):
        page = good[i:i + 4]
        body = (b'{"requests":[' + b",".join(page) + b'],"pagination":{"page":%d,'
                b'"pageSize":4,"totalCount":%d,"totalPages":%d}}'
                % (i // 4 + 1, len(good), (len(good) + 3) // 4))
        write(d, "page-%02d" % (i // 4), body)
    write(d, "empty", b'{"requests":[],"pagination":{"page":1,"pageSize":100,'
                      b'"totalCount":0,"totalPages":0}}')
    write(d, "no-pagination", b'{"requests":[' + good[0] + b']}')
    write(d, "odd-types", b'{"requests":[1,"x",null,{}],"pagination":{"totalCount":"7",'
                          b'"totalPages":99999999999999999999}}')

    d = reset("token")
    for i, body in enumerate((
            b'{"access_token":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln","token_type":"bearer",'
            b'"expires_in":3600,"scope":"functions:read"}',
            b'{"access_token":"t","expires_in":0.5}',
            b'{"access_token":"t","expires_in":1e308}',
            b'{"access_token":"","expires_in":10}',
            b'{"access_token":7}',
            b'{"error":"invalid_client","error_description":"bad key id or secret"}',
            b'[]')):
        write(d, "answer-%d" % i, body)

    d = reset("conf")
    for path in sorted(glob.glob(os.path.join(DATA, "conf", "*.conf")) +
                       glob.glob(os.path.join(SRC, "conf", "*.conf"))):
        body = open(path, "rb").read()
        if re.search(rb"/dev|/proc|/sys", body):
            continue
        write(d, os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path), body)


if __name__ == "__main__":
    main()
