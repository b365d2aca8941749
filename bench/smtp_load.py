#!/usr/bin/env python3
"""smtp_load - issue 4 benchmark: sends N messages over M concurrent SMTP
connections into a private Dovetail instance (smtpd -> queue -> qmgr ->
smtp/LMTP -> lmtpd -> Maildir) and prints messages accepted per second,
messages delivered into Maildir per second (until the last one landed in
new/), and the suite's CPU seconds per 1,000 messages.

    sudo DOVETAIL_BUILD_DIR=build bench/smtp_load.py [-n 2000] [-c 8]
        [-s SIZE_BYTES] [-r RCPTS_PER_MESSAGE]

Needs root (master). Uses the test harness tests/lib/instance.py.
"""
import argparse
import os
import smtplib
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
from instance import mail_suite, wait_for  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(inst):
    """CPU time of the instance: master's reaped children plus live ones."""
    total = 0.0
    master = inst.master_pid()
    pids = set(inst.instance_pids())
    if master:
        pids.add(master)
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        total += (utime + stime) / CLK
        if pid == master:
            total += (cutime + cstime) / CLK
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000, help="messages")
    ap.add_argument("-c", type=int, default=8, help="concurrent connections")
    ap.add_argument("-s", type=int, default=2048, help="message size in bytes")
    ap.add_argument("-r", type=int, default=1, help="recipients per message")
    args = ap.parse_args()

    inst, acc = mail_suite()
    users = [f"user{i}@example.org" for i in range(max(args.r, 4))]
    for u in users:
        acc.add_user(u)
    filler = (b"x" * 76 + b"\r\n") * max(1, args.s // 78)
    counter = iter(range(args.n))
    lock = threading.Lock()
    accepted = [0]
    errors = [0]

    def sender():
        conn = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=60)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            rcpts = [users[(n + k) % len(users)] for k in range(args.r)]
            msg = b"Subject: bench %d\r\n\r\n" % n + filler
            try:
                conn.sendmail("bench@example.net", rcpts, msg)
                with lock:
                    accepted[0] += 1
            except (smtplib.SMTPException, OSError):
                with lock:
                    errors[0] += 1
                conn = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=60)
        conn.quit()

    def delivered():
        n = 0
        for u in users:
            local, domain = u.split("@")
            try:
                n += len(os.listdir(os.path.join(inst.maildir(local, domain), "new")))
            except FileNotFoundError:
                pass
        return n

    with inst:
        inst.start()
        cpu0 = cpu_seconds(inst)
        t0 = time.time()
        threads = [threading.Thread(target=sender) for _ in range(args.c)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t_acc = time.time() - t0
        want = accepted[0] * args.r
        wait_for(lambda: delivered() >= want, 600, step=0.05)
        t_del = time.time() - t0
        got = delivered()
        cpu = cpu_seconds(inst) - cpu0
        print(f"machine: {os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}")
        print(f"messages: {args.n} x {len(filler) + 20} bytes, {args.r} recipient(s), "
              f"{args.c} connections")
        print(f"accepted: {accepted[0]} ({errors[0]} errors) in {t_acc:.2f}s = "
              f"{accepted[0] / t_acc:.1f} msg/s")
        print(f"delivered: {got}/{want} mailbox files in {t_del:.2f}s = "
              f"{got / t_del:.1f} deliveries/s")
        print(f"cpu: {cpu:.2f}s for the suite = {cpu * 1000 / max(1, accepted[0]):.2f} "
              f"CPU seconds per 1000 messages")


if __name__ == "__main__":
    main()
