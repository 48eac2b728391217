"""The Debian package, checked without installing it: CPack builds it from
this build; its control fields and Depends (Debian package names, from
dpkg-shlibdeps), its contents and modes, conffiles and maintainer scripts;
the shipped configuration passes --check-config (with the directories the
postinst creates); the man pages render without a warning; the unit's
systemd-analyze exposure stays under 2.0; lintian (when installed) reports
nothing. tests/install/test_install.py installs it for real (label
"install")."""

import gzip
import os
import re
import shutil
import subprocess
import unittest

from harness import main, tmpdir
from agentlib import VALGRIND
from pkglib import build_package, deb_field

SANITIZED = os.environ.get("SINCH_SANITIZE") == "1"

EXPECTED = {
    "./usr/bin/sinch-logd": "-rwxr-xr-x",
    "./etc/sinch-logd/sinch-logd.conf": "-rw-r-----",
    "./etc/logrotate.d/sinch-logd": "-rw-r--r--",
    "./lib/systemd/system/sinch-logd.service": "-rw-r--r--",
    "./usr/share/man/man8/sinch-logd.8.gz": "-rw-r--r--",
    "./usr/share/man/man5/sinch-logd.conf.5.gz": "-rw-r--r--",
    "./usr/share/doc/sinch-logd/copyright": "-rw-r--r--",
    "./usr/share/doc/sinch-logd/changelog.Debian.gz": "-rw-r--r--",
    "./usr/share/doc/sinch-logd/examples/kafka-siem.conf": "-rw-r--r--",
}


@unittest.skipIf(SANITIZED or VALGRIND, "the package is made from the plain build")
class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tmpdir()
        cls.deb = build_package(cls.dir)
        cls.root = os.path.join(cls.dir, "root")
        subprocess.run(["dpkg-deb", "-x", cls.deb, cls.root], check=True)
        cls.control = os.path.join(cls.dir, "control")
        subprocess.run(["dpkg-deb", "-e", cls.deb, cls.control], check=True)

    def test_control_fields(self):
        self.assertEqual(deb_field(self.deb, "Package"), "sinch-logd")
        self.assertRegex(deb_field(self.deb, "Version"), r"^\d+\.\d+\.\d+-\d+$")
        self.assertEqual(deb_field(self.deb, "Section"), "admin")
        self.assertRegex(deb_field(self.deb, "Maintainer"), r"^[^<]+ <[^@>]+@[^>]+>$")
        depends = [d.split()[0] for d in deb_field(self.deb, "Depends").split(", ")]
        for pkg in ("adduser", "libc6", "libuv1", "libcurl4", "libcjson1", "librdkafka1",
                    "zlib1g", "libssl3"):
            self.assertIn(pkg, depends)
        self.assertIn("logrotate", deb_field(self.deb, "Recommends"))

    def test_contents_and_modes(self):
        out = subprocess.run(["dpkg-deb", "--contents", self.deb], capture_output=True,
                             text=True, check=True).stdout
        modes = {}
        for line in out.splitlines():
            f = line.split()
            self.assertEqual(f[1], "root/root", line)
            modes[f[5]] = f[0]
        for path, mode in EXPECTED.items():
            self.assertEqual(modes.get(path), mode, path)
        # Nothing outside the places a package owns.
        for path in modes:
            self.assertRegex(path, r"^\./(usr/(bin|share)|etc|lib/systemd)(/|$)|^\./$|^\./(usr|lib)/$",
                             path)

    def test_conffiles_and_maintainer_scripts(self):
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertEqual(sorted(f.read().split()),
                             ["/etc/logrotate.d/sinch-logd", "/etc/sinch-logd/sinch-logd.conf"])
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.control, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            subprocess.run(["sh", "-n", path], check=True)
        with open(os.path.join(self.control, "postinst")) as f:
            postinst = f.read()
        self.assertIn("adduser --system", postinst)
        with open(os.path.join(self.control, "postrm")) as f:
            postrm = f.read()
        # remove keeps the state; purge removes it.
        purge = postrm[postrm.index('"$1" = "purge"'):]
        self.assertIn("rm -rf /var/lib/sinch-logd", purge)

    def test_shipped_config_passes_check_config(self):
        # The postinst creates /var/lib/sinch-logd and /var/log/sinch-logd;
        # here they are directories of the test.
        with open(os.path.join(self.root, "etc/sinch-logd/sinch-logd.conf")) as f:
            text = f.read()
        d = tmpdir()
        for sub in ("lib", "log"):
            os.makedirs(os.path.join(d, sub))
        text = text.replace("/var/lib/sinch-logd", d + "/lib").replace("/var/log/sinch-logd",
                                                                        d + "/log")
        cfg = os.path.join(d, "sinch-logd.conf")
        with open(cfg, "w") as f:
            f.write(text)
        os.chmod(cfg, 0o640)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SINCH_")}
        r = subprocess.run([os.path.join(self.root, "usr/bin/sinch-logd"), "--check-config",
                            "-c", cfg], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")

    def test_man_pages_render_without_warnings(self):
        for page in ("usr/share/man/man8/sinch-logd.8.gz",
                     "usr/share/man/man5/sinch-logd.conf.5.gz"):
            with gzip.open(os.path.join(self.root, page)) as f:
                text = f.read()
            r = subprocess.run(["groff", "-man", "-ww", "-z"], input=text, capture_output=True,
                               timeout=30)
            self.assertEqual((r.returncode, r.stderr), (0, b""), page)
            if shutil.which("man"):
                r = subprocess.run(["man", "-l", os.path.join(self.root, page)],
                                   capture_output=True, timeout=30,
                                   env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
                self.assertEqual((r.returncode, r.stderr), (0, b""), page)
                self.assertIn(b"SINCH", r.stdout)
        # Every option of every table is in sinch-logd.conf(5).
        with gzip.open(os.path.join(self.root, "usr/share/man/man5/sinch-logd.conf.5.gz")) as f:
            conf5 = f.read().decode()
        ref = subprocess.run([os.path.join(self.root, "usr/bin/sinch-logd"),
                              "--config-reference"], capture_output=True, text=True,
                             check=True).stdout
        for name in re.findall(r"^\| `([a-z_.]+)", ref, re.M):
            self.assertIn("\\fB" + name.replace("-", "\\-"), conf5, name)

    @unittest.skipIf(not shutil.which("systemd-analyze"), "no systemd-analyze")
    def test_unit_exposure_under_2(self):
        unit = os.path.join(self.root, "lib/systemd/system/sinch-logd.service")
        r = subprocess.run(["systemd-analyze", "security", "--offline=true", unit],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for sinch-logd.service: ([0-9.]+)", r.stdout)
        self.assertTrue(m, r.stdout + r.stderr)
        self.assertLess(float(m.group(1)), 2.0, r.stdout)

    @unittest.skipIf(not shutil.which("lintian"), "lintian is not installed")
    def test_lintian(self):
        r = subprocess.run(["lintian", "--fail-on", "error,warning", self.deb],
                           capture_output=True, text=True, timeout=300)
        tags = [ln for ln in r.stdout.splitlines() if re.match(r"^[EW]: ", ln)]
        self.assertEqual(tags, [], r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    main()
