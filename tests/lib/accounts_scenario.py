"""The account-command scenario every backend test runs.

run_scenario(dt, stored_hash, check) drives "dovetail domain|user|alias"
and "dovetail pw" against one backend and asserts on what the commands
print and on what lands in the backend:
  dt(*args, input=None)  runs the dovetail command for this backend
                         (config dir and, if wanted, --map added by the
                         caller) and returns subprocess.CompletedProcess
  stored_hash(user)      the password column/field stored for user, or None
  check(cond, what)      records one assertion
Leaves example.test with alice@example.test (password "Alice pw 1") and
the alias postmaster@example.test -> alice@example.test in place, so the
caller can go on (authenticate alice through auth, for example).
"""
import os
import subprocess

import dovetail_test

ALICE = "alice@example.test"
ALICE_PW = "Alice pw 1"


def dovetail_cmd():
    return dovetail_test.bin_path("dovetail")


def pw_verifies(hash_, password):
    """True if "dovetail pw -t" accepts password for hash_ (exit 0 and
    "(verified)"); False if it says mismatch (exit 1)."""
    r = subprocess.run([dovetail_cmd(), "pw", "-t", hash_, "-p", password],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    return r.returncode == 0 and "(verified)" in r.stdout


def lines(r):
    return [l for l in r.stdout.split("\n") if l]


def run_scenario(dt, stored_hash, check):
    # dovetail pw on its own
    r = subprocess.run([dovetail_cmd(), "pw", "-l"], stdout=subprocess.PIPE,
                       text=True, timeout=30)
    check(r.returncode == 0 and "SHA512-CRYPT" in r.stdout.split(),
          "pw -l lists SHA512-CRYPT")
    r = subprocess.run([dovetail_cmd(), "pw", "-s", "SSHA256", "-p", "x y"],
                       stdout=subprocess.PIPE, text=True, timeout=30)
    check(r.returncode == 0 and r.stdout.startswith("{SSHA256}"),
          "pw -s SSHA256 prints a {SSHA256} hash")
    check(pw_verifies(r.stdout.strip(), "x y"), "pw -t verifies pw's hash")
    check(not pw_verifies(r.stdout.strip(), "x z"),
          "pw -t refuses a wrong password")

    # domains
    r = dt("domain", "add", "Example.TEST")
    check(r.returncode == 0, "domain add example.test (%s)" % r.stderr.strip())
    r = dt("domain", "add", "example.test")
    check(r.returncode != 0 and "already exists" in r.stderr,
          "duplicate domain refused: " + r.stderr.strip())
    dt("domain", "add", "other.test")
    r = dt("domain", "list")
    check(lines(r) == ["example.test", "other.test"],
          "domain list (lower-cased): %r" % lines(r))
    r = dt("domain", "add", "bad_domain!.test")
    check(r.returncode != 0, "a bad domain name is refused")

    # users
    r = dt("user", "add", ALICE, "-p", ALICE_PW)
    check(r.returncode == 0, "user add alice (%s)" % r.stderr.strip())
    h = stored_hash(ALICE)
    check(h is not None and h.startswith("{SHA512-CRYPT}$6$"),
          "alice's stored hash is SHA512-CRYPT: %r" % h)
    check(h is not None and pw_verifies(h, ALICE_PW),
          "alice's stored hash verifies with dovetail pw -t")
    check(h is not None and not pw_verifies(h, "wrong"),
          "alice's stored hash refuses a wrong password")
    r = dt("user", "add", ALICE, "-p", "other")
    check(r.returncode != 0 and "already exists" in r.stderr,
          "duplicate user refused: " + r.stderr.strip())
    check(stored_hash(ALICE) == h, "the duplicate did not change alice")
    r = dt("user", "add", "bob@nowhere.test", "-p", "x")
    check(r.returncode != 0 and
          "domain nowhere.test does not exist" in r.stderr and
          "dovetail domain add nowhere.test" in r.stderr,
          "unknown domain refused: " + r.stderr.strip())
    check(stored_hash("bob@nowhere.test") is None,
          "no row for the unknown domain's user")
    # password on stdin (no -p, not a terminal), another scheme
    r = dt("user", "add", "Bob@Example.test", "-s", "BLF-CRYPT",
           input="Bob's pw\n")
    check(r.returncode == 0, "user add bob with the password on stdin (%s)"
          % r.stderr.strip())
    hb = stored_hash("bob@example.test")
    check(hb is not None and hb.startswith("{BLF-CRYPT}") and
          pw_verifies(hb, "Bob's pw"),
          "bob stored lower-cased, BLF-CRYPT, verifies: %r" % hb)
    # a quote in the local part is data, never SQL
    r = dt("user", "add", "o'brien@example.test", "-p", "x")
    check(r.returncode == 0 and stored_hash("o'brien@example.test") is not None,
          "o'brien@example.test stored as data")
    r = dt("user", "add", "eve@example.test", "-p", "x", "-s", "NO-SUCH")
    check(r.returncode != 0 and "unknown password scheme" in r.stderr and
          stored_hash("eve@example.test") is None,
          "an unknown scheme is refused before anything is stored")
    r = dt("user", "add", "x y@example.test", "-p", "x")
    check(r.returncode != 0, "an address with a space is refused")
    r = dt("user", "add", "carol@other.test", "-p", "c")
    r = dt("user", "list")
    check(lines(r) == ["alice@example.test", "bob@example.test",
                       "carol@other.test", "o'brien@example.test"],
          "user list: %r" % lines(r))
    r = dt("user", "list", "other.test")
    check(lines(r) == ["carol@other.test"], "user list other.test: %r"
          % lines(r))
    r = dt("user", "passwd", "bob@example.test", "-p", "new bob")
    hb2 = stored_hash("bob@example.test")
    check(r.returncode == 0 and hb2 != hb and pw_verifies(hb2, "new bob")
          and not pw_verifies(hb2, "Bob's pw"),
          "user passwd changes bob's hash")
    r = dt("user", "passwd", "nobody@example.test", "-p", "x")
    check(r.returncode != 0 and "does not exist" in r.stderr,
          "passwd of an unknown user refused: " + r.stderr.strip())
    r = dt("user", "del", "o'brien@example.test")
    check(r.returncode == 0 and stored_hash("o'brien@example.test") is None,
          "user del removes o'brien")
    r = dt("user", "del", "o'brien@example.test")
    check(r.returncode != 0 and "does not exist" in r.stderr,
          "user del of a missing user fails")

    # aliases
    r = dt("alias", "add", "postmaster@example.test", ALICE)
    check(r.returncode == 0, "alias add postmaster (%s)" % r.stderr.strip())
    r = dt("alias", "add", "@example.test", "bob@example.test")
    check(r.returncode == 0, "alias add catch-all @example.test")
    r = dt("alias", "add", "team@example.test", ALICE)
    r2 = dt("alias", "add", "team@example.test", "carol@other.test")
    check(r.returncode == 0 and r2.returncode == 0,
          "alias with two destinations")
    r = dt("alias", "add", "team@example.test", "carol@other.test")
    check(r.returncode != 0 and "already exists" in r.stderr,
          "duplicate alias refused")
    r = dt("alias", "add", "x@nowhere.test", ALICE)
    check(r.returncode != 0 and "does not exist" in r.stderr,
          "alias of an unknown domain refused")
    r = dt("alias", "list", "example.test")
    check(lines(r) == ["@example.test bob@example.test",
                       "postmaster@example.test alice@example.test",
                       "team@example.test alice@example.test",
                       "team@example.test carol@other.test"],
          "alias list example.test: %r" % lines(r))
    r = dt("alias", "del", "team@example.test", ALICE)
    r2 = dt("alias", "list")
    check(r.returncode == 0 and
          "team@example.test alice@example.test" not in lines(r2) and
          "team@example.test carol@other.test" in lines(r2),
          "alias del of one destination")
    r = dt("alias", "del", "team@example.test")
    r2 = dt("alias", "del", "team@example.test")
    check(r.returncode == 0 and r2.returncode != 0,
          "alias del of a whole source, then it is gone")

    # domains with users
    r = dt("domain", "del", "other.test")
    check(r.returncode != 0 and "still has 1 user" in r.stderr,
          "domain del refuses a domain with users: " + r.stderr.strip())
    r = dt("domain", "del", "-f", "other.test")
    check(r.returncode == 0 and stored_hash("carol@other.test") is None,
          "domain del -f removes the domain and its users")
    r = dt("domain", "list")
    check(lines(r) == ["example.test"], "domain list after del: %r"
          % lines(r))
    r = dt("domain", "del", "other.test")
    check(r.returncode != 0 and "does not exist" in r.stderr,
          "domain del of a missing domain fails")
    r = dt("user", "del", "bob@example.test")
    r = dt("alias", "del", "@example.test")
    r = dt("user", "list")
    check(lines(r) == [ALICE], "only alice is left: %r" % lines(r))
    # usage errors
    r = dt("user", "frobnicate")
    check(r.returncode != 0 and "unknown action" in r.stderr,
          "unknown action refused")
    r = dt("user", "add")
    check(r.returncode == 2, "missing operand is a usage error")
