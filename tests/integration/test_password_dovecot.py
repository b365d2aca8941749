"""Cross-checks Dovetail's password schemes with Dovecot's doveadm, live.

For every scheme both know: a hash made by "doveadm pw -s S" verifies in
Dovetail (tests/pwtool, a helper over lib/mail/password_scheme), and a hash
made by Dovetail verifies with "doveadm pw -t". Wrong passwords must fail
both ways. doveadm runs with "-c /dev/null", so no Dovecot config or
running service is needed. Without doveadm (apt-get install dovecot-core)
the test skips locally and fails in CI.
"""
import os
import subprocess
import sys

import dovetail_test as dt

PASSWORDS = ["secret", "Tr0ub4dor&3 p\u00e4ssw\u00f6rd"]
WRONG = "not the password"
# Dovetail schemes Dovecot 2.3 does not know by this name; they are checked
# one way (Dovetail's hash, which carries a {CRYPT} prefix, in Dovecot).
DOVETAIL_ONLY = {"YESCRYPT"}
# Encoded variants checked on top of the plain names.
ENCODED = ["SHA256.HEX", "SSHA.HEX", "PLAIN-MD5.B64", "SHA512-CRYPT.HEX",
           "SSHA512.B64"]


def run(argv):
    p = subprocess.run(argv, capture_output=True, timeout=120)
    return (p.returncode, p.stdout.decode("utf-8", "replace").strip(),
            p.stderr.decode("utf-8", "replace").strip())


def main():
    doveadm = dt.need_program("doveadm", "dovecot-core")
    pwtool = os.path.join(dt.BUILD_DIR, "tests", "pwtool")
    if not os.access(pwtool, os.X_OK):
        print(f"FAIL: {pwtool} not built")
        return 1
    dove = [doveadm, "-c", "/dev/null", "pw"]

    rc, out, err = run(dove + ["-l"])
    if rc != 0:
        print(f"FAIL: doveadm pw -l: {err}")
        return 1
    dovecot_schemes = set(out.split())
    rc, out, err = run([pwtool, "list"])
    ours = out.split()
    if rc != 0 or not ours:
        print(f"FAIL: pwtool list: {out} {err}")
        return 1

    failures = []
    results = {}

    def fail(scheme, what):
        failures.append(f"{scheme}: {what}")
        results[scheme] = "FAIL"

    for scheme in ours + ENCODED:
        base = scheme.split(".")[0]
        if base not in dovecot_schemes and base not in DOVETAIL_ONLY:
            fail(scheme, "Dovecot does not know this scheme")
            continue
        results.setdefault(scheme, "ok")
        for pw in PASSWORDS:
            # Dovecot -> Dovetail
            if base not in DOVETAIL_ONLY:
                rc, h, err = run(dove + ["-s", scheme, "-p", pw])
                if rc != 0 or not h.startswith("{"):
                    fail(scheme, f"doveadm pw -s failed: {err}")
                    continue
                rc, out, _ = run([pwtool, "verify", h, pw])
                if rc != 0 or out != "verified":
                    fail(scheme, f"Dovecot hash {h!r} not verified: {out}")
                rc, out, _ = run([pwtool, "verify", h, WRONG])
                if rc != 1 or out != "mismatch":
                    fail(scheme, f"Dovecot hash {h!r}, wrong password: {out}")
            # Dovetail -> Dovecot
            rc, h, err = run([pwtool, "generate", scheme, pw])
            if rc != 0 or not h.startswith("{"):
                fail(scheme, f"pwtool generate failed: {h} {err}")
                continue
            rc, out, err = run(dove + ["-t", h, "-p", pw])
            if rc != 0 or "(verified)" not in out:
                fail(scheme, f"Dovetail hash {h!r} not verified by Dovecot:"
                     f" rc={rc} {out} {err}")
            rc, out, err = run(dove + ["-t", h, "-p", WRONG])
            if rc == 0 or "(verified)" in out:
                fail(scheme, f"Dovecot accepted a wrong password for {h!r}")

    for scheme in sorted(results):
        way = ("Dovetail->Dovecot" if scheme.split(".")[0] in DOVETAIL_ONLY
               else "both ways")
        print(f"{scheme:18} {results[scheme]:5} {way}")
    if failures:
        print("\n".join("FAIL: " + f for f in failures))
        return 1
    print(f"ok: {len(results)} schemes cross-checked with doveadm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
