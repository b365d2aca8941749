"""Debian's Postfix delivers to our smtpd (issue 5).

A Dovetail instance (tests/lib/instance.py mail_suite: smtpd on a free
loopback port with STARTTLS offered from a self-signed certificate, qmgr,
LMTP to lmtpd, a sqlite virtual domain example.test with one user) and a
private Postfix (tests/lib/peers.py) that relays example.test to us through
transport_maps "example.test smtp:[127.0.0.1]:OURPORT" with
smtp_tls_security_level = may. A message injected into Postfix by SMTP for
alice and for an unknown user: Postfix logs status=sent with our "250 2.0.0
Ok: queued as ID" reply and relay=127.0.0.1, and bounces the unknown one
with our 550 5.1.1 reply; our log has the client=...[127.0.0.1] line for
that ID, Postfix logs the TLS connection to us, our Received header says
ESMTPS with the TLS protocol, and the message is in alice's Maildir new/
byte for byte (LF line ends) below the trace headers that were added.
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
from instance import MAIL_OWNER, ensure_user, mail_suite
from peers import free_port, read, wait_for

DOMAIN = "example.test"
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def make_cert(d, owner):
    """A self-signed certificate for our smtpd; the key is readable by
    root and the mail owner's group only."""
    crt, key = os.path.join(d, "smtpd.crt"), os.path.join(d, "smtpd.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=mx.test.example", "-keyout", key,
                    "-out", crt], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    os.chown(key, 0, owner.pw_gid)
    os.chmod(key, 0o640)
    os.chmod(crt, 0o644)
    return crt, key


def strip_trace(data):
    """(trace header names in order, the rest) of a stored message: the
    leading Return-Path, Delivered-To and Received fields (with their
    continuation lines) that the hops put in front."""
    names = []
    lines = data.split(b"\n")
    i = 0
    while i < len(lines):
        m = re.match(rb"(Return-Path|Delivered-To|Received):", lines[i])
        if not m:
            break
        names.append(m.group(1).decode())
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
    return names, b"\n".join(lines[i:])


def new_files(d):
    d = os.path.join(d, "new")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def main():
    dovetail_test.need_root()
    dovetail_test.need_program("postfix", "postfix")
    dovetail_test.need_program("openssl", "openssl")
    base = tempfile.mkdtemp(prefix="dovetail-smtpd-postfix-")
    os.chmod(base, 0o755)
    pf = inst = None
    finished = False
    try:
        inst, acc = mail_suite()
        inst.need_daemons("smtpd", "qmgr", "smtp", "lmtpd")
        acc.add_user(f"alice@{DOMAIN}")
        crt, key = make_cert(base, ensure_user(MAIL_OWNER))
        inst.main_cf_extra += (f"smtpd_tls_cert_file = {crt}\n"
                               f"smtpd_tls_key_file = {key}\n"
                               "smtpd_tls_security_level = may\n")
        ours = inst.smtp_port

        pfport = free_port()
        tmap = os.path.join(base, "transport")
        with open(tmap, "w") as f:
            # bounces to the sender's domain are thrown away, not looked up
            f.write(f"{DOMAIN} smtp:[127.0.0.1]:{ours}\n"
                    "remote.test discard:\n")
        os.chmod(tmap, 0o644)
        pf = peers.PrivatePostfix(
            os.path.join(base, "postfix"),
            f"relay_domains = {DOMAIN}\n"
            f"transport_maps = texthash:{tmap}\n"
            "mynetworks = 127.0.0.0/8\n"
            "smtp_tls_security_level = may\n"
            "smtp_tls_loglevel = 1\n"
            "smtp_helo_name = postfix.example.test\n",
            [f"127.0.0.1:{pfport} inet n - n - - smtpd",
             "tlsmgr unix - - n 1000? 1 tlsmgr"], [pfport])
        maillog = pf.maillog

        inst.start()
        pf.start()

        content = (b"From: Sender <sender@remote.test>\r\n"
                   b"To: Alice <alice@example.test>\r\n"
                   b"Subject: Postfix to Dovetail\r\n"
                   b"Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
                   b"Message-ID: <pf-smtpd-1@remote.test>\r\n"
                   b"X-Folded: first part\r\n\tsecond part\r\n"
                   b"\r\n"
                   b"Hello Dovetail.\r\n"
                   b".leading dot\r\n"
                   b"..two dots\r\n"
                   b"From the start of a line\r\n"
                   b"trailing blanks \t \r\n"
                   b"\r\n\r\n"
                   b"last line\r\n")
        with smtplib.SMTP("127.0.0.1", pfport, timeout=30) as c:
            c.ehlo("client.remote.test")
            refused = c.sendmail("sender@remote.test",
                                 [f"alice@{DOMAIN}", f"nobody@{DOMAIN}"],
                                 content)
        check(refused == {}, "Postfix accepted both recipients")

        sent = wait_for(lambda: re.search(
            rf"to=<alice@example\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
            rf"{ours}, .*status=sent \(250 2\.0\.0 Ok: queued as (\w+)\)",
            read(maillog)), 40)
        check(sent is not None, "Postfix logs status=sent, relay=127.0.0.1, "
              "with our 'queued as' reply")
        ourid = sent.group(1) if sent else "NONE"
        check(inst.wait_log(rf"{ourid}: client=(localhost|unknown)"
                            r"\[127\.0\.0\.1\]", 10) is not None,
              f"our log has {ourid}: client=...[127.0.0.1]")
        check(re.search(rf"TLS connection established to 127\.0\.0\.1"
                        rf"\[127\.0\.0\.1\]:{ours}: TLSv1\.[23]",
                        read(maillog)) is not None,
              "Postfix logs the TLS connection to our smtpd")
        bounced = wait_for(lambda: re.search(
            r"to=<nobody@example\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
            r"\d+, .*dsn=5\.1\.1, status=bounced \(host 127\.0\.0\.1"
            r"\[127\.0\.0\.1\] said: 550 5\.1\.1 .*User unknown.*"
            r"\(in reply to RCPT TO command\)\)", read(maillog)), 40)
        check(bounced is not None,
              "Postfix bounces the unknown user with our 550 5.1.1 reply")
        check(re.search(r"reject: RCPT from \S+: 550 5\.1\.1 "
                        r".*nobody@example\.test", inst.log()) is not None,
              "our log has the RCPT rejection")

        alice = inst.maildir("alice", DOMAIN)
        files = wait_for(lambda: new_files(alice), 30) or []
        check(len(files) == 1, f"one message in alice's new/: {files}")
        data = peers.read(os.path.join(alice, "new", files[0]), "rb") \
            if files else b""
        names, rest = strip_trace(data)
        # lmtpd's Received (LMTP hop), then smtpd's, then Postfix's
        check(names == ["Return-Path", "Delivered-To", "Received",
                        "Received", "Received"],
              f"trace headers in front: {names}")
        check(data.startswith(b"Return-Path: <sender@remote.test>\n"
                              b"Delivered-To: alice@example.test\n"),
              "Return-Path and Delivered-To name the envelope")
        recv = re.search(rb"Received: from postfix\.example\.test "
                         rb"\(\S+ \[127\.0\.0\.1\]\)\n"
                         rb"\t\(using TLSv1\.[23] [^\n]*\)\n"
                         rb"\tby mx\.test\.example \(Dovetail\) with ESMTPS",
                         data)
        check(recv is not None,
              "our Received: Postfix's HELO, TLS used, with ESMTPS")
        pos = [data.find(x) for x in
               (b"\tby mx.test.example with LMTP\n",
                b"\tby mx.test.example (Dovetail) with ESMTPS",
                b"\tby postfix.example.test (Postfix) with ESMTP id ")]
        check(-1 not in pos and pos == sorted(pos),
              "Received headers in hop order (lmtpd, smtpd, Postfix)")
        check(rest == content.replace(b"\r\n", b"\n"),
              "the message is byte-exact below the trace headers")
        check(wait_for(inst.queue_empty, 10), "our queue is empty afterwards")
        if failures:
            print("--- stored message\n" + data.decode(errors="replace"))
        finished = True
    finally:
        show = failures or not finished
        if pf is not None:
            pf.stop()
        if inst is not None:
            if show:
                print("--- dovetail log\n" + inst.log()[-6000:])
            inst.cleanup()
        if show and pf is not None:
            print("--- postfix maillog\n" + read(pf.maillog)[-6000:])
        if os.environ.get("KEEP_TMP"):
            print("kept " + base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(f"{'FAILED' if failures else 'PASSED'}: {len(failures)} "
          "check(s) failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
