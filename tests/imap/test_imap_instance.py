"""IMAP end to end (issue 6): a whole running instance (master, auth with
a SQLite passdb and a static userdb, imap-login on a plain and an implicit
TLS port, imapd as the vmail user, and smtpd -> qmgr -> LMTP -> lmtpd for
delivery), talked to over TCP the way mail clients do.

Checked:
 - greeting and pre-auth CAPABILITY on the plain port: STARTTLS and
   AUTH=PLAIN offered; loopback counts as secured (Dovecot's rule), so no
   LOGINDISABLED there, even on a listener with ssl = required;
 - from a non-loopback local address (when the host has one): ssl = yes
   and ssl = required listeners announce LOGINDISABLED and refuse LOGIN
   before TLS, accept it after STARTTLS;
 - STARTTLS then LOGIN; IMAPS with LOGIN and with AUTHENTICATE PLAIN and
   SASL-IR; the "Login:" log line (with ", TLS" on TLS);
 - a command pipelined after LOGIN in the same packet is answered by imapd
   (the handoff carries the input imap-login had read already);
 - a Thunderbird-style session: LIST, SELECT INBOX, UID FETCH 1:* (FLAGS
   BODY.PEEK[HEADER.FIELDS (From Subject Date)]), IDLE woken by a message
   delivered through smtpd -> LMTP within a few seconds, APPEND to Sent,
   MOVE to Trash;
 - the imapd process runs as the vmail user, imap-login as mail_owner
   (/proc/PID/status);
 - mail_max_userip_connections = 2: a third session from 127.0.0.1 is
   refused with the limit's text;
 - a wrong password: NO [AUTHENTICATIONFAILED] and the "Disconnected (auth
   failed, ..." log line; 3 failures: BYE and disconnect.
Needs root (master drops privileges).
"""
import base64
import imaplib
import os
import pwd
import re
import smtplib
import socket
import ssl
import sys
import time

import dovetail_test
from imap_instance import imap_instance, tls_context
from instance import VMAIL_USER, MAIL_OWNER, free_port, wait_for

USER = "alice@example.org"
PASSWORD = "s3cret pw"
DOMAIN = "example.org"
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


class Conn:
    """A raw IMAP client connection (plain, STARTTLS or implicit TLS) for
    exact-line checks."""

    def __init__(self, port, host="127.0.0.1", tls=False, timeout=10.0,
                 source=None):
        self.sock = socket.create_connection(
            (host, port), timeout,
            source_address=(source, 0) if source else None)
        self.timeout = timeout
        self.buf = b""
        if tls:
            self.starttls_now()

    def starttls_now(self):
        self.sock = tls_context().wrap_socket(self.sock)
        self.sock.settimeout(self.timeout)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self, timeout=None):
        """One line with CRLF; b"" at EOF; raises socket.timeout."""
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                chunk = b""
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        i = self.buf.index(b"\n")
        line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
        return line

    def until_tag(self, tag, timeout=None):
        """(untagged lines, tagged line) as str; the tagged line is "" at
        EOF or timeout."""
        lines = []
        deadline = time.time() + (timeout or self.timeout)
        while True:
            left = deadline - time.time()
            if left <= 0:
                return lines, ""
            try:
                line = self.readline(left)
            except (socket.timeout, TimeoutError):
                return lines, ""
            if line == b"":
                return lines, ""
            s = line.decode("utf-8", "replace").rstrip("\r\n")
            if s.startswith(tag + " "):
                return lines, s
            lines.append(s)

    def cmd(self, tag, text, timeout=None):
        self.send(f"{tag} {text}\r\n")
        return self.until_tag(tag, timeout)

    def eof(self, timeout=5.0):
        """True when the server closes (after reading what is left)."""
        end = time.time() + timeout
        while time.time() < end:
            try:
                if self.readline(end - time.time()) == b"":
                    return True
            except (socket.timeout, TimeoutError):
                return False
            except OSError:
                return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def caps_of(line):
    m = re.search(r"\[CAPABILITY ([^\]]*)\]", line)
    if m:
        return m.group(1).split()
    if line.startswith("* CAPABILITY "):
        return line.split()[2:]
    return []


def capability(conn, tag="c"):
    lines, tagged = conn.cmd(tag, "CAPABILITY")
    caps = []
    for line in lines:
        caps += caps_of(line)
    return caps, tagged


def quoted(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def proc_ids(pid):
    """(real uid, effective uid, real gid) of a process, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)", text, re.M)
    gid = re.search(r"^Gid:\s+(\d+)", text, re.M)
    return int(uid.group(1)), int(uid.group(2)), int(gid.group(1))


def external_address():
    """A non-loopback IPv4 address of this host, or None: connections
    from it are not "secured" (Dovecot: only loopback and TLS are)."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("192.0.2.250", 9))  # no packet is sent
        addr = s.getsockname()[0]
        s.close()
    except OSError:
        return None
    if addr.startswith("127."):
        return None
    try:
        probe = socket.socket()
        probe.bind((addr, 0))
        probe.close()
    except OSError:
        return None
    return addr


def smtp_deliver(inst, subject, body="hello\r\n"):
    msg = (f"From: Bob Sender <bob@remote.test>\r\nTo: <{USER}>\r\n"
           f"Subject: {subject}\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
           f"Message-ID: <{subject.replace(' ', '.')}@remote.test>\r\n\r\n"
           f"{body}")
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=20) as c:
        c.sendmail("bob@remote.test", [USER], msg.encode())


def login_line(conn, tag="l"):
    return conn.cmd(tag, f"LOGIN {quoted(USER)} {quoted(PASSWORD)}")


def test_plain_port(inst):
    c = Conn(inst.imap_port)
    greeting = c.readline().decode(errors="replace")
    check(greeting.startswith("* OK "), f"143: greeting {greeting.strip()!r}")
    caps, tagged = capability(c)
    check(tagged.startswith("c OK"), f"143: CAPABILITY completes: {tagged!r}")
    check("IMAP4rev1" in caps and "STARTTLS" in caps,
          f"143: IMAP4rev1 and STARTTLS before TLS: {caps}")
    check("LOGINDISABLED" not in caps and "AUTH=PLAIN" in caps,
          "143: loopback counts as secured: no LOGINDISABLED, AUTH=PLAIN")
    check("SASL-IR" in caps, "143: SASL-IR announced")
    _, tagged = c.cmd("s", "STARTTLS")
    check(tagged.startswith("s OK"), f"143: STARTTLS: {tagged!r}")
    c.starttls_now()
    caps, _ = capability(c, "c2")
    check("STARTTLS" not in caps and "AUTH=PLAIN" in caps,
          f"143 after STARTTLS: no STARTTLS, AUTH=PLAIN: {caps}")
    start = inst.log_size()
    lines, tagged = login_line(c)
    check(tagged.startswith("l OK"), f"143: LOGIN after STARTTLS: {tagged!r}")
    post = caps_of(tagged)
    for line in lines:
        post += caps_of(line)
    if post:
        check("IDLE" in post and "MOVE" in post and "AUTH=PLAIN" not in post,
              f"LOGIN's OK carries the post-login capabilities: {post}")
    check(inst.wait_log(r"imap-login.*Login: user=<" + re.escape(USER) +
                        r">, method=PLAIN, rip=127\.0\.0\.1, "
                        r"lip=127\.0\.0\.1.*, TLS", 5, start) is not None,
          "Login: log line (method, rip, lip, TLS)")
    _, tagged = c.cmd("n", "NOOP")
    check(tagged.startswith("n OK"), f"imapd answers NOOP after STARTTLS login: {tagged!r}")
    lines, tagged = c.cmd("o", "LOGOUT")
    check(any(l.startswith("* BYE") for l in lines) and tagged.startswith("o OK"),
          f"LOGOUT: {lines} {tagged!r}")
    c.close()


def test_not_secured(inst, ext, ports):
    """Listeners reached from a non-loopback address."""
    for name, port in ports:
        c = Conn(port, host=ext, source=ext)
        greeting = c.readline().decode(errors="replace")
        caps = caps_of(greeting) or capability(c)[0]
        check("LOGINDISABLED" in caps and "AUTH=PLAIN" not in caps
              and "STARTTLS" in caps,
              f"{name} from {ext}: LOGINDISABLED, STARTTLS, no AUTH=PLAIN: {caps}")
        _, tagged = login_line(c, "l0")
        check(tagged.startswith("l0 NO"),
              f"{name}: LOGIN refused before TLS: {tagged!r}")
        _, tagged = c.cmd("a0", "AUTHENTICATE PLAIN " + base64.b64encode(
            f"\0{USER}\0{PASSWORD}".encode()).decode())
        check(tagged.startswith("a0 NO") or tagged.startswith("a0 BAD"),
              f"{name}: AUTHENTICATE PLAIN refused before TLS: {tagged!r}")
        _, tagged = c.cmd("s", "STARTTLS")
        check(tagged.startswith("s OK"), f"{name}: STARTTLS: {tagged!r}")
        c.starttls_now()
        caps, _ = capability(c, "c2")
        check("LOGINDISABLED" not in caps and "AUTH=PLAIN" in caps,
              f"{name} after STARTTLS: LOGIN allowed: {caps}")
        _, tagged = login_line(c)
        check(tagged.startswith("l OK"), f"{name}: LOGIN after STARTTLS: {tagged!r}")
        c.cmd("o", "LOGOUT")
        c.close()


def test_loopback_required(inst, port):
    c = Conn(port)
    greeting = c.readline().decode(errors="replace")
    caps = caps_of(greeting) or capability(c)[0]
    check("LOGINDISABLED" not in caps,
          f"ssl=required on loopback: secured, no LOGINDISABLED: {caps}")
    _, tagged = login_line(c)
    check(tagged.startswith("l OK"),
          f"ssl=required on loopback: LOGIN without TLS (Dovecot): {tagged!r}")
    c.cmd("o", "LOGOUT")
    c.close()


def test_imaps(inst):
    # imaplib over implicit TLS, LOGIN
    start = inst.log_size()
    m = imaplib.IMAP4_SSL("127.0.0.1", inst.imaps_port,
                          ssl_context=tls_context(), timeout=15)
    typ, _ = m.login(USER, PASSWORD)
    check(typ == "OK", "IMAPS: LOGIN (imaplib)")
    typ, data = m.capability()
    caps = data[0].decode().split() if data and data[0] else []
    check(typ == "OK" and "IDLE" in caps and "UIDPLUS" in caps,
          f"IMAPS: post-login CAPABILITY from imapd: {caps}")
    m.logout()
    check(inst.wait_log(r"Login: user=<" + re.escape(USER) + r">, "
                        r"method=PLAIN, rip=127\.0\.0\.1.*TLS", 5, start)
          is not None, "IMAPS: Login: log line with TLS")

    # AUTHENTICATE PLAIN with an initial response (SASL-IR)
    c = Conn(inst.imaps_port, tls=True)
    greeting = c.readline().decode(errors="replace")
    check(greeting.startswith("* OK"), f"IMAPS greeting {greeting.strip()!r}")
    ir = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    lines, tagged = c.cmd("a", "AUTHENTICATE PLAIN " + ir)
    check(tagged.startswith("a OK") and not any(l.startswith("+") for l in lines),
          f"IMAPS: AUTHENTICATE PLAIN with SASL-IR, no continuation: {tagged!r}")
    _, tagged = c.cmd("s", "STATUS INBOX (MESSAGES)")
    check(tagged.startswith("s OK"), f"imapd serves STATUS after AUTHENTICATE: {tagged!r}")
    c.cmd("o", "LOGOUT")
    c.close()

    # AUTHENTICATE PLAIN without SASL-IR (a continuation)
    c = Conn(inst.imaps_port, tls=True)
    c.readline()
    c.send("a AUTHENTICATE PLAIN\r\n")
    cont = c.readline().decode(errors="replace")
    check(cont.startswith("+"), f"AUTHENTICATE PLAIN: continuation {cont!r}")
    c.send(ir + "\r\n")
    _, tagged = c.until_tag("a")
    check(tagged.startswith("a OK"), f"AUTHENTICATE PLAIN after continuation: {tagged!r}")
    c.cmd("o", "LOGOUT")
    c.close()


def test_pipelined(inst):
    """LOGIN, SELECT and LOGOUT in one packet: imap-login reads all of it;
    the part after LOGIN goes to imapd with the handoff."""
    c = Conn(inst.imaps_port, tls=True)
    c.readline()
    c.send(f"p1 LOGIN {quoted(USER)} {quoted(PASSWORD)}\r\n"
           "p2 SELECT INBOX\r\np3 LOGOUT\r\n")
    _, t1 = c.until_tag("p1")
    lines, t2 = c.until_tag("p2")
    check(t1.startswith("p1 OK"), f"pipelined: LOGIN answered: {t1!r}")
    check(t2.startswith("p2 OK") and any(re.match(r"\* \d+ EXISTS", l) for l in lines),
          f"pipelined: SELECT in the same packet answered by imapd: {t2!r}")
    _, t3 = c.until_tag("p3")
    check(t3.startswith("p3 OK"), f"pipelined: LOGOUT answered: {t3!r}")
    c.close()


def test_thunderbird(inst):
    """What Thunderbird does, over IMAPS."""
    c = Conn(inst.imaps_port, tls=True, timeout=15)
    c.readline()
    _, t = c.cmd("1", "AUTHENTICATE PLAIN " + base64.b64encode(
        f"\0{USER}\0{PASSWORD}".encode()).decode())
    check(t.startswith("1 OK"), f"TB: login {t!r}")
    lines, t = c.cmd("2", 'ID ("name" "Thunderbird" "version" "115.0")')
    check(t.startswith("2 OK"), f"TB: ID {t!r}")
    lines, t = c.cmd("3", 'LIST (SPECIAL-USE) "" "*"')
    check(t.startswith("3 OK"), f"TB: LIST (SPECIAL-USE) {t!r}")
    special = {}
    for l in lines:
        m = re.match(r'\* LIST \(([^)]*)\) "(.)" "?([^"]*)"?$', l)
        if m:
            for attr in m.group(1).split():
                special[attr] = m.group(3)
    check(special.get("\\Sent") == "Sent" and special.get("\\Trash") == "Trash",
          f"TB: Sent and Trash exist with their SPECIAL-USE: {lines}")
    lines, t = c.cmd("4", 'LIST "" "*"')
    names = [l for l in lines if l.startswith("* LIST")]
    check(t.startswith("4 OK") and any(re.search(r'"?INBOX"?$', l) for l in names),
          f"TB: LIST shows INBOX: {names}")
    lines, t = c.cmd("5", "SELECT INBOX")
    exists = [int(m.group(1)) for l in lines
              for m in [re.match(r"\* (\d+) EXISTS", l)] if m]
    check(t.startswith("5 OK [READ-WRITE]") and exists and exists[0] >= 1,
          f"TB: SELECT INBOX {t!r}, EXISTS {exists}")
    check(any("UIDVALIDITY" in l for l in lines) and any("UIDNEXT" in l for l in lines),
          "TB: SELECT gives UIDVALIDITY and UIDNEXT")
    n0 = exists[0] if exists else 0
    lines, t = c.cmd("6", "UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject Date)])")
    fetched = [l for l in lines if re.match(r"\* \d+ FETCH", l)]
    text = "\n".join(lines)
    check(t.startswith("6 OK") and len(fetched) == n0,
          f"TB: UID FETCH headers for {n0} messages: {t!r}")
    check("Subject: first message" in text and "From: Bob Sender" in text
          and "Message-ID" not in text,
          "TB: HEADER.FIELDS gives only From/Subject/Date")
    lines, t = c.cmd("6b", "FETCH 1 (FLAGS)")
    flags = [l for l in lines if re.match(r"\* 1 FETCH", l)]
    check(t.startswith("6b OK") and len(flags) == 1 and "\\Seen" not in flags[0],
          f"TB: BODY.PEEK left the message unseen: {flags}")

    # IDLE woken by a delivery through smtpd -> qmgr -> LMTP -> lmtpd
    c.send("7 IDLE\r\n")
    cont = c.readline().decode(errors="replace")
    check(cont.startswith("+"), f"TB: IDLE continuation {cont!r}")
    t0 = time.time()
    smtp_deliver(inst, "while idling", "new mail\r\n")
    woken = None
    while time.time() - t0 < 10:
        try:
            line = c.readline(10 - (time.time() - t0)).decode(errors="replace")
        except (socket.timeout, TimeoutError):
            break
        if not line:
            break
        m = re.match(r"\* (\d+) EXISTS", line)
        if m and int(m.group(1)) > n0:
            woken = time.time() - t0
            break
    check(woken is not None, "TB: IDLE reports the delivered message (EXISTS)")
    if woken is not None:
        print(f"      (delivery to EXISTS in {woken:.2f} s)")
        check(woken < 6, f"TB: within a few seconds of the SMTP delivery ({woken:.2f} s)")
    c.send("DONE\r\n")
    _, t = c.until_tag("7")
    check(t.startswith("7 OK"), f"TB: IDLE ends with DONE: {t!r}")
    lines, t = c.cmd("8", "UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])")
    check("while idling" in "\n".join(lines), "TB: the new message can be fetched")

    # APPEND a sent message to Sent
    sent = (b"From: Alice <alice@example.org>\r\nTo: bob@remote.test\r\n"
            b"Subject: my reply\r\nDate: Mon, 01 Jan 2024 11:00:00 +0000\r\n"
            b"\r\nthanks\r\n")
    c.send(f'9 APPEND Sent (\\Seen) {{{len(sent)}}}\r\n')
    cont = c.readline().decode(errors="replace")
    check(cont.startswith("+"), f"TB: APPEND literal continuation {cont!r}")
    c.send(sent + b"\r\n")
    _, t = c.until_tag("9")
    check(t.startswith("9 OK [APPENDUID "), f"TB: APPEND to Sent: {t!r}")
    lines, t = c.cmd("10", "STATUS Sent (MESSAGES)")
    check(any(re.search(r"MESSAGES 1\)", l) for l in lines), f"TB: Sent has 1 message: {lines}")

    # MOVE the first message to Trash
    lines, t = c.cmd("11", "UID MOVE 1 Trash")
    check(t.startswith("11 OK") and any(re.match(r"\* 1 EXPUNGE|\* VANISHED", l)
                                        for l in lines),
          f"TB: UID MOVE 1 Trash: {lines} {t!r}")
    check(any("COPYUID" in l for l in lines + [t]), "TB: MOVE gives COPYUID")
    lines, t = c.cmd("12", "STATUS Trash (MESSAGES)")
    check(any(re.search(r"MESSAGES 1\)", l) for l in lines), f"TB: Trash has 1 message: {lines}")
    lines, t = c.cmd("13", "UID SEARCH ALL")
    check(t.startswith("13 OK") and any(l.startswith("* SEARCH") and " 1 " not in l + " "
                                         for l in lines),
          f"TB: UID 1 gone from INBOX: {lines}")
    c.cmd("14", "LOGOUT")
    c.close()
    inbox = os.path.join(inst.mail, DOMAIN, "alice", "Maildir")
    st = os.stat(inbox) if os.path.isdir(inbox) else None
    check(st is not None and st.st_uid == inst.vmail.pw_uid,
          f"the Maildir {inbox} belongs to {VMAIL_USER}")


def test_processes(inst):
    c = Conn(inst.imaps_port, tls=True)
    c.readline()
    login_line(c)
    imapd = inst.daemon_pids("imapd")
    logins = inst.daemon_pids("imap-login")
    vm = inst.vmail
    mo = pwd.getpwnam(MAIL_OWNER)
    check(bool(imapd) and all(proc_ids(p) and proc_ids(p)[:2] == (vm.pw_uid, vm.pw_uid)
                              for p in imapd),
          f"imapd {imapd} runs as {VMAIL_USER} ({vm.pw_uid}): "
          f"{[proc_ids(p) for p in imapd]}")
    check(bool(imapd) and all(proc_ids(p)[2] == mo.pw_gid for p in imapd),
          f"imapd runs in {MAIL_OWNER}'s group")
    check(bool(logins) and all(proc_ids(p) and proc_ids(p)[:2] == (mo.pw_uid, mo.pw_uid)
                               for p in logins),
          f"imap-login {logins} runs as {MAIL_OWNER} ({mo.pw_uid}): "
          f"{[proc_ids(p) for p in logins]}")
    c.cmd("o", "LOGOUT")
    c.close()


def test_userip_limit(inst):
    held = []
    for i in range(2):
        c = Conn(inst.imaps_port, tls=True)
        c.readline()
        _, t = login_line(c, f"h{i}")
        check(t.startswith(f"h{i} OK"), f"limit: session {i + 1} of 2 logs in: {t!r}")
        held.append(c)
    c = Conn(inst.imaps_port, tls=True)
    c.readline()
    lines, t = login_line(c, "h3")
    text = "\n".join(lines + [t])
    check("Maximum number of connections" in text and not t.startswith("h3 OK"),
          f"limit: the third session is refused: {lines} {t!r}")
    check(c.eof(), "limit: the refused session is closed")
    c.close()
    for c in held:
        c.cmd("o", "LOGOUT")
        c.close()
    # after the others left, a new one is accepted again
    ok = False
    for _ in range(20):
        c = Conn(inst.imaps_port, tls=True)
        c.readline()
        _, t = login_line(c, "h4")
        c.close()
        if t.startswith("h4 OK"):
            ok = True
            break
        time.sleep(0.2)
    check(ok, "limit: a session is accepted again once the others logged out")


def test_failures(inst):
    start = inst.log_size()
    c = Conn(inst.imap_port)
    c.readline()
    _, t = c.cmd("f1", f"LOGIN {quoted(USER)} \"wrong\"", timeout=30)
    check(t == "f1 NO [AUTHENTICATIONFAILED] Authentication failed.",
          f"wrong password: {t!r}")
    c.close()  # hangs up, as clients do after a failed login
    check(inst.wait_log(r"imap-login.*Disconnected \(auth failed, 1 attempts in "
                        r"\d+ secs\): user=<" + re.escape(USER) +
                        r">, method=PLAIN, rip=127\.0\.0\.1", 5, start) is not None,
          "log: Disconnected (auth failed, 1 attempts ...)")

    # From another loopback address: auth's penalty is per address, and
    # 127.0.0.1 has one now.
    c = Conn(inst.imap_port, timeout=30, source="127.0.0.3")
    c.readline()
    last = None
    for i in range(3):
        lines, t = c.cmd(f"x{i}", f"LOGIN {quoted(USER)} \"wrong\"", timeout=30)
        last = lines, t
    lines, t = last
    check(t.startswith("x2 NO") and any(l.startswith("* BYE") for l in lines + [t])
          or (t.startswith("x2 NO") and c.eof(5)),
          f"3 failures: third NO, then BYE: {lines} {t!r}")
    check(c.eof(5), "3 failures: disconnected")
    c.close()
    check(inst.wait_log(r"imap-login.*: Disconnected \(auth failed, 3 attempts "
                        r"in \d+ secs\): user=<" + re.escape(USER) + r">, "
                        r"method=PLAIN, rip=127\.0\.0\.3", 5, start)
          is not None, "log: at the limit, Disconnected (auth failed, 3 ...)")

    # a failure, then LOGOUT: Dovecot's "Aborted login by logging out"
    c = Conn(inst.imap_port, timeout=30, source="127.0.0.4")
    c.readline()
    _, t = c.cmd("y1", f"LOGIN {quoted(USER)} \"wrong\"", timeout=30)
    check(t.startswith("y1 NO "), f"wrong password: {t!r}")
    lines, t = c.cmd("y2", "LOGOUT")
    check(lines == ["* BYE Logging out"] and t == "y2 OK Logout completed.",
          f"LOGOUT after a failure: {lines} {t!r}")
    c.close()
    check(inst.wait_log(r"imap-login.*: Disconnected: Aborted login by logging "
                        r"out \(auth failed, 1 attempts in \d+ secs\): "
                        r"user=<" + re.escape(USER) + r">, method=PLAIN, "
                        r"rip=127\.0\.0\.4", 5, start) is not None,
          "log: Aborted login by logging out (auth failed, 1 attempts ...)")
    # LOGOUT without trying
    c = Conn(inst.imap_port, timeout=30, source="127.0.0.5")
    c.readline()
    c.cmd("z1", "LOGOUT")
    c.close()
    check(inst.wait_log(r"imap-login.*: Disconnected: Aborted login by logging "
                        r"out \(no auth attempts in \d+ secs\): .*"
                        r"rip=127\.0\.0\.5", 5, start) is not None,
          "log: Aborted login by logging out (no auth attempts ...)")


def test_quota(inst):
    """GETQUOTAROOT/GETQUOTA with the userdb's quota_rule (RFC 9208): both
    resources are advertised and reported, usage counted from the
    Maildir."""
    c = Conn(inst.imap_port)
    c.readline()
    lines, t = login_line(c, "q0")
    check(t.startswith("q0 OK"), f"login: {t!r}")
    lines, t = c.cmd("q1", "CAPABILITY")
    caps = lines[0].split() if lines else []
    check("QUOTA=RES-STORAGE" in caps and "QUOTA=RES-MESSAGE" in caps,
          f"QUOTA resources advertised: {caps}")
    lines, t = c.cmd("q2", "STATUS INBOX (MESSAGES)")
    m = re.search(r"MESSAGES (\d+)", " ".join(lines))
    msgs = int(m.group(1)) if m else -1
    lines, t = c.cmd("q3", "GETQUOTAROOT INBOX")
    check(t.startswith("q3 OK") and re.fullmatch(r'\* QUOTAROOT "?INBOX"? ""', lines[0]) and
          re.fullmatch(r'\* QUOTA "" \(STORAGE (\d+) 1048576 MESSAGE (\d+) '
                       r'1000\)', lines[1]) is not None,
          f"GETQUOTAROOT: {lines} {t!r}")
    m = re.fullmatch(r'.*MESSAGE (\d+) 1000\)', lines[1] if len(lines) > 1
                     else "")
    check(m is not None and int(m.group(1)) >= msgs >= 1,
          f"MESSAGE usage counts the messages ({msgs}): {lines}")
    lines, t = c.cmd("q4", 'GETQUOTA ""')
    check(t.startswith("q4 OK") and len(lines) == 1 and
          lines[0].startswith('* QUOTA "" (STORAGE '), f"GETQUOTA: {lines}")
    _, t = c.cmd("q5", 'SETQUOTA "" (STORAGE 1)')
    check(t.startswith("q5 NO "), f"SETQUOTA refused: {t!r}")
    c.cmd("q6", "LOGOUT")
    c.close()


def main():
    dovetail_test.need_root()
    req_port = free_port()
    ext = external_address()
    ext_ports = []
    extra = f"127.0.0.1:{req_port} inet n - n - 1 imap-login -o ssl=required\n"
    if ext:
        p1, p2 = free_port(), free_port()
        ext_ports = [("ssl=yes", p1), ("ssl=required", p2)]
        extra += (f"{ext}:{p1} inet n - n - 1 imap-login\n"
                  f"{ext}:{p2} inet n - n - 1 imap-login -o ssl=required\n")
    inst, _ = imap_instance({USER: PASSWORD}, delivery=True,
                            master_cf_extra=extra,
                            main_cf_extra="mail_max_userip_connections = 2\n",
                            userdb_extra="quota_rule=*:storage=1G:messages=1000")
    t0 = time.time()
    with inst:
        inst.start()
        # a first message, so the Maildir exists and FETCH has something
        smtp_deliver(inst, "first message", "body one\r\n")
        inbox_new = os.path.join(inst.mail, DOMAIN, "alice", "Maildir", "new")
        check(bool(wait_for(lambda: os.path.isdir(inbox_new) and os.listdir(inbox_new),
                            15)), "the first message was delivered by LMTP")
        steps = [("plain port", lambda: test_plain_port(inst)),
                 ("loopback ssl=required", lambda: test_loopback_required(inst, req_port)),
                 ("IMAPS", lambda: test_imaps(inst)),
                 ("pipelined", lambda: test_pipelined(inst)),
                 ("Thunderbird", lambda: test_thunderbird(inst)),
                 ("processes", lambda: test_processes(inst)),
                 ("userip limit", lambda: test_userip_limit(inst)),
                 ("quota", lambda: test_quota(inst)),
                 ("auth failures", lambda: test_failures(inst))]
        if ext:
            steps.insert(2, ("not secured", lambda: test_not_secured(inst, ext, ext_ports)))
        else:
            print("note: no non-loopback address; LOGINDISABLED not checked")
        for name, fn in steps:
            print(f"--- {name}", flush=True)
            try:
                fn()
            except Exception as e:  # a dead connection fails this step only
                check(False, f"{name}: {type(e).__name__}: {e}")
        if failures:
            print("--- mail.log (tail)\n" + inst.log()[-6000:])
    print(f"({time.time() - t0:.1f} s)")
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
