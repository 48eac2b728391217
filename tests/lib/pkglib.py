"""The Debian package of the build under test (tests/integration/
test_package.py checks it, tests/install/test_install.py installs it):
made with CPack from the plain build directory into a directory of the
caller's, never into the build tree."""

import glob
import os
import subprocess

from harness import BIN_DIR

BUILD_DIR = os.path.dirname(os.path.abspath(BIN_DIR))


def build_package(outdir):
    """Runs `cpack -G DEB` for the build; returns the .deb's path."""
    r = subprocess.run(["cpack", "-G", "DEB", "--config",
                        os.path.join(BUILD_DIR, "CPackConfig.cmake"), "-B", outdir],
                       cwd=outdir, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    debs = glob.glob(os.path.join(outdir, "*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def deb_field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True, text=True,
                          check=True).stdout.strip()
