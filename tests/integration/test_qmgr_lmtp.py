#!/usr/bin/env python3
"""qmgr + smtp (LMTP mode) against a fake LMTP server (a test peer):
delivery byte-exact with dot-stuffing, per-recipient results (one known,
one unknown user), DSN parameters passed on, temporary failures deferred
and retried, an LMTP server that is down then back, corrupt queue files
moved to corrupt/, files left in active/ resumed at start, and a batch of
messages. Queue files are written by an independent Python writer of the
documented format (tests/lib/queue_tools.py).
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from dovetail_test import bin_path, need_root  # noqa: E402
from instance import Instance, wait_for  # noqa: E402
from queue_tools import FakeLMTP, inject, wake_qmgr  # noqa: E402

FAILURES = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILURES.append(what)
    return cond


def main():
    need_root()
    inst = Instance(services=("qmgr", "lmtp"), queue_run_delay=1)
    inst.need_daemons("qmgr", "smtp")
    sock = inst.path("fake-lmtp.sock")
    inst.main_cf_extra = f"""
virtual_transport = lmtp:unix:{sock}
local_transport = lmtp:unix:{sock}
default_transport = lmtp:unix:{sock}
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
# The burst below is larger: qmgr must take it in rounds.
qmgr_message_active_limit = 50
"""
    fake = FakeLMTP(sock, ["alice@example.org", "bob@example.org"])
    # transport_maps sends one domain to an LMTP server over TCP.
    tcp_fake = FakeLMTP(None, ["dave@tcp.example"], pipelining=False, tcp=True)
    tmap = inst.path("transport")
    with open(tmap, "w") as f:
        f.write(f"tcp.example lmtp:inet:127.0.0.1:{tcp_fake.port}\n")
    os.chmod(tmap, 0o644)
    inst.main_cf_extra += f"transport_maps = texthash:{tmap}\n"
    with inst:
        # A message left in active/ by a crash before the start is resumed.
        inst.setup()
        early = inject(inst.queue, "early@example.net", ["alice@example.org"],
                       b"Subject: early\r\n\r\nleft in active\r\n", sub="active")
        # More than qmgr_message_active_limit (50) left in active/: all resumed.
        more = [inject(inst.queue, "early@example.net", ["bob@example.org"],
                       b"Subject: early %d\r\n\r\nx\r\n" % i, sub="active") for i in range(60)]
        inst.start()
        check(inst.wait_log(rf"{early}: removed", 15), "a file in active/ at start is delivered")
        check(wait_for(lambda: all(f"{i}: removed" in inst.log() for i in more), 20),
              "61 files in active/ at start (limit 50) are all delivered")

        # Two recipients, one unknown: 250 for one, 550 for the other.
        content = (b"From: x@example.net\r\nSubject: hello\r\n\r\n"
                   b".leading dot\r\n..two dots\r\nplain\r\n.\r\nend\r\n")
        qid = inject(inst.queue, "x@example.net",
                     [("alice@example.org", "alias@example.org", "rfc822;alias@example.org", 6),
                      "nobody@example.org"],
                     content, attrs={"envid": "env1", "ret": "HDRS", "body_type": "8BITMIME"})
        wake_qmgr(inst.queue)
        check(inst.wait_log(rf"{qid}: removed", 15), "message with one unknown recipient is removed")
        log = inst.log()
        check(f"{qid}: from=<x@example.net>, size={len(content)}, nrcpt=2 (queue active)" in log,
              "qmgr logs from=, size=, nrcpt= (queue active)")
        check(inst.wait_log(rf"{qid}: to=<alice@example.org>, relay=.*, delay=.*, "
                            rf"delays=[\d.e+-]+/[\d.e+-]+/[\d.e+-]+/[\d.e+-]+, dsn=2\.0\.0, "
                            rf"status=sent \(250 2\.0\.0 <alice@example\.org> Saved\)", 5),
              "smtp logs the Postfix delivery line for the known user")
        check(f"{qid}: to=<nobody@example.org>" in log and "dsn=5.1.1, status=bounced" in log,
              "the unknown user is bounced with 5.1.1")
        msgs = [m for m in fake.messages if m[0] == "x@example.net"]
        check(len(msgs) == 1 and msgs[0][1] == ["alice@example.org"],
              "one LMTP transaction with the accepted recipient only")
        check(msgs and msgs[0][2] == content, "content arrives byte-exact (dot-stuffing undone)")
        if msgs:
            mail_line, rcpt_lines = msgs[0][3], msgs[0][4]
            check("SIZE=%d" % len(content) in mail_line and "BODY=8BITMIME" in mail_line
                  and "RET=HDRS" in mail_line and "ENVID=env1" in mail_line,
                  f"MAIL FROM carries SIZE, BODY, RET, ENVID ({mail_line})")
            check("NOTIFY=SUCCESS,FAILURE" in rcpt_lines[0]
                  and "ORCPT=rfc822;alias@example.org" in rcpt_lines[0],
                  f"RCPT TO carries NOTIFY and ORCPT ({rcpt_lines[0]})")
        check(wait_for(inst.queue_empty, 5), "the queue is empty afterwards")

        # Temporary failure: deferred, then retried and delivered.
        fake.mode = "tempfail"
        qid = inject(inst.queue, "t@example.net", ["bob@example.org"], b"Subject: t\r\n\r\nretry\r\n")
        wake_qmgr(inst.queue)
        check(inst.wait_log(rf"{qid}: to=<bob@example.org>.*dsn=4\.3\.0, status=deferred", 10),
              "a 451 reply is logged as deferred")
        check(wait_for(lambda: qid in inst.queue_files("deferred"), 5),
              "the deferred message is in deferred/")
        mailq = os.path.join(inst.top, "mailq")
        os.symlink(bin_path("sendmail"), mailq)
        env = dict(os.environ, MAIL_CONFIG=inst.conf)
        p = subprocess.run([mailq], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        check(p.returncode == 0 and re.search(rf"^{qid}[ *]\s+\d+ .* t@example\.net$", p.stdout, re.M)
              and "(451 4.3.0 <bob@example.org> Temporary failure)" in p.stdout
              and re.search(r"^\s+bob@example\.org$", p.stdout, re.M)
              and "in 1 Request." in p.stdout,
              f"mailq lists the deferred message, its reason and recipient:\n{p.stdout}")
        fake.mode = "ok"
        check(inst.wait_log(rf"{qid}: to=<bob@example.org>.*status=sent", 20),
              "the deferred message is retried and delivered")
        wait_for(inst.queue_empty, 5)
        p = subprocess.run([bin_path("sendmail"), "-bp"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        check(p.stdout == "Mail queue is empty\n", f"sendmail -bp says the queue is empty ({p.stdout!r})")
        check(inst.wait_log(rf"{qid}: removed", 5), "and then removed")

        # 4xx after the dot (RFC 2033 per-recipient reply) defers too.
        fake.mode = "after_data_tempfail"
        qid = inject(inst.queue, "d@example.net", ["bob@example.org"], b"Subject: d\r\n\r\nx\r\n")
        wake_qmgr(inst.queue)
        check(inst.wait_log(rf"{qid}: to=<bob@example.org>.*dsn=4\.2\.2, status=deferred", 10),
              "a 452 after the final dot defers the recipient")
        fake.mode = "ok"
        check(inst.wait_log(rf"{qid}: removed", 20), "and it is delivered on retry")

        # The LMTP server is down: deferred with the connect error; back up: delivered.
        fake.stop()
        qid = inject(inst.queue, "down@example.net", ["alice@example.org"], b"Subject: down\r\n\r\nx\r\n")
        wake_qmgr(inst.queue)
        check(inst.wait_log(rf"{qid}: to=<alice@example.org>.*status=deferred \(connect to", 10),
              "a down LMTP server defers with the connect error")
        fake.start()
        check(inst.wait_log(rf"{qid}: removed", 20), "delivered once the LMTP server is back")

        # transport_maps + lmtp:inet:host:port, to a server without PIPELINING.
        qid = inject(inst.queue, "m@example.net", ["dave@tcp.example", "eve@tcp.example"],
                     b"Subject: tcp\r\n\r\n.dot\r\n")
        wake_qmgr(inst.queue)
        check(inst.wait_log(rf"{qid}: removed", 15), "transport_maps routes to an inet LMTP server")
        log = inst.log()
        check(re.search(rf"{qid}: to=<dave@tcp\.example>, relay=fake\.test\[127\.0\.0\.1:{tcp_fake.port}\].*status=sent", log)
              and re.search(rf"{qid}: to=<eve@tcp\.example>.*dsn=5\.1\.1, status=bounced", log),
              "without PIPELINING the per-recipient results are right too")
        check(len(tcp_fake.messages) == 1 and tcp_fake.messages[0][2] == b"Subject: tcp\r\n\r\n.dot\r\n",
              "the TCP LMTP server got the message byte-exact")

        # A corrupt queue file goes to corrupt/.
        bad = inject(inst.queue, "", [], b"", raw=b"V16:DOVETAIL-QUEUE-1\nT3:1.0\nS0:\nR9:garbage")
        wake_qmgr(inst.queue)
        check(wait_for(lambda: bad in inst.queue_files("corrupt"), 10),
              "a truncated queue file is moved to corrupt/")
        check(inst.wait_log(rf"warning: {bad}: .*corrupt", 5), "and a warning names it")

        # A burst of messages all arrive.
        n = 200
        before = len(fake.messages)
        ids = [inject(inst.queue, "burst@example.net", ["alice@example.org", "bob@example.org"],
                      b"Subject: burst %d\r\n\r\nbody\r\n" % i) for i in range(n)]
        wake_qmgr(inst.queue)
        check(wait_for(lambda: len(fake.messages) - before >= n and inst.queue_empty(), 60),
              f"{n} messages delivered and removed ({len(fake.messages) - before} seen)")
        # "removed" is logged just after the unlink: give it a moment.
        check(wait_for(lambda: all(f"{i}: removed" in inst.log() for i in ids), 10),
              "every burst message logged removed")

        # kill -9 of qmgr: master restarts it and it resumes.
        fake.mode = "tempfail"
        qid = inject(inst.queue, "k@example.net", ["alice@example.org"], b"Subject: k\r\n\r\nx\r\n")
        wake_qmgr(inst.queue)
        inst.wait_log(rf"{qid}: to=<alice@example.org>.*status=deferred", 10)
        inst.kill("qmgr")
        fake.mode = "ok"
        check(inst.wait_log(rf"{qid}: removed", 30), "after kill -9 of qmgr the deferred message is delivered")
        if FAILURES:
            print("--- mail.log ---\n" + inst.log()[-20000:])
    fake.stop()
    tcp_fake.stop()
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print("all qmgr/lmtp checks passed")


if __name__ == "__main__":
    main()
