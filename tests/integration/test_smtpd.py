#!/usr/bin/env python3
"""test_smtpd - smtpd seen by real clients (Python smtplib, swaks, raw
sockets), started by hand with -l on loopback and a private queue
directory: replies worded as Postfix words them, EHLO keywords,
PIPELINING, BDAT, STARTTLS, limits, every SMTP smuggling variant (never two
messages), open-relay tricks, recipient policy (virtual mailboxes,
aliases, catch-all, +tag, unknown user, map temporary failure), local
submission over a unix socket, and the queue file on disk: Received
header plus the client's bytes, exactly.
"""
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

BIN = dt.bin_path("smtpd")
HOST = "mx.example.test"
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


MAILBOXES = "alice@example.org x\nbob@example.org x\n"
ALIASES = ("team@example.org alice@example.org, bob@example.org\n"
           "@catchall.example.org bob@example.org\n"
           "sales@example.org carol@remote.test\n")


class Smtpd:
    """One smtpd process with its own config and queue directories."""

    def __init__(self, tmp, extra="", listen=None, opts=()):
        self.dir = tempfile.mkdtemp(dir=tmp, prefix="smtpd")
        os.chmod(self.dir, 0o755)
        self.queue = os.path.join(self.dir, "queue")
        for d in ("incoming", "public"):
            os.makedirs(os.path.join(self.queue, d))
        owner = "nobody" if os.geteuid() == 0 else None
        if owner:
            shutil.chown(self.queue, owner)
            for d in ("incoming", "public"):
                shutil.chown(os.path.join(self.queue, d), owner)
        with open(os.path.join(self.dir, "mailboxes"), "w") as f:
            f.write(MAILBOXES)
        with open(os.path.join(self.dir, "aliases"), "w") as f:
            f.write(ALIASES)
        with open(os.path.join(self.dir, "main.cf"), "w") as f:
            f.write(f"""queue_directory = {self.queue}
myhostname = {HOST}
mydomain = example.test
mydestination = localhost
virtual_mailbox_domains = example.org, catchall.example.org
virtual_mailbox_maps = texthash:{self.dir}/mailboxes
virtual_alias_maps = texthash:{self.dir}/aliases
recipient_delimiter = +
mynetworks = 192.0.2.0/24
smtpd_peername_lookup = no
""")
            if owner:
                f.write(f"mail_owner = {owner}\n")
            f.write(extra)
        self.port = free_port()
        self.listen = listen or f"127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.dir, "smtpd.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [BIN, "-l", self.listen, "-c", self.dir, "-f", *opts],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            env={k: v for k, v in os.environ.items()
                 if k != "DOVETAIL_MASTER"})
        end = time.monotonic() + 10
        while time.monotonic() < end and self.proc.poll() is None:
            try:
                self.raw().close()
                time.sleep(0.1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("smtpd did not start: " + self.logtext())

    def raw(self):
        if self.listen.startswith("unix:"):
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.listen[5:])
        else:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.settimeout(10)
        return s

    def smtp(self):
        return smtplib.SMTP("127.0.0.1", self.port, timeout=10)

    def logtext(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def queued(self):
        d = os.path.join(self.queue, "incoming")
        return sorted(n for n in os.listdir(d) if not n.startswith("."))

    def clear(self):
        d = os.path.join(self.queue, "incoming")
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        text = self.logtext()
        check(not re.search(r"AddressSanitizer|LeakSanitizer|runtime error:|"
                            r"panic|fatal", text),
              f"smtpd log free of sanitizer reports and panics ({self.dir})")


def read_queue_file(path):
    """(sender, [(rcpt, orig)], content) from a queue file (format v1)."""
    with open(path, "rb") as f:
        data = f.read()
    pos, sender, rcpts, content = 0, None, [], None
    while pos < len(data):
        typ = data[pos:pos + 1]
        colon = data.index(b":", pos)
        n = int(data[pos + 1:colon])
        val = data[colon + 1:colon + 1 + n]
        pos = colon + 1 + n + 1
        if typ == b"S":
            sender = val.decode()
        elif typ == b"R":
            fields, p = [], 0
            while p < len(val):
                c = val.index(b":", p)
                m = int(val[p:c])
                fields.append(val[c + 1:c + 1 + m].decode())
                p = c + 1 + m + 1
            rcpts.append((fields[0], fields[1]))
        elif typ == b"M":
            size = int(val)
            content = data[pos:pos + size]
            pos += size
    return sender, rcpts, content


def strip_received(content):
    """The content without its first header (Received, folded)."""
    m = re.match(rb"Received:[^\r]*\r\n(\t[^\r]*\r\n)*", content)
    return content[m.end():] if m else None


class Conn:
    """A raw client: send bytes, read whole replies."""

    def __init__(self, d):
        self.s = d.raw()
        self.buf = b""
        self.banner = self.reply()

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def reply(self):
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return "\n".join(lines)

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def closed(self):
        try:
            self.s.settimeout(5)
            return self.s.recv(100) == b""
        except OSError:
            return True

    def close(self):
        self.s.close()


def start_txn(c, rcpt="alice@example.org"):
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<sender@remote.test>").startswith("250")
    assert c.cmd(f"RCPT TO:<{rcpt}>").startswith("250")


# ---------------------------------------------------------------------------

def test_dialogue(d):
    c = Conn(d)
    check(c.banner == f"220 {HOST} ESMTP Dovetail", "banner: " + c.banner)
    r = c.cmd("EHLO client.test")
    check(r == "\n".join([f"250-{HOST}", "250-PIPELINING", "250-SIZE 10240000",
                          "250-ENHANCEDSTATUSCODES", "250-8BITMIME",
                          "250-DSN", "250-SMTPUTF8", "250 CHUNKING"]),
          "EHLO keyword list (no STARTTLS without a certificate): " + r)
    check(c.cmd("RCPT TO:<alice@example.org>") ==
          "503 5.5.1 Error: need MAIL command", "RCPT before MAIL: 503")
    check(c.cmd("DATA") == "503 5.5.1 Error: need RCPT command",
          "DATA before MAIL: 503")
    check(c.cmd("FOO") == "502 5.5.2 Error: command not recognized",
          "unknown command: 502 5.5.2")
    check(c.cmd("NOOP") == "250 2.0.0 Ok", "NOOP")
    check(c.cmd("VRFY alice@example.org").startswith("252 2.0.0"),
          "VRFY answers 252 without disclosing anything")
    check(c.cmd("HELP").startswith("214 "), "HELP 214")
    check(c.cmd("MAIL FROM:<a@remote.test>") == "250 2.1.0 Ok", "MAIL 250 2.1.0")
    check(c.cmd("MAIL FROM:<a@remote.test>") ==
          "503 5.5.1 Error: nested MAIL command", "nested MAIL 503")
    check(c.cmd("RCPT TO:<nobody@example.org>") ==
          "550 5.1.1 <nobody@example.org>: Recipient address rejected: "
          "User unknown in virtual mailbox table", "unknown user 550 5.1.1")
    check(c.cmd("DATA") == "554 5.5.1 Error: no valid recipients",
          "DATA with only rejected recipients: 554 5.5.1")
    check(c.cmd("RSET") == "250 2.0.0 Ok", "RSET")
    check(c.cmd("QUIT") == "221 2.0.0 Bye", "QUIT 221 2.0.0 Bye")
    check(c.closed(), "closed after QUIT")
    time.sleep(0.2)
    check(re.search(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=1/2 "
                    r"rcpt=0/2 data=0/2 rset=1 noop=1 vrfy=1 help=1 quit=1 "
                    r"unknown=0/1 commands=7/13", d.logtext()) is not None,
          "Postfix-style disconnect statistics in the log")


def test_queue_file(d):
    d.clear()
    body = (b"Subject: test\r\nFrom: a@remote.test\r\n\r\nline 1\r\n"
            b".leading dot\r\n\r\n" + b"x" * 5000 + b"\r\nend\r\n")
    s = d.smtp()
    s.ehlo("client.test")
    s.mail("sender@remote.test")
    check(s.rcpt("alice+tag@example.org")[0] == 250, "+tag reaches alice")
    check(s.rcpt("nobody@example.org")[0] == 550,
          "unknown user 550 in the same transaction")
    check(s.rcpt("team@example.org")[0] == 250, "alias accepted")
    check(s.rcpt("whoever@catchall.example.org")[0] == 250,
          "catch-all alias accepted")
    code, msg = s.data(body)
    check(code == 250 and re.match(rb"2\.0\.0 Ok: queued as [0-9A-Za-z]+$", msg),
          f"queued: {code} {msg}")
    qid = msg.split()[-1].decode()
    s.quit()
    files = d.queued()
    check(files == [qid], f"exactly the queue file {qid} in incoming/: {files}")
    if files != [qid]:
        return
    sender, rcpts, content = read_queue_file(
        os.path.join(d.queue, "incoming", qid))
    check(sender == "sender@remote.test", "envelope sender")
    check(rcpts == [("alice+tag@example.org", "alice+tag@example.org"),
                    ("alice@example.org", "team@example.org"),
                    ("bob@example.org", "team@example.org"),
                    ("bob@example.org", "whoever@catchall.example.org")] or
          rcpts == [("alice+tag@example.org", "alice+tag@example.org"),
                    ("alice@example.org", "team@example.org"),
                    ("bob@example.org", "team@example.org")],
          f"recipients after alias expansion: {rcpts}")
    m = re.match(rb"Received: from client\.test \(unknown \[127\.0\.0\.1\]\)\r\n"
                 rb"\tby mx\.example\.test \(Dovetail\) with ESMTP id "
                 + qid.encode() + rb"; "
                 rb"[A-Z][a-z][a-z], \d\d [A-Z][a-z][a-z] \d{4} "
                 rb"\d\d:\d\d:\d\d [+-]\d{4} \(\w+\)\r\n", content)
    check(m is not None, f"Received header: {content[:200]!r}")
    if m:
        check(content[m.end():] == body,
              "content after the Received header is byte-exact")
    check(f"{qid}: client=unknown[127.0.0.1]" in d.logtext(),
          "log: ID: client=name[addr]")
    check("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 "
          "<nobody@example.org>: Recipient address rejected: User unknown in "
          "virtual mailbox table; from=<sender@remote.test> "
          "to=<nobody@example.org> proto=ESMTP helo=<client.test>"
          in d.logtext(), "log: NOQUEUE reject line as Postfix writes it")


def test_dsn(d):
    d.clear()
    c = Conn(d)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<s@remote.test> RET=HDRS ENVID=QQ+2Bx BODY=8BITMIME")
    r = c.cmd("RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE "
              "ORCPT=rfc822;Bob+2Bx@example.org")
    check(r == "250 2.1.5 Ok", f"RCPT with DSN parameters: {r}")
    c.cmd("DATA")
    c.send(b"Subject: dsn\r\n\r\nx\r\n.\r\n")
    qid = c.reply().split()[-1]
    c.cmd("QUIT")
    with open(os.path.join(d.queue, "incoming", qid), "rb") as f:
        raw = f.read()
    check(b"A8:ret=HDRS\n" in raw and b"A10:envid=QQ+x\n" in raw and
          b"A18:body_type=8BITMIME\n" in raw,
          f"DSN RET/ENVID and BODY kept as attributes: {raw[:400]!r}")
    check(b"26:rfc822;Bob+2Bx@example.org,1:6," in raw,
          "ORCPT (xtext) and NOTIFY kept with the recipient")


def test_relay(d):
    c = Conn(d)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<sender@remote.test>")
    tricks = ["victim@elsewhere.test",
              "victim%elsewhere.test@example.org",
              "elsewhere.test!victim@example.org",
              "@example.org:victim@elsewhere.test",
              "@example.org,@other.test:alice@example.org",
              '"victim@elsewhere.test"@example.org',
              '"victim%elsewhere.test"@example.org',
              "victim@elsewhere.test@example.org"]
    for t in tricks:
        r = c.cmd(f"RCPT TO:<{t}>")
        check(r.startswith("554 5.7.1 ") and r.endswith("Relay access denied")
              or r.startswith("501"),
              f"open relay attempt refused: <{t}>: {r}")
    check(c.cmd("RCPT TO:<Alice@Example.ORG>").startswith("250"),
          "our domain matches without regard to case")
    # mydestination = localhost: system users.
    check(c.cmd("RCPT TO:<root@localhost>") == "250 2.1.5 Ok",
          "system user in mydestination accepted")
    r = c.cmd("RCPT TO:<no-such-user-here@localhost>")
    check(r == "550 5.1.1 <no-such-user-here@localhost>: Recipient address "
          "rejected: User unknown in local recipient table",
          f"unknown system user: {r}")
    c.cmd("QUIT")
    # "MAIL FROM:<user>" gets @$myorigin, as in Postfix.
    d.clear()
    s = d.smtp()
    s.ehlo("client.test")
    s.mail("someuser")
    s.rcpt("bob@example.org")
    code, msg = s.data(b"Subject: x\r\n\r\nx\r\n")
    s.quit()
    if check(code == 250, "message from a domain-less sender queued"):
        sender = read_queue_file(os.path.join(d.queue, "incoming",
                                              msg.split()[-1].decode()))[0]
        check(sender == f"someuser@{HOST}", f"sender gets @$myorigin: {sender}")


def test_tempfail(tmp):
    cf = os.path.join(tmp, "missing-db.cf")
    with open(cf, "w") as f:
        f.write(f"dbpath = {tmp}/does-not-exist.sqlite\n"
                "query = SELECT 1 FROM virtual_users WHERE email='%s'\n")
    d = Smtpd(tmp, f"virtual_mailbox_maps = sqlite:{cf}\n")
    try:
        c = Conn(d)
        c.cmd("EHLO client.test")
        c.cmd("MAIL FROM:<s@remote.test>")
        r = c.cmd("RCPT TO:<alice@example.org>")
        check(r == "451 4.3.0 <alice@example.org>: Temporary lookup failure",
              f"map temporary failure gives 451 4.3.0: {r}")
        c.cmd("QUIT")
    finally:
        d.stop()


def test_pipelining(d):
    d.clear()
    c = Conn(d)
    c.cmd("EHLO client.test")
    c.send(b"MAIL FROM:<s@remote.test>\r\nRCPT TO:<nobody@example.org>\r\n"
           b"RCPT TO:<bob@example.org>\r\nRCPT TO:<x@elsewhere.test>\r\n"
           b"DATA\r\n")
    replies = [c.reply() for _ in range(5)]
    codes = [r[:3] for r in replies]
    check(codes == ["250", "550", "250", "554", "354"],
          f"pipelined replies in command order: {codes}")
    c.send(b"Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    r1, r2 = c.reply(), c.reply()
    check(r1.startswith("250 2.0.0 Ok: queued as") and r2 == "221 2.0.0 Bye",
          "end of data and QUIT pipelined")
    check(len(d.queued()) == 1, "one message queued")

    d.clear()
    c = Conn(d)
    start_txn(c)
    c.send(b"DATA\r\nSubject: early\r\n\r\nx\r\n.\r\n")
    r = c.reply()
    check(r == "554 5.5.0 Error: SMTP protocol synchronization",
          f"bytes after DATA before 354 are refused: {r}")
    check(c.closed(), "session closed after the synchronization error")
    check("improper command pipelining after DATA from unknown[127.0.0.1]"
          in d.logtext(), "log: improper command pipelining after DATA")
    time.sleep(0.2)
    check(d.queued() == [], "nothing queued after the synchronization error")


def test_bdat(d):
    d.clear()
    c = Conn(d)
    start_txn(c)
    c.send(b"BDAT 14\r\nSubject: b\r\n\r")
    c.send(b"\nBDAT 9 LAST\r\n.x\r\nbare\n")
    r1, r2 = c.reply(), c.reply()
    check(r1 == "250 2.0.0 Ok: 14 bytes", f"BDAT chunk: {r1}")
    check(r2.startswith("250 2.0.0 Ok: queued as"), f"BDAT LAST: {r2}")
    files = d.queued()
    if check(len(files) == 1, "BDAT message queued"):
        content = read_queue_file(os.path.join(d.queue, "incoming", files[0]))[2]
        check(strip_received(content) == b"Subject: b\r\n\r\n.x\r\nbare\n",
              "BDAT content stored as sent (no unstuffing, exact lengths)")
    # BDAT without a transaction: the chunk is still read, then refused.
    c.send(b"BDAT 15 LAST\r\nRCPT TO:<x@y>\r\n")
    r = c.reply()
    check(r.startswith("503 5.5.1"), f"BDAT without MAIL refused: {r}")
    check(c.cmd("NOOP") == "250 2.0.0 Ok",
          "the refused chunk's bytes were not read as commands")
    c.cmd("QUIT")
    check(len(d.queued()) == 1, "still one message")

    swaks = shutil.which("swaks")
    if swaks is None:
        dt.missing("swaks (apt-get install swaks)")
    d.clear()
    p = subprocess.run([swaks, "--server", f"127.0.0.1:{d.port}", "--from",
                        "s@remote.test", "--to", "bob@example.org", "--pipeline",
                        "--body", "via swaks\r\n.dot line", "--silent", "2"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    check(p.returncode == 0 and len(d.queued()) == 1,
          f"swaks --pipeline delivers: rc={p.returncode} {p.stdout[-300:]}")


def test_smuggling(d):
    variants = {
        "LF.LF": b"\n.\n",
        "CRLF.LF": b"\r\n.\n",
        "LF.CRLF": b"\n.\r\n",
        "CR.CR": b"\r.\r",
        "CR.CRLF": b"\r.\r\n",
        "CRLF.CR": b"\r\n.\r",
        "CR.LF": b"\r.\n",
        "LF..LF": b"\n..\n",
        "CRLF.NUL.CRLF": b"\r\n.\x00\r\n",
    }
    smuggled = (b"MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.org>\r\n"
                b"DATA\r\nSubject: smuggled\r\n\r\nspoof\r\n.\r\n")
    for name, end in variants.items():
        d.clear()
        c = Conn(d)
        start_txn(c)
        c.cmd("DATA")
        c.send(b"Subject: first\r\n\r\nhello" + end + smuggled)
        time.sleep(0.3)
        try:
            c.send(b"\r\n.\r\nQUIT\r\n")
        except OSError:
            pass
        replies = []
        try:
            while True:
                replies.append(c.reply())
        except (EOFError, OSError):
            pass
        c.close()
        time.sleep(0.2)
        files = d.queued()
        check(len(files) <= 1, f"smuggling {name}: never two messages "
              f"({len(files)} queued, replies {replies})")
        bare = any("bare <" in r for r in replies)
        if name == "CRLF.NUL.CRLF":
            check(len(files) == 1 and not bare,
                  f"{name}: NUL is data, one message: {replies}")
        else:
            check(bare and files == [],
                  f"smuggling {name}: refused as bare CR/LF, nothing queued: "
                  f"{replies}")
    check("disallowed bare <LF> received after DATA from unknown[127.0.0.1]"
          in d.logtext(), "log: disallowed bare <LF> ... from name[addr]")
    c = Conn(d)
    r = c.cmd("EHLO client.test\nMAIL FROM:<x@y.test>")
    check(r == "550 5.5.2 Error: bare <LF> received" and c.closed(),
          f"bare LF in a command line: 550 and close: {r}")


def test_limits(tmp):
    d = Smtpd(tmp, "message_size_limit = 1000\nsmtpd_recipient_limit = 2\n"
              "smtpd_hard_error_limit = 3\nsmtpd_timeout = 2s\n"
              "smtpd_client_connection_count_limit = 3\n")
    try:
        conns = [Conn(d) for _ in range(3)]
        extra = Conn(d)
        check(extra.banner == f"421 4.7.0 {HOST} Error: too many connections "
              "from 127.0.0.1" and extra.closed(),
              f"per-client connection limit: {extra.banner}")
        conns[0].cmd("QUIT")
        time.sleep(0.2)
        again = Conn(d)
        check(again.banner.startswith("220 "),
              "a connection is allowed again once one closed")
        for c in conns[1:] + [again]:
            c.cmd("QUIT")
        time.sleep(0.2)
        check("Connection concurrency limit exceeded: 4 from "
              "unknown[127.0.0.1]" in d.logtext(), "limit logged as Postfix")
        c = Conn(d)
        c.cmd("EHLO client.test")
        check(c.cmd("MAIL FROM:<s@remote.test> SIZE=2000") ==
              "552 5.3.4 Message size exceeds fixed limit", "SIZE= over the limit")
        c.cmd("MAIL FROM:<s@remote.test>")
        c.cmd("RCPT TO:<alice@example.org>")
        c.cmd("RCPT TO:<bob@example.org>")
        check(c.cmd("RCPT TO:<team@example.org>") ==
              "452 4.5.3 Error: too many recipients", "recipient limit 452 4.5.3")
        check(c.cmd("DATA").startswith("354"), "DATA 354")
        c.send(b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 20 + b".\r\n")
        check(c.reply() == "552 5.3.4 Message size exceeds fixed limit",
              "message over message_size_limit: 552 5.3.4")
        check(d.queued() == [], "the oversized message was not queued")
        c.cmd("QUIT")

        c = Conn(d)
        c.cmd("EHLO client.test")
        c.cmd("FOO")
        c.cmd("BAR")
        c.send(b"BAZ\r\n")
        r1, r2 = c.reply(), c.reply()
        check(r2 == f"421 4.7.0 {HOST} Error: too many errors" and c.closed(),
              f"hard error limit: 421 and close: {r1} / {r2}")

        c = Conn(d)
        c.cmd("EHLO client.test")
        t0 = time.monotonic()
        r = c.reply()
        check(r == f"421 4.4.2 {HOST} Error: timeout exceeded" and
              1.5 < time.monotonic() - t0 < 8,
              f"smtpd_timeout: {r}")
        time.sleep(0.2)
        check("timeout after EHLO from unknown[127.0.0.1]" in d.logtext(),
              "log: timeout after EHLO from name[addr]")
        check("too many errors after BAZ" not in d.logtext() and
              "too many errors after UNKNOWN from unknown[127.0.0.1]"
              in d.logtext(), "log: too many errors after ... from ...")

        c = Conn(d)
        r = c.cmd("EHLO " + "a" * 3000)
        check(r.startswith("500 5.5.0") and c.closed(),
              f"over-long command line refused: {r}")
    finally:
        d.stop()


def test_starttls(tmp):
    cert = os.path.join(tmp, "cert.pem")
    key = os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={HOST}",
                    "-days", "2", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    d = Smtpd(tmp, f"smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n"
              "smtpd_tls_security_level = may\n")
    try:
        s = d.smtp()
        code, ehlo = s.ehlo("client.test")
        check(b"STARTTLS" in ehlo, "STARTTLS offered")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        code, msg = s.starttls(context=ctx)
        check(code == 220 and msg == b"2.0.0 Ready to start TLS", "220 2.0.0 Ready")
        code, ehlo = s.ehlo("client.test")
        check(b"STARTTLS" not in ehlo, "STARTTLS not offered again inside TLS")
        s.mail("s@remote.test")
        s.rcpt("bob@example.org")
        code, msg = s.data(b"Subject: tls\r\n\r\nsecret\r\n")
        check(code == 250, "message over TLS queued")
        s.quit()
        qid = msg.split()[-1].decode()
        content = read_queue_file(os.path.join(d.queue, "incoming", qid))[2]
        check(re.match(rb"Received: from client\.test \(unknown \[127\.0\.0\.1\]\)"
                       rb"\r\n\t\(using TLSv1\.[23] with cipher \S+ "
                       rb"\(\d+/\d+ bits\)\)\r\n\tby mx\.example\.test "
                       rb"\(Dovetail\) with ESMTPS id " + qid.encode() +
                       rb"\r\n\tfor <bob@example\.org>; ",
                       content) is not None,
              f"Received header with TLS details: {content[:300]!r}")
        # Plaintext injected after STARTTLS must be discarded.
        c = Conn(d)
        c.cmd("EHLO client.test")
        c.send(b"STARTTLS\r\nRSET\r\n")
        check(c.reply() == "220 2.0.0 Ready to start TLS", "STARTTLS raw")
        tls = ctx.wrap_socket(c.s, server_hostname=HOST)
        tls.sendall(b"NOOP\r\n")
        data = tls.recv(1000)
        check(data == b"250 2.0.0 Ok\r\n",
              f"command injected before the handshake was dropped: {data!r}")
        tls.close()
        swaks = shutil.which("swaks")
        if swaks:
            p = subprocess.run([swaks, "--server", f"127.0.0.1:{d.port}",
                                "--from", "s@remote.test", "--to",
                                "alice@example.org", "--tls", "--silent", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=30)
            check(p.returncode == 0, f"swaks --tls: {p.stdout[-300:]}")
    finally:
        d.stop()
    d = Smtpd(tmp, f"smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n"
              "smtpd_tls_security_level = encrypt\n")
    try:
        c = Conn(d)
        c.cmd("EHLO client.test")
        r = c.cmd("MAIL FROM:<s@remote.test>")
        check(r == "530 5.7.0 Must issue a STARTTLS command first",
              f"encrypt: MAIL before STARTTLS refused: {r}")
        c.cmd("QUIT")
    finally:
        d.stop()


def test_local_submission(tmp):
    sock = os.path.join(tmp, "submit.sock")
    d = Smtpd(tmp, "", listen=f"unix:{sock}",
              opts=("-o", "smtpd_local_submission=yes"))
    try:
        c = Conn(d)
        c.cmd("EHLO localhost")
        c.cmd("MAIL FROM:<root@mx.example.test>")
        r = c.cmd("RCPT TO:<someone@far.away.test>")
        check(r == "250 2.1.5 Ok", f"local submission may relay: {r}")
        c.cmd("DATA")
        c.send(b"Subject: local\r\n\r\nhi\r\n.\r\n")
        r = c.reply()
        check(r.startswith("250 2.0.0 Ok: queued as"), f"local message queued: {r}")
        c.cmd("QUIT")
        qid = r.split()[-1]
        sender, rcpts, content = read_queue_file(
            os.path.join(d.queue, "incoming", qid))
        check(sender == "root@mx.example.test" and
              rcpts == [("someone@far.away.test", "someone@far.away.test")],
              "local submission envelope kept as given")
        check(re.match(rb"Received: by mx\.example\.test \(Dovetail, from userid "
                       + str(os.geteuid()).encode() + rb"\)\r\n\tid "
                       + qid.encode() + rb"; ", content)
              is not None, f"local Received header: {content[:120]!r}")
        time.sleep(0.2)
        check(f"{qid}: uid={os.geteuid()} from=<root@mx.example.test>"
              in d.logtext(), "log: ID: uid=N from=<...>")
    finally:
        d.stop()


def main():
    if not os.access(BIN, os.X_OK):
        dt.missing(BIN)
    tmp = tempfile.mkdtemp(prefix="dovetail-smtpd-")
    os.chmod(tmp, 0o755)
    d = Smtpd(tmp)
    try:
        for t in (test_dialogue, test_queue_file, test_dsn, test_relay, test_pipelining,
                  test_bdat, test_smuggling):
            print(f"--- {t.__name__}")
            t(d)
    finally:
        d.stop()
    for t in (test_tempfail, test_limits, test_starttls, test_local_submission):
        print(f"--- {t.__name__}")
        t(tmp)
    if failures:
        print(f"{len(failures)} failure(s); smtpd log:\n" + d.logtext()[-3000:])
        sys.exit(1)
    shutil.rmtree(tmp, ignore_errors=True)
    print("all smtpd tests passed")


if __name__ == "__main__":
    main()
