"""The README's configuration reference is exactly what the option tables
print (`sinch-logd --config-reference`), so names and defaults never drift.
Run with --update to rewrite the README section."""

import os
import re
import subprocess
import sys
import unittest

from harness import BIN_DIR, SRC_DIR, main

BEGIN = "<!-- BEGIN config-reference -->\n"
END = "<!-- END config-reference -->"


def reference():
    return subprocess.run([os.path.join(BIN_DIR, "sinch-logd"), "--config-reference"],
                          check=True, capture_output=True, text=True).stdout


def readme_path():
    return os.path.join(SRC_DIR, "README.md")


def split(text):
    a = text.index(BEGIN) + len(BEGIN)
    b = text.index(END)
    return text[:a], text[a:b], text[b:]


class Readme(unittest.TestCase):
    def test_reference_matches_option_tables(self):
        with open(readme_path()) as f:
            _, section, _ = split(f.read())
        self.assertEqual(section, reference(),
                         "README configuration reference is stale: run "
                         "python3 tests/integration/test_readme.py --update")

    def test_quick_start_commands_are_the_ci_ones(self):
        with open(readme_path()) as f:
            text = f.read()
        with open(os.path.join(SRC_DIR, ".ci", "run")) as f:
            ci = f.read()
        cmd = re.search(r"^\s*(packaging/install-deps\.sh && tests/run-all\.sh)$", text, re.M)
        self.assertIsNotNone(cmd, "README test command missing")
        self.assertIn(cmd.group(1), ci)


if __name__ == "__main__":
    if "--update" in sys.argv:
        with open(readme_path()) as f:
            head, _, tail = split(f.read())
        with open(readme_path(), "w") as f:
            f.write(head + reference() + tail)
        sys.exit(0)
    main()
