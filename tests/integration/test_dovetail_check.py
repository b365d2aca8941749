#!/usr/bin/env python3
"""dovetail check / config: a broken configuration directory makes check
exit non-zero and print every problem with its file and line; service
problems (missing program, bad -o value) and a map that cannot be opened
are reported too; a good directory passes; "config -n" prints exactly the
non-default settings.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from dovetail_test import BIN_DIR, bin_path, missing, need_root

FAILURES = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILURES.append(what)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def dovetail(conf, *args):
    p = subprocess.run([bin_path("dovetail"), "-c", conf] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    print(f"$ dovetail -c {conf} {' '.join(args)} -> {p.returncode}\n"
          f"{p.stdout}{p.stderr}", end="")
    return p.returncode, p.stdout, p.stderr


def mkconf(top, name, main, master, extra=None):
    d = os.path.join(top, name)
    os.mkdir(d)
    write(os.path.join(d, "main.cf"), main)
    write(os.path.join(d, "master.cf"), master)
    for fname, text in (extra or {}).items():
        write(os.path.join(d, fname), text)
    return d


def main():
    need_root()
    for prog in ("dovetail", "dovetail-testecho"):
        if not os.access(bin_path(prog), os.X_OK):
            missing(bin_path(prog))
    top = tempfile.mkdtemp(prefix="dovetail-check-")
    try:
        run(top)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print("all check/config tests passed")


def run(top):
    base = (f"queue_directory = {top}/spool\n"
            f"daemon_directory = {BIN_DIR}\n"
            "mail_owner = nobody\n")

    # 1. Broken values in main.cf and smtpd.cf, a bad master.cf line.
    broken = mkconf(top, "broken",
                    "# broken main.cf\n" + base +
                    "default_process_limit = banana\n"      # line 5
                    "max_use = 0\n",                         # line 6
                    "# services\n"
                    "smtp inet n - n - - dovetail-testecho\n"
                    "bogus wrongtype n - n - - dovetail-testecho\n"  # line 3
                    "  -o max_use=1\n"
                    "relay unix - - n - 0x dovetail-testecho\n",  # line 5
                    {"smtpd.cf": "# smtpd\nmax_idle = forever\n"})   # line 2
    rc, out, err = dovetail(broken, "check")
    text = out + err
    check(rc != 0, "check exits non-zero on a broken configuration")
    for where, what in (("main.cf:5:", "default_process_limit"),
                        ("main.cf:6:", "max_use"),
                        ("smtpd.cf:2:", "max_idle"),
                        ("master.cf:3:", "type"),
                        ("master.cf:5:", "maxproc")):
        check(re.search(re.escape(where) + ".*" + what, text) is not None,
              f"check reports {where} {what}")

    # 2. Service problems: a missing program, a bad -o, a bad user, and
    # a map that cannot be opened.
    svc = mkconf(top, "services",
                 base + f"mydestination = localhost, texthash:{top}/no-such-file\n",
                 "# services\n"
                 "smtp inet n - n - - no-such-daemon\n"                      # 2
                 "echo unix - - n - - dovetail-testecho -o max_use=abc\n"    # 3
                 "who unix - no-such-user-xyz n - - dovetail-testecho\n")    # 4
    rc, out, err = dovetail(svc, "check")
    text = out + err
    check(rc != 0, "check exits non-zero on service problems")
    check(re.search(r"master\.cf:2:.*no-such-daemon", text) is not None,
          "check reports the missing program with master.cf:2")
    check(re.search(r"master\.cf:3:.*max_use", text) is not None,
          "check reports the bad -o value with master.cf:3")
    check(re.search(r"master\.cf:4:.*no-such-user-xyz", text) is not None,
          "check reports the unknown user with master.cf:4")
    check(re.search(r"mydestination.*texthash:.*no-such-file", text) is not None,
          "check opens the maps that parameters name")

    # 3. A good configuration passes.
    write(os.path.join(top, "domains"), "example.test OK\n")
    good = mkconf(top, "good",
                  base +
                  "myhostname = mail.example.test\n"
                  "max_use = 50\n"
                  f"mydestination = localhost, texthash:{top}/domains\n",
                  "# services\n"
                  "127.0.0.1:2525 inet n - n - 2 dovetail-testecho\n"
                  "  -o max_idle=60s\n"
                  "echo unix - - n - - dovetail-testecho\n",
                  {"smtpd.cf": "max_idle = 300s\n"})
    rc, out, err = dovetail(good, "check")
    check(rc == 0, "check exits 0 on a good configuration")
    check("error" not in out + err, "check prints no error for a good configuration")

    # 4. config -n prints exactly the settings that differ from defaults.
    rc, out, err = dovetail(good, "config", "-n")
    names = sorted(line.split(" = ")[0] for line in out.splitlines() if line)
    check(rc == 0 and names == sorted(["queue_directory", "daemon_directory",
                                       "mail_owner", "myhostname", "max_use",
                                       "mydestination"]),
          f"config -n prints only the non-default settings ({names})")
    check("max_use = 50\n" in out, "config -n shows the value")
    rc, out, err = dovetail(good, "config")
    check(rc == 0 and "max_idle = 100s" in out and len(out.splitlines()) > len(names),
          "config without -n prints every parameter, defaults too")
    rc, out, err = dovetail(good, "config", "max_use", "myhostname")
    check(rc == 0 and out == "max_use = 50\nmyhostname = mail.example.test\n",
          "config NAME... prints just those")
    rc, out, err = dovetail(good, "config", "no_such_parameter")
    check(rc != 0 and "no_such_parameter" in err, "config rejects an unknown name")

    p = subprocess.run([bin_path("dovetail"), "-h"], stdout=subprocess.PIPE, text=True)
    check(p.returncode == 0 and "usage:" in p.stdout and "check" in p.stdout,
          "dovetail -h prints usage")


if __name__ == "__main__":
    main()
