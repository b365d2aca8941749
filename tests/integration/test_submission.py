#!/usr/bin/env python3
"""test_submission - smtpd as the submission service (issue 5 part 1),
seen by Python's smtplib and raw sockets, with the auth daemon started by
hand (passwd-file passdb) and smtpd started by hand (-l on loopback):

  - the 587-style service (smtpd_tls_security_level=encrypt,
    smtpd_client_restrictions=permit_sasl_authenticated,reject): no AUTH
    offered or accepted before STARTTLS (530), AUTH PLAIN (initial
    response or 334 round) and LOGIN after it, wrong password 535, "*"
    cancels (501), a second AUTH 503, an authenticated user relays to a
    remote domain (queued, ESMTPSA, Message-Id and Date added), an
    unauthenticated client is refused (554), the envelope sender and the
    From: header must be owned by the login (553, smtpd_sender_login_maps);
  - the 465-style service (smtpd_tls_wrappermode=yes): TLS first, then
    banner and AUTH;
  - a port-25-style service: an unauthenticated client cannot relay;
  - the auth daemon down: 454;
  - per-client and per-user message rate limits (450 4.7.1);
  - fail2ban-regex with the stock postfix filter (mode=auth) matches the
    failure log lines.
"""
import base64
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import dovetail_test as dt
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_smtpd as ts  # noqa: E402  (its Smtpd class and check())

check = ts.check
failures = ts.failures

USERS = ("alice@example.org:{PLAIN}alice pw::::::\n"
         "bob@example.org:{PLAIN}bob pw::::::\n")
LOGINS = ("alice@example.org alice@example.org\n"
          "alias@example.org alice@example.org, bob@example.org\n"
          "bob@example.org bob@example.org\n")


def b64(s):
    return base64.b64encode(s.encode()).decode()


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Raw:
    """A line-oriented SMTP client on a (possibly TLS) socket."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self.line()
            if line is None:
                return "\n".join(lines) if lines else None
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.reply()

    def starttls(self):
        r = self.cmd("STARTTLS")
        self.s = tls_ctx().wrap_socket(self.s)
        return r


def start_auth(tmp):
    conf = os.path.join(tmp, "authconf")
    os.mkdir(conf)
    os.chmod(conf, 0o755)
    with open(os.path.join(tmp, "users"), "w") as f:
        f.write(USERS)
    os.chmod(os.path.join(tmp, "users"), 0o644)
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write("")
    with open(os.path.join(conf, "auth.cf"), "w") as f:
        f.write(f"passdb = passwd-file:{tmp}/users\n"
                "userdb = static:uid=nobody gid=nogroup home=/nonexistent\n"
                "auth_failure_delay = 0s\n")
    for n in os.listdir(conf):
        os.chmod(os.path.join(conf, n), 0o644)
    sock = os.path.join(tmp, "auth")
    cmd = [dt.bin_path("auth"), "-c", conf, "-l", "unix:" + sock, "-f"]
    if os.geteuid() == 0:
        cmd += ["-u", "nobody"]
    log = open(os.path.join(tmp, "auth.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    end = time.monotonic() + 15
    while time.monotonic() < end and proc.poll() is None:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            s.close()
            return proc, sock
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("auth did not start")


def base_extra(tmp, cert, key, sock, maillog):
    with open(os.path.join(tmp, "logins"), "w") as f:
        f.write(LOGINS)
    os.chmod(os.path.join(tmp, "logins"), 0o644)
    return (f"smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n"
            "smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = dovecot\n"
            f"smtpd_sasl_path = {sock}\n"
            f"smtpd_sender_login_maps = texthash:{tmp}/logins\n"
            "smtpd_sender_restrictions = reject_sender_login_mismatch\n"
            f"maillog_file = {maillog}\n")


SUBMISSION = ["-o", "syslog_name=postfix/submission",
              "-o", "smtpd_tls_security_level=encrypt",
              "-o", "smtpd_client_restrictions="
                    "permit_sasl_authenticated,reject"]


def queued_text(d):
    names = d.queued()
    if not names:
        return ""
    with open(os.path.join(d.queue, "incoming", names[-1]), "rb") as f:
        return f.read().decode("utf-8", "replace")


def test_587(tmp, extra):
    d = ts.Smtpd(tmp, extra, opts=SUBMISSION)
    try:
        s = d.smtp()
        code, ehlo = s.ehlo("client.test")
        check(b"STARTTLS" in ehlo and b"AUTH" not in ehlo,
              f"587: EHLO before TLS offers STARTTLS, not AUTH: {ehlo!r}")
        code, msg = s.docmd("AUTH", "PLAIN " + b64("\0alice@example.org\0alice pw"))
        check(code == 530 and msg == b"5.7.0 Must issue a STARTTLS command first",
              f"587: AUTH before STARTTLS: {code} {msg!r}")
        code, msg = s.docmd("MAIL", "FROM:<alice@example.org>")
        check(code == 530, f"587: MAIL before STARTTLS: {code} {msg!r}")
        s.starttls(context=tls_ctx())
        code, ehlo = s.ehlo("client.test")
        check(b"AUTH PLAIN LOGIN" in ehlo,
              f"587: AUTH PLAIN LOGIN offered inside TLS: {ehlo!r}")
        # Unauthenticated: client restrictions refuse at RCPT.
        s.mail("alice@example.org")
        code, msg = s.rcpt("carol@remote.test")
        check(code == 554 and msg == b"5.7.1 <unknown[127.0.0.1]>: Client "
              b"host rejected: Access denied",
              f"587: unauthenticated client refused: {code} {msg!r}")
        s.rset()
        # Wrong password.
        try:
            s.login("alice@example.org", "wrong")
            check(False, "587: wrong password refused")
        except smtplib.SMTPAuthenticationError as e:
            check(e.smtp_code == 535 and e.smtp_error.startswith(
                b"5.7.8 Error: authentication failed:"),
                f"587: wrong password 535: {e.smtp_code} {e.smtp_error!r}")
        # Right password (smtplib picks PLAIN with an initial response).
        code, msg = s.login("alice@example.org", "alice pw")
        check(code == 235 and msg == b"2.7.0 Authentication successful",
              f"587: AUTH PLAIN: {code} {msg!r}")
        code, msg = s.docmd("AUTH", "PLAIN " + b64("\0alice@example.org\0alice pw"))
        check(code == 503 and msg == b"5.5.1 Error: already authenticated",
              f"587: second AUTH: {code} {msg!r}")
        # Envelope sender owned by someone else.
        s.mail("bob@example.org")
        code, msg = s.rcpt("carol@remote.test")
        check(code == 553 and msg == b"5.7.1 <bob@example.org>: Sender "
              b"address rejected: not owned by user alice@example.org",
              f"587: envelope sender spoofing refused: {code} {msg!r}")
        s.rset()
        # Relaying for an authenticated user, headers added.
        d.clear()
        s.mail("alice@example.org")
        code, msg = s.rcpt("carol@remote.test")
        check(code == 250, f"587: authenticated relay RCPT: {code} {msg!r}")
        code, msg = s.data(b"Subject: relay\r\nFrom: Alice <alice@example.org>"
                           b"\r\n\r\nhello\r\n")
        check(code == 250 and msg.startswith(b"2.0.0 Ok: queued as"),
              f"587: authenticated relay queued: {code} {msg!r}")
        text = queued_text(d)
        check("with ESMTPSA" in text, "587: Received says ESMTPSA")
        hdr = text[text.find("Subject: relay"):]
        hdr = hdr[:hdr.find("\r\n\r\n")]
        check(re.search(r"\r\nMessage-Id: <\d{14}\.[0-9a-f.]+@mx\.example\.test>",
                        hdr) is not None,
              f"587: Message-Id added: {hdr!r}")
        check(re.search(r"\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d "
                        r"[+-]\d{4}", hdr) is not None,
              f"587: Date added: {hdr!r}")
        check("carol@remote.test" in text, "587: relayed recipient in queue file")
        # Existing Message-ID and Date kept, not doubled.
        d.clear()
        s.mail("alice@example.org")
        s.rcpt("carol@remote.test")
        code, msg = s.data(b"Message-ID: <x@y>\r\nDate: Mon, 1 Jan 2024 "
                           b"00:00:00 +0000\r\nFrom: alice@example.org\r\n"
                           b"\r\nbody\r\n")
        text = queued_text(d)
        check(code == 250 and text.lower().count("message-id:") == 1 and
              text.count("\r\nDate:") == 1,
              "587: existing Message-ID and Date not added again")
        # From: header naming someone else's address.
        d.clear()
        s.mail("alice@example.org")
        s.rcpt("carol@remote.test")
        code, msg = s.data(b"From: Bob <bob@example.org>\r\nSubject: x\r\n"
                           b"\r\nspoof\r\n")
        check(code == 553 and msg == b"5.7.1 <bob@example.org>: From address "
              b"rejected: not owned by user alice@example.org",
              f"587: From: header spoofing refused: {code} {msg!r}")
        check(d.queued() == [], "587: spoofed message not queued")
        # A shared address (two owners) is fine.
        s.mail("alias@example.org")
        s.rcpt("carol@remote.test")
        code, msg = s.data(b"From: alias@example.org, alice@example.org\r\n"
                           b"\r\nshared\r\n")
        check(code == 250, f"587: shared sender address allowed: {code} {msg!r}")
        s.quit()

        # LOGIN with 334 rounds, wrong password, then cancel, then PLAIN
        # without initial response.
        r = Raw(socket.create_connection(("127.0.0.1", d.port), timeout=10))
        r.reply()
        r.cmd("EHLO raw.test")
        r.starttls()
        r.cmd("EHLO raw.test")
        x = r.cmd("AUTH LOGIN")
        check(x == "334 " + b64("Username:"), f"LOGIN asks Username: {x!r}")
        x = r.cmd(b64("bob@example.org"))
        check(x == "334 " + b64("Password:"), f"LOGIN asks Password: {x!r}")
        x = r.cmd(b64("nope"))
        check(x.startswith("535 5.7.8 Error: authentication failed:"),
              f"LOGIN wrong password: {x!r}")
        x = r.cmd("AUTH LOGIN")
        x = r.cmd("*")
        check(x == "501 5.7.0 Authentication aborted", f"'*' cancels: {x!r}")
        x = r.cmd("AUTH CRAM-MD5")
        check(x.startswith("535 5.7.8 Error: authentication failed: Invalid "
                           "authentication mechanism"),
              f"unknown mechanism refused: {x!r}")
        x = r.cmd("AUTH PLAIN")
        check(x == "334 ", f"PLAIN without initial response: {x!r}")
        x = r.cmd("not base64!")
        check(x.startswith("501 5.5.2"), f"bad base64 refused: {x!r}")
        x = r.cmd("AUTH PLAIN")
        x = r.cmd(b64("\0bob@example.org\0bob pw"))
        check(x == "235 2.7.0 Authentication successful",
              f"PLAIN after a 334 round: {x!r}")
        x = r.cmd("AUTH LOGIN " + b64("bob@example.org"))
        check(x == "503 5.5.1 Error: already authenticated", f"{x!r}")
        r.cmd("QUIT")
        # A client that leaves in the middle of an exchange.
        r = Raw(socket.create_connection(("127.0.0.1", d.port), timeout=10))
        r.reply()
        r.cmd("EHLO raw.test")
        r.starttls()
        r.cmd("EHLO raw.test")
        r.cmd("AUTH LOGIN")
        r.s.close()
        time.sleep(0.3)
        check(d.proc.poll() is None, "smtpd survives a client leaving mid-AUTH")
        log = d.logtext()
        check("warning: unknown[127.0.0.1]: SASL PLAIN authentication failed: "
              in log, "PLAIN failure logged as Postfix does")
        check("warning: unknown[127.0.0.1]: SASL LOGIN authentication failed: "
              in log, "LOGIN failure logged as Postfix does")
        check(re.search(r"client=unknown\[127\.0\.0\.1\], sasl_method=PLAIN, "
                        r"sasl_username=alice@example\.org", log) is not None,
              "queue log line names sasl_method and sasl_username")
        check("auth=0/1" in log, "disconnect statistics count AUTH")
    finally:
        d.stop()


def test_465(tmp, extra):
    d = ts.Smtpd(tmp, extra, opts=["-o", "smtpd_tls_wrappermode=yes",
                                   "-o", "syslog_name=postfix/submissions",
                                   "-o", "smtpd_sasl_authenticated_header=yes"])
    try:
        raw = socket.create_connection(("127.0.0.1", d.port), timeout=2)
        try:
            data = raw.recv(100)
        except socket.timeout:
            data = b""
        raw.close()
        check(not data.startswith(b"220"),
              f"465: no plaintext banner before TLS: {data!r}")
        s = smtplib.SMTP_SSL("127.0.0.1", d.port, timeout=10,
                             context=tls_ctx())
        code, ehlo = s.ehlo("client.test")
        check(b"AUTH PLAIN LOGIN" in ehlo and b"STARTTLS" not in ehlo,
              f"465: AUTH offered at once, no STARTTLS: {ehlo!r}")
        code, msg = s.login("bob@example.org", "bob pw")
        check(code == 235, f"465: login: {code} {msg!r}")
        s.mail("bob@example.org")
        code, _ = s.rcpt("someone@remote.test")
        check(code == 250, "465: authenticated relay accepted")
        code, msg = s.data(b"From: bob@example.org\r\n\r\nvia 465\r\n")
        check(code == 250, f"465: queued: {code} {msg!r}")
        text = queued_text(d)
        check("\t(Authenticated sender: bob@example.org)\r\n\tby "
              "mx.example.test (Dovetail) with ESMTPSA id " in text,
              "465: smtpd_sasl_authenticated_header in Received")
        s.quit()
    finally:
        d.stop()


def test_port25(tmp, cert, key):
    d = ts.Smtpd(tmp, f"smtpd_tls_cert_file = {cert}\n"
                 f"smtpd_tls_key_file = {key}\n"
                 "smtpd_tls_security_level = may\n"
                 "smtpd_sasl_auth_enable = yes\n"
                 f"smtpd_sasl_path = {tmp}/auth\n"
                 "smtpd_tls_auth_only = yes\n"
                 f"smtpd_sender_login_maps = texthash:{tmp}/logins\n"
                 "smtpd_sender_restrictions = "
                 "reject_unauthenticated_sender_login_mismatch\n")
    try:
        s = d.smtp()
        code, ehlo = s.ehlo("client.test")
        check(b"AUTH" not in ehlo,
              f"25 with smtpd_tls_auth_only: no AUTH before TLS: {ehlo!r}")
        code, msg = s.docmd("AUTH", "LOGIN")
        check(code == 530, f"25: AUTH before TLS 530: {code} {msg!r}")
        s.mail("spammer@remote.test")
        code, msg = s.rcpt("victim@elsewhere.test")
        check(code == 554 and msg == b"5.7.1 <victim@elsewhere.test>: Relay "
              b"access denied",
              f"25: unauthenticated client cannot relay: {code} {msg!r}")
        code, msg = s.rcpt("alice@example.org")
        check(code == 250, "25: local recipient still accepted")
        code, msg = s.data(b"Subject: in\r\n\r\nx\r\n")
        text = queued_text(d)
        check(code == 250 and "Message-Id:" not in text,
              "25: nothing added to mail from other servers")
        s.mail("alice@example.org")
        code, msg = s.rcpt("bob@example.org")
        check(code == 553 and msg == b"5.7.1 <alice@example.org>: Sender "
              b"address rejected: not logged in",
              f"25: an owned sender needs its login: {code} {msg!r}")
        s.rset()
        s.quit()
    finally:
        d.stop()


def test_auth_down(tmp, cert, key):
    d = ts.Smtpd(tmp, f"smtpd_tls_cert_file = {cert}\n"
                 f"smtpd_tls_key_file = {key}\n"
                 "smtpd_tls_security_level = encrypt\n"
                 "smtpd_sasl_auth_enable = yes\n"
                 f"smtpd_sasl_path = {tmp}/no-such-socket\n")
    try:
        s = d.smtp()
        s.ehlo("client.test")
        s.starttls(context=tls_ctx())
        s.ehlo("client.test")
        try:
            s.login("alice@example.org", "alice pw")
            check(False, "auth daemon down: login fails")
        except smtplib.SMTPAuthenticationError as e:
            check(e.smtp_code == 454 and e.smtp_error.startswith(
                b"4.7.0 Temporary authentication failure"),
                f"auth daemon down: 454: {e.smtp_code} {e.smtp_error!r}")
        s.quit()
    finally:
        d.stop()


def test_rate(tmp, extra):
    d = ts.Smtpd(tmp, extra, opts=[
        "-o", "smtpd_tls_security_level=may",
        "-o", "smtpd_client_message_rate_limit=3",
        "-o", "smtpd_user_message_rate_limit=2"])
    try:
        s = d.smtp()
        s.ehlo("client.test")
        codes = []
        for _ in range(4):
            code, msg = s.docmd("MAIL", "FROM:<x@remote.test>")
            codes.append((code, msg))
            s.rset()
        check([c for c, _ in codes[:3]] == [250, 250, 250] and
              codes[3] == (450, b"4.7.1 Error: too much mail from 127.0.0.1"),
              f"per-client rate limit: {codes}")
        s.quit()
        check("Message delivery request rate limit exceeded: 4 from "
              "unknown[127.0.0.1]" in d.logtext(), "rate limit logged")
    finally:
        d.stop()
    # Per user: the client limit does not apply to mynetworks.
    d = ts.Smtpd(tmp, extra +
                 "mynetworks = 127.0.0.0/8\n", opts=[
                     "-o", "smtpd_tls_security_level=may",
                     "-o", "smtpd_client_message_rate_limit=1",
                     "-o", "smtpd_user_message_rate_limit=2"])
    try:
        s = d.smtp()
        s.ehlo("client.test")
        s.starttls(context=tls_ctx())
        s.ehlo("client.test")
        s.login("alice@example.org", "alice pw")
        codes = []
        for _ in range(3):
            code, msg = s.docmd("MAIL", "FROM:<alice@example.org>")
            codes.append((code, msg))
            s.rset()
        check([c for c, _ in codes[:2]] == [250, 250] and codes[2] == (
            450, b"4.7.1 Error: too much mail from user alice@example.org"),
            f"per-user rate limit: {codes}")
        s.quit()
    finally:
        d.stop()


def test_fail2ban(maillog):
    regex = shutil.which("fail2ban-regex")
    flt = "/etc/fail2ban/filter.d/postfix.conf"
    if regex is None or not os.path.exists(flt):
        if dt.IN_CI:
            check(False, "fail2ban-regex installed (apt-get install fail2ban)")
        else:
            print("SKIP: fail2ban-regex not installed")
        return
    with open(maillog) as f:
        lines = [l for l in f if "SASL" in l]
    check(len(lines) >= 2, f"failure lines in maillog_file: {lines}")
    out = subprocess.run([regex, "--print-all-matched", maillog,
                          flt + "[mode=auth]"],
                         capture_output=True, text=True)
    m = re.search(r"Lines: \d+ lines, \d+ ignored, (\d+) matched", out.stdout)
    matched = int(m.group(1)) if m else 0
    expect = len([l for l in lines if "authentication failed" in l and
                  "Invalid authentication mechanism" not in l])
    check(matched == expect and matched >= 2,
          f"fail2ban postfix filter (mode=auth) matches the failures "
          f"({matched} of {expect}): {out.stdout[-1500:]} {out.stderr[-500:]}")
    check("127.0.0.1" in out.stdout, "fail2ban finds the client address")


def main():
    for prog in ("smtpd", "auth"):
        if not os.path.exists(dt.bin_path(prog)):
            dt.missing(prog + " (build it)")
    dt.need_program("openssl", "openssl")
    tmp = tempfile.mkdtemp(prefix="dovetail-submission-")
    os.chmod(tmp, 0o755)
    auth = None
    try:
        cert = os.path.join(tmp, "cert.pem")
        key = os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-subj", f"/CN={ts.HOST}", "-days", "2",
                        "-keyout", key, "-out", cert], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(key, 0o644)
        auth, sock = start_auth(tmp)
        maillog = os.path.join(tmp, "mail.log")
        open(maillog, "w").close()
        os.chmod(maillog, 0o666)
        extra = base_extra(tmp, cert, key, sock, maillog)
        for name, fn, args in (
                ("587", test_587, (tmp, extra)),
                ("465", test_465, (tmp, extra)),
                ("25", test_port25, (tmp, cert, key)),
                ("auth down", test_auth_down, (tmp, cert, key)),
                ("rate", test_rate, (tmp, extra)),
                ("fail2ban", test_fail2ban, (maillog,))):
            print(f"--- {name}")
            fn(*args)
        check(auth.poll() is None, "auth daemon still running")
    finally:
        if auth is not None:
            auth.terminate()
            auth.wait(10)
    if failures:
        print(f"{len(failures)} FAILED (logs in {tmp})")
        sys.exit(1)
    shutil.rmtree(tmp, ignore_errors=True)
    print("all ok")


if __name__ == "__main__":
    main()
