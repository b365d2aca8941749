#!/usr/bin/env python3
"""End to end with the real daemons: smtplib -> smtpd -> queue -> qmgr ->
smtp (LMTP) -> lmtpd -> Maildir new/. Checks the content is byte-exact
below the added headers, aliases (several targets), catch-all and +tag,
two recipients of which one is unknown (550 for one, delivery for the
other), "sendmail -t" (Bcc removed) and bsd-mailx's "mail" through our
sendmail, and deferred mail retried when lmtpd is down and comes back.
"""
import os
import re
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from dovetail_test import bin_path, need_program, need_root  # noqa: E402
from instance import mail_suite, wait_for  # noqa: E402

FAILURES = []
ADDED = (b"Return-Path:", b"Delivered-To:", b"Received:")


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILURES.append(what)
    return cond


def split_added(data):
    """(added header block, rest): the headers lmtpd and smtpd put on top."""
    lines = data.split(b"\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(ADDED) or (i > 0 and line[:1] in (b" ", b"\t")
                                      and lines[i - 1] is not None):
            i += 1
            continue
        break
    return b"\n".join(lines[:i]) + b"\n", b"\n".join(lines[i:])


def wait_mail(inst, user, domain, count, timeout=20):
    md = inst.maildir(user, domain)
    wait_for(lambda: len(inst.maildir_new(md)) >= count, timeout)
    return inst.maildir_new(md)


def find(msgs, token):
    return [v for v in msgs.values() if token in v]


def main():
    need_root()
    inst, acc = mail_suite()
    inst.need_daemons("smtpd", "qmgr", "smtp", "lmtpd", "sendmail")
    mailx = need_program("bsd-mailx", "bsd-mailx")
    for u in ("alice", "bob", "carol"):
        acc.add_user(f"{u}@example.org")
    acc.add_alias("info@example.org", "alice@example.org")
    acc.add_alias("info@example.org", "bob@example.org")
    acc.add_domain("catch.example")
    acc.add_alias("@catch.example", "carol@example.org")
    with inst:
        inst.start()
        smtp = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30)

        # Byte-exact delivery.
        body = (b"From: Sender <x@example.net>\r\nTo: alice@example.org\r\n"
                b"Subject: exact\r\nX-Token: exact-1\r\n\r\nline one\r\n"
                b".starts with a dot\r\n\r\n  spaces  \r\n\xc3\xa9 8bit\r\nlast\r\n")
        refused = smtp.sendmail("x@example.net", ["alice@example.org"], body)
        check(refused == {}, "smtpd accepts the message for alice")
        msgs = wait_mail(inst, "alice", "example.org", 1)
        got = find(msgs, b"exact-1")
        check(len(got) == 1, "exactly one copy lands in alice's Maildir new/")
        if got:
            data = got[0]
            added, rest = split_added(data)
            check(rest.replace(b"\n", b"\r\n") == body or rest == body,
                  "the message is byte-exact below the added headers")
            check(added.startswith(b"Return-Path: <x@example.net>"),
                  "Return-Path is first")
            check(b"Delivered-To: alice@example.org" in added, "Delivered-To is added")
            check(b"Received:" in added, "a Received header is added")
        check(inst.wait_log(r"to=<alice@example.org>, relay=.*dsn=2\.0\.0, status=sent", 5),
              "the Postfix delivery line is logged")
        qids = re.findall(r"(\w+): client=", inst.log())
        check(qids and inst.wait_log(rf"{qids[0]}: removed", 10), "the queue file is removed")

        # Alias with two targets, catch-all, +tag.
        smtp.sendmail("x@example.net", ["info@example.org"],
                      b"Subject: alias\r\nX-Token: alias-1\r\n\r\nto info\r\n")
        smtp.sendmail("x@example.net", ["whoever@catch.example"],
                      b"Subject: catch\r\nX-Token: catch-1\r\n\r\nto catch-all\r\n")
        smtp.sendmail("x@example.net", ["bob+tag@example.org"],
                      b"Subject: tag\r\nX-Token: tag-1\r\n\r\nto bob+tag\r\n")
        a = wait_mail(inst, "alice", "example.org", 2)
        b = wait_mail(inst, "bob", "example.org", 2)
        c = wait_mail(inst, "carol", "example.org", 1)
        check(len(find(a, b"alias-1")) == 1 and len(find(b, b"alias-1")) == 1,
              "an alias with two targets reaches both")
        check(len(find(c, b"catch-1")) == 1, "the catch-all alias reaches carol")
        check(len(find(b, b"tag-1")) == 1, "user+tag reaches the user")

        # Two recipients, one unknown.
        try:
            refused = smtp.sendmail("x@example.net", ["carol@example.org", "ghost@example.org"],
                                    b"Subject: two\r\nX-Token: two-1\r\n\r\nx\r\n")
        except smtplib.SMTPRecipientsRefused as e:
            refused = e.recipients
        check(list(refused) == ["ghost@example.org"] and refused["ghost@example.org"][0] == 550,
              f"the unknown recipient gets 550 ({refused})")
        c = wait_mail(inst, "carol", "example.org", 2)
        check(len(find(c, b"two-1")) == 1, "the known recipient still gets the message")
        smtp.quit()

        # sendmail -t: recipients from the headers, Bcc removed.
        env = dict(os.environ, MAIL_CONFIG=inst.conf)
        p = subprocess.run([bin_path("sendmail"), "-t", "-i"], env=env,
                           input=b"To: alice@example.org\nBcc: bob@example.org\n"
                                 b"Subject: via sendmail\nX-Token: sm-1\n\n.\nbody\n",
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        check(p.returncode == 0, f"sendmail -t exits 0 ({p.stdout!r})")
        a = wait_mail(inst, "alice", "example.org", 4)
        b = wait_mail(inst, "bob", "example.org", 3)
        sa, sb = find(a, b"sm-1"), find(b, b"sm-1")
        check(len(sa) == 1 and len(sb) == 1, "sendmail -t delivers to To: and Bcc:")
        check(all(b"\nBcc:" not in m for m in sa + sb), "the Bcc header is removed")
        check(sa and b"\n.\n" in sa[0].replace(b"\r\n", b"\n"),
              "with -i a lone dot is message text")
        check(sa and re.search(rb"\nFrom: .*root@test\.example", sa[0]) is not None,
              "a missing From: is added with user@myorigin")

        # An ordinary local user (nobody) may post too: no setuid, the
        # peer uid is its identity.
        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)
        p = subprocess.run([bin_path("sendmail"), "alice@example.org"], env=env,
                           input=b"Subject: from nobody\nX-Token: nobody-1\n\nhi\n",
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30,
                           preexec_fn=as_nobody)
        check(p.returncode == 0, f"sendmail run by user nobody exits 0 ({p.stdout!r})")
        a = wait_mail(inst, "alice", "example.org", 5)
        got = find(a, b"nobody-1")
        check(len(got) == 1 and b"Return-Path: <nobody@test.example>" in got[0],
              "nobody's message is delivered with sender nobody@myorigin")

        # bsd-mailx "mail" through our sendmail.
        rc = os.path.join(inst.top, "mailrc")
        with open(rc, "w") as f:
            f.write(f"set sendmail={bin_path('sendmail')}\n")
        p = subprocess.run([mailx, "-s", "Test from mail", "carol@example.org"],
                           env=dict(env, MAILRC=rc), input=b"Hello from mail\n",
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        check(p.returncode == 0, f"mail exits 0 ({p.stdout!r})")
        c = wait_mail(inst, "carol", "example.org", 3)
        check(len(find(c, b"Hello from mail")) == 1
              and len(find(c, b"Subject: Test from mail")) == 1,
              "echo Hello | mail -s Test user@domain lands in the mailbox")

        # sendmail -bs: an SMTP session on stdin/stdout.
        sp = subprocess.Popen([bin_path("sendmail"), "-bs"], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)

        def bs(line=None):
            if line is not None:
                sp.stdin.write(line + b"\r\n")
                sp.stdin.flush()
            out = b""
            while True:
                ln = sp.stdout.readline()
                out += ln
                if not ln or ln[3:4] != b"-":
                    return out
        greeting = bs()
        check(greeting.startswith(b"220 "), f"sendmail -bs relays the greeting ({greeting!r})")
        bs(b"EHLO localhost")
        bs(b"MAIL FROM:<root@test.example>")
        r = bs(b"RCPT TO:<bob@example.org>")
        d = bs(b"DATA")
        sp.stdin.write(b"Subject: bs\r\nX-Token: bs-1\r\n\r\nvia -bs\r\n")
        q = bs(b".")
        bs(b"QUIT")
        sp.stdin.close()
        sp.wait(timeout=10)
        check(r.startswith(b"250") and d.startswith(b"354") and b"queued as" in q,
              f"sendmail -bs carries a whole transaction ({q!r})")
        b = wait_mail(inst, "bob", "example.org", 4)
        check(len(find(b, b"bs-1")) == 1, "the -bs message is delivered")

        # The suite not running: sendmail says so and exits EX_TEMPFAIL.
        p = subprocess.run([bin_path("sendmail"), "alice@example.org"],
                           env=dict(os.environ, MAIL_CONFIG="/nonexistent-dovetail"),
                           input=b"x\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        check(p.returncode != 0, "sendmail fails without a configuration")

        # lmtpd down: deferred; back: delivered.
        services = inst.services
        inst.services = [s for s in services if s != "lmtpd"]
        inst.write_config()
        inst.dovetail("reload", check=True)
        sock = inst.queue_path("private", "dovetail-lmtp")
        check(wait_for(lambda: not os.path.exists(sock), 10), "lmtpd removed by reload")
        start = inst.log_size()
        smtp = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30)
        smtp.sendmail("x@example.net", ["bob@example.org"],
                      b"Subject: later\r\nX-Token: later-1\r\n\r\nx\r\n")
        smtp.quit()
        check(inst.wait_log(r"to=<bob@example.org>.*status=deferred", 15, start),
              "with lmtpd down the message is deferred")
        inst.services = services
        inst.write_config()
        inst.dovetail("reload", check=True)
        b = wait_mail(inst, "bob", "example.org", 5, timeout=30)
        check(len(find(b, b"later-1")) == 1, "once lmtpd is back the deferred message is delivered")
        check(wait_for(inst.queue_empty, 10), "the queue is empty at the end")
        inst.stop()
        p = subprocess.run([bin_path("sendmail"), "alice@example.org"], env=env,
                           input=b"Subject: x\n\nx\n", stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        check(p.returncode == 75 and b"is Dovetail running?" in p.stdout,
              f"with the suite stopped sendmail says so and exits 75 ({p.stdout!r})")
        if FAILURES:
            print("--- mail.log ---\n" + inst.log()[-30000:])
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print("all end-to-end checks passed")


if __name__ == "__main__":
    main()
