#!/usr/bin/env python3
"""Durability: while a few hundred messages flow through the real suite
(smtpd -> queue -> qmgr -> smtp -> lmtpd -> Maildir), smtpd, qmgr, smtp
and lmtpd are killed with SIGKILL at random moments (master restarts
them). Afterwards every message that got a 250 is in each of its
recipients' mailboxes; duplicates are allowed (a delivery cut between the
mailbox write and the status record) and counted; no file in new/ is
partial; the queue drains.
"""
import os
import random
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from dovetail_test import need_root  # noqa: E402
from instance import mail_suite, wait_for  # noqa: E402

FAILURES = []
N_MESSAGES = int(os.environ.get("DOVETAIL_DURABILITY_MESSAGES", "300"))
SENDERS = 4
VICTIMS = tuple(os.environ.get("DOVETAIL_DURABILITY_VICTIMS", "smtpd,qmgr,smtp,lmtpd").split(","))


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILURES.append(what)
    return cond


def body_for(token):
    filler = b"".join(b"%s line %d of the message body\r\n" % (token.encode(), i)
                      for i in range(40))
    return (b"Subject: durability %s\r\nX-Token: %s\r\n\r\n" % (token.encode(), token.encode())
            + filler + b"END-%s\r\n" % token.encode())


def main():
    need_root()
    inst, acc = mail_suite()
    inst.need_daemons("smtpd", "qmgr", "smtp", "lmtpd")
    inst.main_cf_extra += "service_throttle_time = 1s\n"
    users = ["alice@example.org", "bob@example.org"]
    for u in users:
        acc.add_user(u)
    accepted = {}
    lock = threading.Lock()
    counter = iter(range(10 ** 9))
    stop = threading.Event()
    kills = []

    def sender():
        conn = None
        while not stop.is_set():
            with lock:
                if len(accepted) >= N_MESSAGES:
                    return
                n = next(counter)
            token = f"dur{n:05d}"
            rcpts = [users[n % 2]] if n % 3 else list(users)
            try:
                if conn is None:
                    conn = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=20)
                refused = conn.sendmail("load@example.net", rcpts, body_for(token))
                if not refused:
                    with lock:
                        accepted[token] = rcpts
                # Spread the flow over several seconds so the kills land
                # at every stage of the path.
                time.sleep(random.uniform(0.05, 0.15))
            except (smtplib.SMTPException, OSError):
                try:
                    if conn is not None:
                        conn.close()
                except OSError:
                    pass
                conn = None
                time.sleep(0.05)
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                pass

    def killer():
        rnd = random.Random(int(os.environ.get("DOVETAIL_SEED", str(int(time.time())))))
        while not stop.is_set():
            time.sleep(rnd.uniform(0.1, 0.4))
            victim = rnd.choice(VICTIMS)
            pids = inst.kill(victim)
            if pids:
                kills.append(victim)

    with inst:
        inst.start()
        t0 = time.time()
        threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
        k = threading.Thread(target=killer)
        for t in threads:
            t.start()
        k.start()
        for t in threads:
            t.join(timeout=600)
        # Keep killing while the last messages are being delivered.
        time.sleep(2)
        stop.set()
        k.join()
        print(f"{len(accepted)} messages accepted in {time.time() - t0:.1f}s; "
              f"{len(kills)} kills: " + ", ".join(f"{v}={kills.count(v)}" for v in VICTIMS))
        check(len(accepted) >= N_MESSAGES, f"{N_MESSAGES} messages got a 250")
        check(all(kills.count(v) > 0 for v in VICTIMS), "every victim was killed at least once")

        def mailbox(user):
            local, domain = user.split("@")
            return inst.maildir_new(inst.maildir(local, domain))

        def missing():
            boxes = {u: mailbox(u) for u in users}
            seen = {u: set() for u in users}
            for u, files in boxes.items():
                for data in files.values():
                    i = data.find(b"X-Token: ")
                    if i >= 0:
                        seen[u].add(data[i + 9:i + 17].decode())
            return [(t, u) for t, rs in accepted.items() for u in rs if t not in seen[u]]

        wait_for(lambda: not missing() and inst.queue_empty(), 180, step=0.5)
        lost = missing()
        check(not lost, f"every accepted message reached every recipient "
                        f"({len(lost)} missing: {lost[:5]})")
        check(inst.queue_empty(), "the queue drains")
        dups, partial, total = 0, 0, 0
        for u in users:
            counts = {}
            for name, data in mailbox(u).items():
                total += 1
                i = data.find(b"X-Token: ")
                token = data[i + 9:i + 17].decode() if i >= 0 else "?"
                counts[token] = counts.get(token, 0) + 1
                expected = body_for(token).split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")
                if not data.replace(b"\r\n", b"\n").endswith(expected):
                    partial += 1
                    print(f"partial file {u} {name}: {len(data)} bytes")
            dups += sum(c - 1 for c in counts.values() if c > 1)
        check(partial == 0, f"no partial files in new/ ({total} files)")
        print(f"duplicates (allowed, cut between delivery and status record): {dups}")
        # Each kill can repeat at most the deliveries in flight at that
        # moment (default_destination_concurrency_limit batches).
        check(dups <= len(kills) * 20 * len(users),
              f"duplicates stay within what the kills can explain ({dups})")
        # A restart of a drained queue delivers nothing again: the status
        # records were durable.
        before = sum(len(mailbox(u)) for u in users)
        inst.stop()
        inst.start()
        time.sleep(3)
        after = sum(len(mailbox(u)) for u in users)
        check(before == after, f"a restart delivers nothing twice ({before} -> {after} files)")
        if FAILURES:
            print("--- mail.log (tail) ---\n" + inst.log()[-20000:])
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print("all durability checks passed")


if __name__ == "__main__":
    main()
