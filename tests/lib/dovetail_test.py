"""Shared helpers for Dovetail's script tests.

Every test finds the build through DOVETAIL_BUILD_DIR and the sources
through DOVETAIL_SOURCE_DIR (set by ctest). A test that needs a component
that is missing calls need(); locally that skips the test (exit 77), in CI
(CI=true) it fails, as the developers' guide requires.
"""
import os
import shutil
import sys

SOURCE_DIR = os.environ.get("DOVETAIL_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__)))))
BUILD_DIR = os.environ.get("DOVETAIL_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
BIN_DIR = os.path.join(BUILD_DIR, "bin")
IN_CI = os.environ.get("CI", "") == "true"


def missing(what):
    """Skip (exit 77) locally, fail in CI, saying what is missing."""
    if IN_CI:
        print(f"FAIL: {what} is missing (CI=true: tests must not skip)")
        sys.exit(1)
    print(f"SKIP: {what} is missing")
    sys.exit(77)


def need_program(name, package):
    """Returns the path of program name, or skips/fails naming package."""
    for d in (os.environ.get("PATH", "").split(os.pathsep)
              + ["/usr/sbin", "/sbin", "/usr/lib/postfix/sbin"]):
        p = os.path.join(d, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    missing(f"{name} (apt-get install {package})")
    return None


def need_root():
    if os.geteuid() != 0:
        missing("root privileges")


def bin_path(name):
    return os.path.join(BIN_DIR, name)
