"""Debian's Postfix delivers to our lmtpd exactly as it delivers to
Dovecot's LMTP: virtual_transport = lmtp:unix:/path/to/our/socket.

A private Postfix instance (its own config, queue and data directories and
maillog_file in a temporary directory, smtpd on a free loopback port,
virtual_mailbox_domains static) and our lmtpd started by hand as the test
mail user, with recipients from virtual_mailbox_maps (no auth daemon
needed). A message to a known and an unknown user: Postfix logs
status=sent for the first with our "250 2.0.0 <addr> <id> Saved" reply
and a bounce with our 550 5.1.1 text for the second; the message is in
the user's Maildir new/ with Return-Path, Delivered-To and Postfix's own
Received header, body intact. A second message uses user+folder.
"""
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile

import dovetail_test
import peers
from peers import ensure_user, free_port, read, wait_for

VMAIL = "dvvmail"
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def start_lmtpd(base, sock, mail, vmailbox):
    conf = os.path.join(base, "lmtpd-etc")
    os.mkdir(conf)
    os.chmod(conf, 0o755)
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write(f"queue_directory = {base}/dv-queue\n"
                f"mail_owner = {VMAIL}\n"
                "myhostname = mx.test.example\n"
                "recipient_delimiter = +\n"
                "auth_socket_path =\n"
                f"virtual_mailbox_maps = texthash:{vmailbox}\n"
                f"mail_location = maildir:{mail}/%d/%n\n"
                "lmtp_save_to_detail_mailbox = yes\n")
    os.chmod(os.path.join(conf, "main.cf"), 0o644)
    log = open(os.path.join(base, "lmtpd.log"), "w")
    proc = subprocess.Popen([dovetail_test.bin_path("lmtpd"), "-c", conf,
                             "-f", "-u", VMAIL, "-l", "unix:" + sock],
                            stdout=log, stderr=subprocess.STDOUT)
    if not wait_for(lambda: os.path.exists(sock) or proc.poll() is not None,
                    10) or proc.poll() is not None:
        raise RuntimeError("lmtpd did not start:\n" +
                           read(os.path.join(base, "lmtpd.log")))
    return proc


def new_files(d):
    d = os.path.join(d, "new")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def main():
    dovetail_test.need_root()
    dovetail_test.need_program("postfix", "postfix")
    if not os.access(dovetail_test.bin_path("lmtpd"), os.X_OK):
        dovetail_test.missing(dovetail_test.bin_path("lmtpd"))
    vmail = ensure_user(VMAIL)
    base = tempfile.mkdtemp(prefix="dovetail-lmtp-postfix-")
    os.chmod(base, 0o755)
    mail = os.path.join(base, "mail")
    os.mkdir(mail)
    os.chown(mail, vmail.pw_uid, vmail.pw_gid)
    vmailbox = os.path.join(base, "vmailbox")
    with open(vmailbox, "w") as f:
        f.write("alice@example.test example.test/alice/\n")
    os.chmod(vmailbox, 0o644)
    sock = os.path.join(base, "lmtp")
    port = free_port()
    pf = peers.PrivatePostfix(base, "virtual_mailbox_domains = example.test\n"
                              "virtual_mailbox_maps = static:ok\n"
                              f"virtual_transport = lmtp:unix:{sock}\n",
                              [f"127.0.0.1:{port} inet n - n - - smtpd"],
                              [port])
    maillog = pf.maillog
    lmtpd = None
    try:
        lmtpd = start_lmtpd(base, sock, mail, vmailbox)
        pf.start()

        body = ("From: Sender <sender@remote.test>\r\n"
                "To: alice@example.test\r\nSubject: via Postfix\r\n"
                "Message-ID: <postfix-lmtp-1@remote.test>\r\n\r\n"
                "Hello over LMTP.\r\n.leading dot\r\n")
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.ehlo("client.remote.test")
            refused = c.sendmail("sender@remote.test",
                                 ["alice@example.test",
                                  "nobody@example.test"], body)
            check(refused == {}, "Postfix accepted both recipients")
            c.sendmail("sender@remote.test", ["alice+Work@example.test"],
                       body.replace("via Postfix", "to a folder"))

        alice = os.path.join(mail, "example.test", "alice")
        got = wait_for(lambda: re.search(
            r"to=<alice@example\.test>, relay=\S+, .*status=sent \(250 "
            r"2\.0\.0 <alice@example\.test> [A-Za-z0-9+/]{22} Saved\)",
            read(maillog)), 30)
        check(got is not None,
              "Postfix logs status=sent with our per-recipient reply")
        bounced = wait_for(lambda: re.search(
            r"to=<nobody@example\.test>, .*status=bounced \(host \S+ said: "
            r"550 5\.1\.1 <nobody@example\.test> User doesn't exist: "
            r"nobody@example\.test", read(maillog)), 30)
        check(bounced is not None,
              "the unknown user bounces with our 550 5.1.1 text")
        check(wait_for(lambda: re.search(
            r"to=<alice\+Work@example\.test>.*status=sent", read(maillog)),
            30) is not None, "the +Work message is sent")
        files = wait_for(lambda: len(new_files(alice)) >= 2
                         and new_files(alice), 10) or []
        check(len(files) == 2, f"two messages in alice's new/: {files}")
        msgs = {}
        for name in files:
            with open(os.path.join(alice, "new", name), "rb") as f:
                t = f.read()
            m = re.search(rb"\nSubject: ([^\n]*)\n", t)
            msgs[m.group(1) if m else b"?"] = t
        t = msgs.get(b"via Postfix", b"")
        check(t.startswith(b"Return-Path: <sender@remote.test>\n"
                           b"Delivered-To: alice@example.test\n"
                           b"Received: from postfix.example.test\n"),
              "Return-Path, Delivered-To and our Received in front")
        check(b"by postfix.example.test (Postfix) with ESMTP" in t,
              "Postfix's Received header is kept")
        check(t.endswith(b"\n\nHello over LMTP.\n.leading dot\n"),
              "body intact (dot-stuffing undone once)")
        check(b"\r" not in t, "stored with LF line ends")
        t = msgs.get(b"to a folder", b"")
        check(b"Delivered-To: alice+Work@example.test\n" in t
              and not os.path.isdir(os.path.join(alice, ".Work")),
              "alice+Work without a Work folder lands in INBOX")
        check(lmtpd.poll() is None, "lmtpd still running")
    finally:
        pf.stop()
        if lmtpd is not None:
            lmtpd.terminate()
            try:
                lmtpd.wait(10)
            except subprocess.TimeoutExpired:
                lmtpd.kill()
        if failures:
            print("--- maillog\n" + read(maillog)[-5000:])
            print("--- lmtpd.log\n" + read(os.path.join(base, "lmtpd.log")))
        if os.environ.get("KEEP_TMP"):
            print("kept " + base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(f"{'FAILED' if failures else 'PASSED'}: {len(failures)} "
          "check(s) failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
