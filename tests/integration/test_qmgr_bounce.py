#!/usr/bin/env python3
"""qmgr bounces, notices, lifetimes and queue triggers (issue 5), with
qmgr + smtp (LMTP mode) and a fake LMTP peer that captures everything,
including the notifications qmgr queues to local senders:
- a 5xx recipient: an RFC 3464 bounce reaches the sender and parses with
  Python's email package (multipart/report, delivery-status fields);
- a recipient that always gets 4xx: deferred, retried, one delay warning
  (delay_warning_time=2s), then "status=expired, returned to sender" after
  maximal_queue_lifetime=5s and a failure report to the sender;
- NOTIFY=NEVER: no bounce; null sender bounced: no mail to <>, a double
  bounce to the postmaster; NOTIFY=SUCCESS: a success notice;
- a second instance with long back-off: "dovetail queue flush" and
  "sendmail -q" deliver a deferred message at once; hold/release.
Queue files are written by tests/lib/queue_tools.py (independent writer).
"""
import email
import email.policy
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from dovetail_test import bin_path, need_root  # noqa: E402
from instance import Instance, wait_for  # noqa: E402
from queue_tools import FakeLMTP, _fields, _rec, inject, queue_file_bytes, wake_qmgr  # noqa: E402

FAILURES = []
NOTIFY_NEVER, NOTIFY_SUCCESS, NOTIFY_FAILURE = 1, 2, 4


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILURES.append(what)
    return cond


def transports(sock):
    return f"""virtual_transport = lmtp:unix:{sock}
local_transport = lmtp:unix:{sock}
default_transport = lmtp:unix:{sock}
"""


def notices(fake, rcpt):
    """Messages from <> (or double-bounce@) delivered to rcpt."""
    return [m for m in list(fake.messages) if rcpt in m[1]]


def report_parts(raw):
    """Parses a multipart/report; returns (msg, text part, per-message
    fields, [per-recipient field dicts], original part) or None."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.get_content_type() != "multipart/report" or \
            msg.get_param("report-type") != "delivery-status":
        return None
    parts = msg.get_payload()
    ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    if len(parts) < 2 or parts[0].get_content_type() != "text/plain" or len(ds) != 1:
        return None
    blocks = ds[0].get_payload()  # compat32: a list of Message blocks
    if not isinstance(blocks, list) or len(blocks) < 2:
        return None
    orig = parts[2] if len(parts) > 2 else None
    return msg, parts[0], blocks[0], blocks[1:], orig


def main():
    need_root()
    inst = Instance(services=("qmgr", "lmtp"), queue_run_delay=1)
    inst.need_daemons("qmgr", "smtp")
    sock = inst.path("fake-lmtp.sock")
    inst.main_cf_extra = transports(sock) + """minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
maximal_queue_lifetime = 5s
bounce_queue_lifetime = 5s
delay_warning_time = 2s
"""
    users = ["alice@example.org", "sender@example.org", "postmaster@test.example"]
    fake = FakeLMTP(sock, users)
    with inst:
        inst.start()

        # 1. 5xx: a bounce to the (local) sender, valid RFC 3464.
        content = (b"From: sender@example.org\r\nTo: nobody@example.org\r\n"
                   b"Subject: to a missing user\r\nMessage-ID: <orig1@example.org>\r\n\r\nhello\r\n")
        qid = inject(inst.queue, "sender@example.org", ["alice@example.org", "nobody@example.org"],
                     content, attrs={"envid": "ENV-1"})
        wake_qmgr(inst.queue)
        m = inst.wait_log(rf"{qid}: sender non-delivery notification: (\w+)", 15)
        check(m, "a 5xx recipient: qmgr logs 'sender non-delivery notification: ID'")
        check(inst.wait_log(rf"{qid}: removed", 10), "the original is removed afterwards")
        check(wait_for(lambda: notices(fake, "sender@example.org"), 15),
              "the bounce is delivered to the sender through LMTP")
        b = notices(fake, "sender@example.org")
        if b:
            check(b[0][0] == "", f"the bounce has the null envelope sender ({b[0][0]!r})")
            rp = report_parts(b[0][2])
            check(rp is not None, "the bounce is multipart/report; report-type=delivery-status "
                  "with text/plain and message/delivery-status parts")
            if rp:
                msg, text, per_msg, per_rcpt, orig = rp
                check(msg["To"] and "sender@example.org" in msg["To"]
                      and "MAILER-DAEMON" in (msg["From"] or ""), "From: MAILER-DAEMON, To: the sender")
                check("Reporting-MTA" in per_msg and "dns;" in per_msg["Reporting-MTA"].replace(" ", "")
                      and per_msg["Original-Envelope-Id"] == "ENV-1",
                      f"per-message fields: Reporting-MTA, Original-Envelope-Id ({dict(per_msg)})")
                check(len(per_rcpt) == 1, f"one recipient block (the bounced one): {len(per_rcpt)}")
                r = per_rcpt[0]
                check(r["Final-Recipient"].replace(" ", "") == "rfc822;nobody@example.org"
                      and r["Action"] == "failed" and r["Status"] == "5.1.1"
                      and "550" in (r["Diagnostic-Code"] or ""),
                      f"per-recipient: Final-Recipient, Action: failed, Status 5.1.1, "
                      f"Diagnostic-Code ({dict(r)})")
                check(orig is not None and b"orig1@example.org" in orig.as_bytes(),
                      "the original message (or its headers) is attached")
        check(len([x for x in fake.messages if "alice@example.org" in x[1]]) == 1,
              "the good recipient got the message once")

        # 2. NOTIFY=NEVER: bounced, but no notification.
        before = len(fake.messages)
        qid = inject(inst.queue, "sender@example.org",
                     [("nobody@example.org", "", "", NOTIFY_NEVER)], b"Subject: never\r\n\r\nx\r\n")
        wake_qmgr(inst.queue)
        check(inst.wait_log(rf"{qid}: removed", 15), "NOTIFY=NEVER: bounced and removed")
        time.sleep(1.5)
        check(f"{qid}: sender non-delivery" not in inst.log() and len(fake.messages) == before,
              "NOTIFY=NEVER: no notification")

        # 3. The null sender: never a bounce to <>; a double bounce to postmaster.
        qid = inject(inst.queue, "", ["nobody@example.org"],
                     b"From: MAILER-DAEMON@elsewhere\r\nSubject: a bounce\r\n\r\nx\r\n")
        wake_qmgr(inst.queue)
        check(inst.wait_log(rf"{qid}: postmaster non-delivery notification: \w+", 15),
              "null sender bounced: logged as postmaster non-delivery notification")
        check(wait_for(lambda: notices(fake, "postmaster@test.example"), 15),
              "the double bounce reaches postmaster@$mydomain")
        d = notices(fake, "postmaster@test.example")
        if d:
            check(d[0][0].startswith("double-bounce@"),
                  f"the double bounce comes from double-bounce@$myorigin ({d[0][0]})")
            check(report_parts(d[0][2]) is not None, "the double bounce is an RFC 3464 report too")
        check(not any(x[1] == [""] for x in fake.messages), "nothing was sent to <>")

        # 4. NOTIFY=SUCCESS: a success notice.
        before = len(notices(fake, "sender@example.org"))
        qid = inject(inst.queue, "sender@example.org",
                     [("alice@example.org", "", "", NOTIFY_SUCCESS | NOTIFY_FAILURE)],
                     b"Subject: success please\r\n\r\nx\r\n")
        wake_qmgr(inst.queue)
        check(inst.wait_log(rf"{qid}: sender delivery status notification: \w+", 15),
              "NOTIFY=SUCCESS: 'sender delivery status notification' logged")
        check(wait_for(lambda: len(notices(fake, "sender@example.org")) > before, 15),
              "the success notice reaches the sender")
        n = notices(fake, "sender@example.org")
        if len(n) > before:
            rp = report_parts(n[-1][2])
            check(rp is not None and rp[3][0]["Action"] == "delivered"
                  and rp[3][0]["Status"].startswith("2."),
                  "the success notice says Action: delivered, Status 2.x.x")

        # 5. Always 4xx: retried, one delay warning, then expired and returned.
        fake.tempfail_users.add("slow@example.org")
        before = len(notices(fake, "sender@example.org"))
        start = inst.log_size()
        qid = inject(inst.queue, "sender@example.org", ["slow@example.org"],
                     b"Subject: slow\r\n\r\nwill expire\r\n")
        wake_qmgr(inst.queue)
        check(inst.wait_log(rf"{qid}: to=<slow@example\.org>, relay=.*, dsn=4\.3\.0, "
                            r"status=expired, returned to sender \(451 4\.3\.0", 25, start),
              "after maximal_queue_lifetime: status=expired, returned to sender")
        log = inst.log()
        tries = len(re.findall(rf"{qid}: to=<slow@example\.org>.*status=deferred", log))
        check(tries >= 3, f"the message was retried before it expired ({tries} deferrals)")
        check(len(re.findall(rf"{qid}: sender delay notification: \w+", log)) == 1,
              "exactly one delay warning (delay_warning_time=2s)")
        check(inst.wait_log(rf"{qid}: sender non-delivery notification: \w+", 10),
              "the expired message is returned with a non-delivery notification")
        check(inst.wait_log(rf"{qid}: removed", 10), "and the original is removed")
        check(wait_for(lambda: len(notices(fake, "sender@example.org")) >= before + 2, 15),
              "the delay warning and the bounce both reach the sender")
        kinds = {}
        for x in notices(fake, "sender@example.org")[before:]:
            rp = report_parts(x[2])
            if rp:
                kinds[rp[3][0]["Action"]] = (rp[0]["Subject"], rp[3][0])
        check("delayed" in kinds and "Delayed Mail" in kinds["delayed"][0],
              f"the delay warning is a report with Action: delayed ({list(kinds)})")
        check("failed" in kinds and kinds["failed"][1]["Status"].startswith("4.")
              and "451" in (kinds["failed"][1]["Diagnostic-Code"] or ""),
              "the expiry bounce: Action: failed with the last 4.x.x status and reply")

        # 6. One recipient bounced, one deferred: the bounce is sent once
        # (not again on the retries); the other expires and gets its own.
        qid = inject(inst.queue, "sender@example.org", ["nobody@example.org", "slow@example.org"],
                     b"Subject: mixed\r\n\r\nx\r\n")
        wake_qmgr(inst.queue)
        check(inst.wait_log(rf"{qid}: removed", 25), "mixed message: finally removed")
        ids = re.findall(rf"{qid}: sender non-delivery notification: (\w+)", inst.log())
        check(len(ids) == 2, f"two failure notices: one at once, one at expiry ({ids})")
        if len(ids) == 2:
            check(wait_for(lambda: sum(1 for x in fake.messages if x[0] == "" and
                                       b"mixed" in x[2]) >= 3, 15),
                  "the notices reach the sender")
            fails = []
            for x in fake.messages:
                rp = report_parts(x[2]) if x[0] == "" and b"mixed" in x[2] else None
                if rp and rp[3][0]["Action"] == "failed":
                    fails.append(sorted(r["Final-Recipient"] for r in rp[3]))
            check(fails == [["rfc822; nobody@example.org"], ["rfc822; slow@example.org"]],
                  f"each recipient is reported once ({fails})")

        # 7. A bounced recipient recorded before a crash, notice not yet
        # queued (mode bit g+x): the notice is sent when the file is loaded.
        now = time.time()
        raw = queue_file_bytes("sender@example.org", ["gone@example.org"],
                               b"Subject: crashed\r\n\r\nx\r\n", when=now)
        raw += _rec("D", _fields("0", "bounced", "5.1.1", str(int(now)), "0", "lmtp",
                                 "550 5.1.1 <gone@example.org> gone"))
        qid = inject(inst.queue, "", [], b"", sub="deferred", raw=raw)
        os.chmod(inst.queue_path("deferred", qid), 0o610)
        wake_qmgr(inst.queue)
        check(inst.wait_log(rf"{qid}: sender non-delivery notification: \w+", 15),
              "a bounce owed before a crash is sent after it")
        check(inst.wait_log(rf"{qid}: removed", 10), "and the file is removed")

        if FAILURES:
            print("--- mail.log ---\n" + inst.log()[-20000:])
    fake.stop()

    # Second instance: long back-off, so only a flush delivers at once.
    inst = Instance(services=("qmgr", "lmtp"), queue_run_delay=3600)
    sock = inst.path("fake-lmtp.sock")
    inst.main_cf_extra = transports(sock) + """minimal_backoff_time = 3600s
maximal_backoff_time = 4000s
queue_run_delay = 3600s
"""
    fake = FakeLMTP(sock, ["bob@example.org"])
    env = dict(os.environ, MAIL_CONFIG=inst.conf)
    with inst:
        inst.start()
        fake.mode = "tempfail"
        qid = inject(inst.queue, "s@example.net", ["bob@example.org"], b"Subject: f\r\n\r\nx\r\n")
        wake_qmgr(inst.queue)
        check(wait_for(lambda: qid in inst.queue_files("deferred"), 15), "deferred (back-off 1h)")
        fake.mode = "ok"
        time.sleep(2)
        check(qid in inst.queue_files("deferred"), "not retried before its time")
        rc, out = inst.dovetail("queue", "flush")
        check(rc == 0, f"dovetail queue flush succeeds ({out.strip()})")
        check(inst.wait_log(rf"{qid}: removed", 10), "dovetail queue flush delivers it at once")

        # sendmail -q does the same, without touching the files.
        fake.mode = "tempfail"
        qid = inject(inst.queue, "s@example.net", ["bob@example.org"], b"Subject: q\r\n\r\nx\r\n")
        wake_qmgr(inst.queue)
        check(wait_for(lambda: qid in inst.queue_files("deferred"), 15), "a second message deferred")
        fake.mode = "ok"
        p = subprocess.run([bin_path("sendmail"), "-q"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        check(p.returncode == 0, f"sendmail -q succeeds ({p.stdout.strip()})")
        check(inst.wait_log(rf"{qid}: removed", 10), "sendmail -q delivers it at once")

        # hold/release: a held message is never scheduled.
        fake.mode = "tempfail"
        qid = inject(inst.queue, "s@example.net", ["bob@example.org"], b"Subject: h\r\n\r\nx\r\n")
        wake_qmgr(inst.queue)
        check(wait_for(lambda: qid in inst.queue_files("deferred"), 15), "a third message deferred")
        rc, out = inst.dovetail("queue", "hold", qid)
        check(rc == 0 and qid in inst.queue_files("hold"), f"dovetail queue hold moves it to hold/ ({out.strip()})")
        fake.mode = "ok"
        inst.dovetail("queue", "flush")
        time.sleep(3)
        check(qid in inst.queue_files("hold") and f"{qid}: removed" not in inst.log(),
              "a flush does not touch held mail")
        rc, out = inst.dovetail("queue", "release", qid)
        check(rc == 0, f"dovetail queue release succeeds ({out.strip()})")
        inst.dovetail("queue", "flush")
        check(inst.wait_log(rf"{qid}: removed", 10), "released and flushed: delivered")
        if FAILURES:
            print("--- mail.log ---\n" + inst.log()[-20000:])
    fake.stop()
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print("all qmgr bounce/trigger checks passed")


if __name__ == "__main__":
    main()
