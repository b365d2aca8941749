"""RFC 3464 notifications from lib/mail/dsn_bounce (driven through
tests/dsn_tool) parsed with Python's email package: multipart/report
structure, the delivery-status fields per recipient, the original message
(RET=FULL) or its headers (RET=HDRS, too large, 8-bit), delay warnings,
success notices, double bounces, and NOTIFY=NEVER / null sender -> none.
"""
import email
import email.policy
import os
import shutil
import subprocess
import sys
import tempfile

from dovetail_test import BUILD_DIR, missing

TOOL = os.path.join(BUILD_DIR, "tests", "dsn_tool")
INJECT = os.path.join(BUILD_DIR, "tests", "queue_inject_tool")
NOTIFY_NEVER, NOTIFY_SUCCESS, NOTIFY_FAILURE, NOTIFY_DELAY = 1, 2, 4, 8

ORIG = (b"From: Alice <alice@example.com>\r\nTo: bob@example.org\r\n"
        b"Subject: hello there\r\nMessage-ID: <orig.1@example.com>\r\n\r\n"
        b"First body line\r\nSecond body line\r\n")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(args, content=ORIG):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(content)
        path = f.name
    try:
        p = subprocess.run([TOOL, "-c", path] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
    finally:
        os.unlink(path)
    return p


def report(args, content=ORIG):
    p = run(args, content)
    if p.returncode != 0:
        raise SystemExit(f"dsn_tool {args} failed: {p.returncode} {p.stderr!r}")
    raw = p.stdout
    for line in raw.split(b"\r\n"):
        check(len(line) <= 998, f"line longer than 998: {line[:60]!r}")
    check(b"\n" not in raw.replace(b"\r\n", b""), "bare LF in output")
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return raw, msg, p.stderr.decode()


def status_groups(msg):
    """The delivery-status part as (per-message dict, [per-rcpt dicts])."""
    parts = msg.get_payload()
    ds = parts[1]
    check(ds.get_content_type() == "message/delivery-status",
          f"second part is {ds.get_content_type()}")
    groups = [dict(g.items()) for g in ds.get_payload()]
    return groups[0], groups[1:]


def test_failure_full():
    raw, msg, info = report([
        "-e", "ENV-42",
        "rcpt@example.org|0|failed|5.1.1|mx.example.org|550 5.1.1 "
        "<rcpt@example.org>: Recipient address rejected|rfc822;rcpt+2Bx@example.org",
        "other@example.net|4|failed|5.4.4||Host or domain name not found|"])
    check(msg.get_content_type() == "multipart/report", "not multipart/report")
    check(msg.get_param("report-type") == "delivery-status", "report-type")
    check(msg["Subject"] == "Undelivered Mail Returned to Sender", "subject")
    check(msg["From"] == "MAILER-DAEMON@mail.example.org (Mail Delivery System)",
          f"from {msg['From']}")
    check(msg["To"] == "sender@example.com", "to")
    check(msg["Auto-Submitted"] == "auto-replied", "auto-submitted")
    check(msg["MIME-Version"] == "1.0", "mime-version")
    check(msg["Message-ID"] and msg["Date"], "message-id/date")
    parts = msg.get_payload()
    check(len(parts) == 3, f"{len(parts)} parts")
    text = parts[0].get_payload()
    check(parts[0].get_content_type() == "text/plain", "text part type")
    check("This is the mail system at host mail.example.org." in text, "text intro")
    check("I'm sorry to have to inform you that your message could not" in text,
          "postfix wording")
    check("<rcpt@example.org>: 550 5.1.1" in text, "reason in text")
    check("<other@example.net>: Host or domain name not found" in text, "2nd reason")
    per_msg, rcpts = status_groups(msg)
    check(per_msg.get("Reporting-MTA") == "dns; mail.example.org", "reporting-mta")
    check(per_msg.get("Original-Envelope-Id") == "ENV-42", "envid")
    check(per_msg.get("X-Dovetail-Queue-ID") == "4ZxTqJ1Hbtz3Vn", "queue id")
    check("Arrival-Date" in per_msg, "arrival-date")
    check(len(rcpts) == 2, f"{len(rcpts)} recipient groups")
    r = rcpts[0]
    check(r.get("Final-Recipient") == "rfc822; rcpt@example.org", "final-recipient")
    check(r.get("Original-Recipient") == "rfc822;rcpt+x@example.org",
          f"orcpt {r.get('Original-Recipient')}")
    check(r.get("Action") == "failed", "action")
    check(r.get("Status") == "5.1.1", "status")
    check(r.get("Remote-MTA") == "dns; mx.example.org", "remote-mta")
    diag = " ".join(r.get("Diagnostic-Code", "").split())
    check(diag == "smtp; 550 5.1.1 <rcpt@example.org>: Recipient address rejected",
          f"diagnostic {diag!r}")
    check("Last-Attempt-Date" in r, "last-attempt-date")
    check(rcpts[1].get("Status") == "5.4.4", "2nd status")
    check(rcpts[1].get("Diagnostic-Code", "").startswith("X-Dovetail;"), "non-smtp diag")
    orig = parts[2]
    check(orig.get_content_type() == "message/rfc822", f"third part {orig.get_content_type()}")
    inner = orig.get_payload()[0]
    check(inner["Subject"] == "hello there", "original subject")
    check("Second body line" in inner.get_payload(), "original body")
    check("full=1" in info and "eight_bit=0" in info, f"result {info}")
    check(b"Content-Transfer-Encoding: 7bit" in raw, "7bit")


def test_failure_hdrs():
    raw, msg, _ = report(["-r", "hdrs", "rcpt@example.org|0|failed|5.1.1|||"])
    orig = msg.get_payload()[2]
    check(orig.get_content_type() == "text/rfc822-headers", "hdrs type")
    body = orig.get_payload()
    check("Subject: hello there" in body, "headers present")
    check("First body line" not in body, "body left out with RET=HDRS")


def test_large_message_headers_only():
    big = ORIG + b"x" * 70 + b"\r\n"
    big = big + (b"y" * 76 + b"\r\n") * 2000
    raw, msg, info = report(["-l", "50000", "rcpt@example.org|0|failed|5.1.1|||"], big)
    orig = msg.get_payload()[2]
    check(orig.get_content_type() == "text/rfc822-headers", "large -> headers")
    check(len(raw) < 20000, f"bounce of a large message is {len(raw)} bytes")
    check("full=0" in info, "not full")


def test_8bit_headers_encoded():
    content = ("From: J\u00fcrgen <j@example.com>\r\nSubject: gr\u00fc\u00dfe\r\n\r\n"
               "K\u00f6rper\r\n").encode()
    raw, msg, info = report(["-7", "rcpt@example.org|0|failed|5.1.1|||"], content)
    check(all(b < 0x80 for b in raw), "8-bit byte in a 7-bit-only bounce")
    orig = msg.get_payload()[2]
    check(orig.get_content_type() == "text/rfc822-headers", "8bit -> headers")
    check(orig["Content-Transfer-Encoding"] == "quoted-printable", "qp")
    dec = orig.get_payload(decode=True).decode()
    check("Subject: gr\u00fc\u00dfe" in dec, f"qp decodes: {dec!r}")
    # Without -7 the original goes whole, labelled 8bit (BODY=8BITMIME).
    raw, msg, info = report(["rcpt@example.org|0|failed|5.1.1|||"], content)
    check("eight_bit=1" in info and "full=1" in info, f"8bit full {info}")
    check(msg.get_payload()[2]["Content-Transfer-Encoding"] == "8bit", "8bit cte")


def test_smtputf8_global():
    content = "From: j@example.com\r\nSubject: gr\u00fc\u00dfe\r\n\r\nx\r\n".encode()
    raw, msg, _ = report(["-u", "-s", "j\u00fcrgen@example.com",
                          "r\u00e9ception@example.org|0|failed|5.1.1|||"], content)
    check(msg.get_param("report-type") == "global-delivery-status", "global report-type")
    parts = msg.get_payload()
    check(parts[1].get_content_type() == "message/global-delivery-status", "global ds")
    check(parts[2].get_content_type() == "message/global", "message/global")
    check("utf-8; r\u00e9ception@example.org" in parts[1].get_payload(decode=False)
          if isinstance(parts[1].get_payload(), str) else
          b"utf-8; r\xc3\xa9ception@example.org" in raw, "utf-8 address type")


def test_delay_warning():
    raw, msg, _ = report(["-k", "delay", "rcpt@example.org|0|delayed|4.4.1|mx.example.org|"
                          "connect to mx.example.org[192.0.2.1]:25: Connection refused|"])
    check(msg["Subject"] == "Delayed Mail (still being retried)", "delay subject")
    text = msg.get_payload()[0].get_payload()
    check("THIS IS A WARNING ONLY" in text, "warning banner")
    check("more than 4 hour(s)" in text and "5 day(s) old" in text, "delay times")
    _, rcpts = status_groups(msg)
    check(rcpts[0].get("Action") == "delayed", "delayed action")
    check(rcpts[0].get("Status") == "4.4.1", "4.x.x status")
    check("Will-Retry-Until" in rcpts[0], "will-retry-until")
    orig = msg.get_payload()[2]
    check(orig.get_content_type() == "text/rfc822-headers", "delay: headers only")


def test_success():
    raw, msg, _ = report(["-k", "success",
                          "rcpt@example.org|2|delivered|2.0.0|mx.example.org|250 2.0.0 Ok|"])
    check(msg["Subject"] == "Successful Mail Delivery Report", "success subject")
    check("successfully delivered" in msg.get_payload()[0].get_payload(), "success text")
    _, rcpts = status_groups(msg)
    check(rcpts[0].get("Action") == "delivered" and rcpts[0].get("Status") == "2.0.0",
          "delivered action")
    # Without NOTIFY=SUCCESS there is no success notice.
    p = run(["-k", "success", "rcpt@example.org|0|delivered|2.0.0|||"])
    check(p.returncode == 3 and p.stdout == b"", "success without NOTIFY=SUCCESS")


def test_no_notification():
    p = run(["rcpt@example.org|1|failed|5.1.1|||"])
    check(p.returncode == 3 and p.stdout == b"", "NOTIFY=NEVER -> none")
    p = run(["-s", "", "rcpt@example.org|0|failed|5.1.1|||"])
    check(p.returncode == 3 and p.stdout == b"", "null sender -> none")
    p = run(["-k", "delay", "rcpt@example.org|4|delayed|4.0.0|||"])
    check(p.returncode == 3, "NOTIFY=FAILURE only -> no delay warning")


def test_double_bounce():
    raw, msg, _ = report(["-k", "double", "-s", "", "-t", "postmaster",
                          "sender@example.com|0|failed|5.1.1||550 no such user|"])
    check(msg["To"] == "postmaster", "double bounce to postmaster")
    check(msg["Subject"] == "Postmaster Copy: Undelivered Mail", "2bounce subject")
    per_msg, _ = status_groups(msg)
    check(per_msg.get("X-Dovetail-Sender") == "rfc822;", f"null sender {per_msg}")


def test_hostile_diagnostic():
    evil = "550 bad\r\nSubject: injected\r\n\r\n--x--" + "A" * 3000
    raw, msg, _ = report([f"rcpt@example.org|0|failed|5.1.1|mx\r\nX-Evil: 1|{evil}|"])
    check(msg["Subject"] == "Undelivered Mail Returned to Sender", "subject intact")
    check("X-Evil" not in dict(msg.items()), "no injected header")
    _, rcpts = status_groups(msg)
    check(len(rcpts) == 1 and "Subject" not in rcpts[0], "no injected field")


def queue_bounce(qdir, inject_args, kind="failure"):
    p = subprocess.run([INJECT, qdir] + inject_args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=20)
    if p.returncode != 0:
        raise SystemExit(f"queue_inject_tool failed: {p.stderr}")
    qid = p.stdout.strip()
    p = subprocess.run([TOOL, "-Q", qdir, qid, kind], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    return p.returncode, p.stdout, p.stderr.decode()


def test_queue_path():
    """dsn_queue_notify: from queue file states to a queued notification."""
    if not os.path.exists(INJECT):
        missing(INJECT)
    qdir = tempfile.mkdtemp(prefix="dsn-q-")
    try:
        os.makedirs(os.path.join(qdir, "incoming"))
        rc, out, env = queue_bounce(qdir, [
            "-B", "0", "-D", "1", "-e", "ENV-7", "-r", "HDRS",
            "gone@example.org", "ok@example.org"])
        check(rc == 0, f"failure notification queued: {rc} {env}")
        sender, rcpt, body = env.rstrip("\n").split("\t")
        check(sender == "" and rcpt == "sender@example.com" and body == "7BIT",
              f"bounce envelope: {env!r}")
        msg = email.message_from_bytes(out, policy=email.policy.compat32)
        check(msg.get_content_type() == "multipart/report", "queued: multipart/report")
        per_msg, rcpts = status_groups(msg)
        check(per_msg.get("Original-Envelope-Id") == "ENV-7", "queued: envid")
        check(len(rcpts) == 1 and rcpts[0].get("Final-Recipient") ==
              "rfc822; gone@example.org", "queued: only the bounced recipient")
        check(rcpts[0].get("Remote-MTA") == "dns; mx.example.org", "queued: remote-mta")
        check(rcpts[0].get("Status") == "5.1.1", "queued: status")
        check(msg.get_payload()[2].get_content_type() == "text/rfc822-headers",
              "queued: RET=HDRS honoured")
        # Null sender: a double bounce to postmaster, from double-bounce.
        rc, out, env = queue_bounce(qdir, ["-s", "", "-B", "0", "x@example.org"])
        check(rc == 0 and env.rstrip("\n").split("\t")[:2] == ["double-bounce", "postmaster"],
              f"double bounce envelope: {env!r}")
        # NOTIFY=NEVER: nothing queued.
        before = set(os.listdir(os.path.join(qdir, "incoming")))
        rc, out, env = queue_bounce(qdir, ["-n", "1", "-B", "0", "x@example.org"])
        after = set(os.listdir(os.path.join(qdir, "incoming")))
        check(rc == 3 and len(after - before) == 1, "NOTIFY=NEVER: nothing queued")
        # Delay warning for a deferred recipient.
        rc, out, env = queue_bounce(qdir, ["-d", "451 try later", "slow@example.org"],
                                    "delay")
        msg = email.message_from_bytes(out, policy=email.policy.compat32)
        _, rcpts = status_groups(msg)
        check(rc == 0 and rcpts[0].get("Action") == "delayed" and
              "Will-Retry-Until" in rcpts[0], "queued delay warning")
    finally:
        shutil.rmtree(qdir, ignore_errors=True)


def main():
    if not os.path.exists(TOOL):
        missing(f"{TOOL} (build the dsn_tool target)")
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and callable(fn):
            print("--", name)
            fn()
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
