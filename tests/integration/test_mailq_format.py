"""mailq (sendmail -bp, and sendmail invoked as "mailq") prints exactly
what "dovetail queue list" prints: Postfix's mailq layout, one
implementation (lib/mail/queue_list). Queue files come from the real
writer (tests/queue_inject_tool).
"""
import os
import shutil
import subprocess
import sys
import tempfile

from dovetail_test import BUILD_DIR, bin_path, missing, need_root

INJECT = os.path.join(BUILD_DIR, "tests", "queue_inject_tool")
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def main():
    need_root()
    for p in (INJECT, bin_path("dovetail"), bin_path("sendmail")):
        if not os.path.exists(p):
            missing(p)
    top = tempfile.mkdtemp(prefix="dv-mailq-")
    try:
        q = os.path.join(top, "q")
        for d in ("incoming", "active", "deferred", "hold", "corrupt", "public"):
            os.makedirs(os.path.join(q, d))
        with open(os.path.join(top, "main.cf"), "w") as f:
            f.write(f"queue_directory = {q}\nmail_owner = nobody\n")
        os.symlink(bin_path("sendmail"), os.path.join(top, "mailq"))

        def all_three():
            _, ref, err = run([bin_path("dovetail"), "-c", top, "queue", "list"])
            rc1, bp, err1 = run([bin_path("sendmail"), "-C", top, "-bp"])
            rc2, mq, err2 = run([os.path.join(top, "mailq"), "-C", top])
            return ref, (rc1, bp, err1), (rc2, mq, err2)

        ref, bp, mq = all_three()
        check(ref == "Mail queue is empty\n", "dovetail queue list: empty")
        check(bp[0] == 0 and bp[1] == ref, f"sendmail -bp on an empty queue: {bp}")
        check(mq[0] == 0 and mq[1] == ref, f"mailq on an empty queue: {mq}")

        run([INJECT, q, "a@example.org", "b@example.org"])
        run([INJECT, q, "-q", "deferred", "-d", "connect to mx.example.org"
             "[192.0.2.1]:25: Connection timed out", "c@example.org"])
        run([INJECT, q, "-q", "hold", "-s", "", "-b", "5000", "d@example.org"])
        run([INJECT, q, "-q", "active", "e@example.org"])
        ref, bp, mq = all_three()
        print(ref)
        check(ref.startswith("----Queue ID----- --Size--") and
              ref.endswith("\n-- 5 Kbytes in 4 Requests.\n"), "reference listing")
        check(bp[0] == 0 and bp[1] == ref,
              "sendmail -bp prints the same as dovetail queue list\n"
              f"--- sendmail -bp:\n{bp[1]}{bp[2]}")
        check(mq[0] == 0 and mq[1] == ref,
              f"mailq prints the same as dovetail queue list\n--- mailq:\n{mq[1]}{mq[2]}")
    finally:
        shutil.rmtree(top, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("all ok")


if __name__ == "__main__":
    main()
