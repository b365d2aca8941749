"""Test helpers for the queue: an independent writer and reader of the
queue file format (lib/mail/queue_file.h, version 1), and a small fake
LMTP server (a test peer, for testing qmgr and smtp without lmtpd).
"""
import os
import socket
import threading
import time

ID_DIGITS = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy"


def _enc(v, minlen=1):
    out = ""
    while True:
        out = ID_DIGITS[v % 51] + out
        v //= 51
        if v == 0:
            break
    return out.rjust(minlen, "0")


def _rec(t, data):
    return t.encode() + str(len(data)).encode() + b":" + data + b"\n"


def _fields(*vals):
    out = b""
    for v in vals:
        v = v if isinstance(v, bytes) else str(v).encode()
        out += str(len(v)).encode() + b":" + v + b","
    return out


def queue_file_bytes(sender, rcpts, content, attrs=None, when=None):
    """rcpts: list of addresses or (address, orig, orcpt, notify)."""
    when = when or time.time()
    out = _rec("V", b"DOVETAIL-QUEUE-1")
    out += _rec("T", f"{int(when)}.{int((when % 1) * 1e6):06d}".encode())
    for k, v in (attrs or {}).items():
        out += _rec("A", f"{k}={v}".encode())
    out += _rec("S", sender.encode())
    for r in rcpts:
        if isinstance(r, str):
            r = (r, "", "", 0)
        out += _rec("R", _fields(*r))
    out += _rec("M", b"%020d" % len(content)) + content + _rec("X", b"")
    return out


def inject(queue_dir, sender, rcpts, content, sub="incoming", attrs=None, raw=None):
    """Writes a queue file into queue_dir/sub the way smtpd does (temp
    file, fsync, rename to its ID); returns the ID."""
    d = os.path.join(queue_dir, sub)
    now = time.time()
    tmp = os.path.join(d, f".tinject.{os.getpid()}.{int(now * 1e6)}")
    data = raw if raw is not None else queue_file_bytes(sender, rcpts, content, attrs, now)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, data)
    os.fsync(fd)
    ino = os.fstat(fd).st_ino
    os.close(fd)
    qid = _enc(int(now)) + _enc(int((now % 1) * 1e6), 4) + "z" + _enc(ino)
    st = os.stat(d)
    os.chown(tmp, st.st_uid, st.st_gid)
    os.rename(tmp, os.path.join(d, qid))
    return qid


def wake_qmgr(queue_dir):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(os.path.join(queue_dir, "public", "qmgr"))
        s.sendall(b"W")
    finally:
        s.close()


class FakeLMTP:
    """A minimal RFC 2033 server on a unix socket. users: accepted
    recipients (others get 550 5.1.1). mode "tempfail" answers 451 4.3.0
    to every RCPT; mode "after_data_tempfail" accepts RCPT but gives 452
    after the dot. messages: list of (sender, [rcpts], content bytes,
    mail_from_line, rcpt_lines)."""

    def __init__(self, path, users, pipelining=True, tcp=False):
        """path: a unix socket path, or with tcp=True ignored: listens on
        127.0.0.1 and a free port (self.port)."""
        self.tcp = tcp
        self.port = None
        self.path = path
        self.users = set(users)
        self.mode = "ok"
        # Recipients that always get 451 4.3.0 whatever the mode.
        self.tempfail_users = set()
        self.pipelining = pipelining
        self.messages = []
        self.lock = threading.Lock()
        self.sock = None
        self.threads = []
        self.start()

    def start(self):
        if self.tcp:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", self.port or 0))
            self.port = self.sock.getsockname()[1]
        else:
            if os.path.exists(self.path):
                os.unlink(self.path)
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(self.path)
            os.chmod(self.path, 0o666)
        self.sock.listen(50)
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()

    def stop(self):
        try:
            self.sock.close()
        except OSError:
            pass
        if not self.tcp:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def _accept(self):
        sock = self.sock
        while True:
            try:
                c, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(c,), daemon=True).start()

    def _session(self, c):
        f = c.makefile("rwb")

        def send(line):
            f.write(line.encode() + b"\r\n")

        try:
            send("220 fake.test LMTP ready")
            f.flush()
            sender, rcpts, mail_line, rcpt_lines = None, [], "", []
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.rstrip(b"\r\n").decode("utf-8", "replace")
                up = cmd.upper()
                if up.startswith("LHLO"):
                    exts = ["8BITMIME", "ENHANCEDSTATUSCODES", "DSN", "SIZE"]
                    if self.pipelining:
                        exts.insert(0, "PIPELINING")
                    send("250-fake.test")
                    for e in exts[:-1]:
                        send("250-" + e)
                    send("250 " + exts[-1])
                elif up.startswith("MAIL FROM:"):
                    mail_line = cmd
                    sender = cmd[10:].split(">")[0].lstrip("<")
                    rcpts, rcpt_lines = [], []
                    send("250 2.1.0 Ok")
                elif up.startswith("RCPT TO:"):
                    rcpt_lines.append(cmd)
                    addr = cmd[8:].split(">")[0].lstrip("<")
                    if self.mode == "tempfail" or addr in self.tempfail_users:
                        send("451 4.3.0 <%s> Temporary failure" % addr)
                    elif addr in self.users:
                        rcpts.append(addr)
                        send("250 2.1.5 Ok")
                    else:
                        send("550 5.1.1 <%s> User doesn't exist" % addr)
                elif up == "DATA":
                    if not rcpts:
                        send("503 5.5.1 No valid recipients")
                        f.flush()
                        continue
                    send("354 OK")
                    f.flush()
                    body = b""
                    while True:
                        l = f.readline()
                        if not l:
                            return
                        if l == b".\r\n":
                            break
                        if l.startswith(b"."):
                            l = l[1:]
                        body += l
                    with self.lock:
                        if self.mode != "after_data_tempfail":
                            self.messages.append((sender, list(rcpts), body,
                                                  mail_line, list(rcpt_lines)))
                    for r in rcpts:
                        if self.mode == "after_data_tempfail":
                            send("452 4.2.2 <%s> Mailbox full" % r)
                        else:
                            send("250 2.0.0 <%s> Saved" % r)
                elif up == "QUIT":
                    send("221 2.0.0 Bye")
                    f.flush()
                    return
                elif up == "RSET":
                    send("250 2.0.0 Ok")
                else:
                    send("502 5.5.2 Unknown command")
                f.flush()
        except (OSError, ValueError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass
