"""Test harness for imapd (issue 6): a user's home and Maildir in a temp
dir, and imapd sessions in preauth mode on pipes, without master, login
or auth.

    from imap_harness import ImapEnv
    env = ImapEnv()                      # temp dir: conf dir (main.cf), home, Maildir
    env.maildir("INBOX") -> path         # Maildir of a folder ("Sent" -> home/Maildir/.Sent)
    env.deliver(raw, folder="INBOX", flags="", keywords=(), mtime=None) -> path
    m = env.connect()                    # imaplib.IMAP4_stream on imapd -P (state AUTH)
    raw = env.raw()                      # .send(bytes), .readline(), .expect(re)
    env.close()                          # ends sessions, removes the temp dir

ImapEnv(main_cf="...") appends lines to main.cf; env.log() is what the
sessions logged (their stderr, appended to env.stderr_path, and the
maillog_file). ImapEnv is also a context manager. imapd runs as
   BIN_DIR/imapd -c CONF -f -P USER:HOME -o mail_location=maildir:~/Maildir
as the invoking user (root in CI: the Maildir belongs to root then). If
imapd is not built, the constructor calls missing() (skip locally, fail
in CI). DOVETAIL_KEEP_TEST_DIR=1 keeps the temp dir.

Uses only the Python standard library.
"""
import base64
import imaplib
import os
import re
import select
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

from dovetail_test import bin_path, missing

USER = "tester"


def mutf7_encode(name):
    """Modified UTF-7 (RFC 3501 5.1.3) of one mailbox name."""
    out = []
    buf = []

    def flush():
        if buf:
            b = base64.b64encode("".join(buf).encode("utf-16-be")).decode("ascii")
            out.append("&" + b.rstrip("=").replace("/", ",") + "-")
            buf.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


class RawSession:
    """One imapd -P session on pipes for exact-bytes checks."""

    def __init__(self, argv, timeout=10.0, stderr=None):
        self.timeout = timeout
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=stderr,
                                     bufsize=0)
        self.buf = b""
        self.eof = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.time()
        if left <= 0:
            return False
        fd = self.proc.stdout.fileno()
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            return False
        chunk = os.read(fd, 65536)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def readline(self, timeout=None):
        """The next line with its CRLF; b"" at EOF; raises TimeoutError."""
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            if not self._fill(deadline):
                if self.eof:
                    line, self.buf = self.buf, b""
                    return line
                raise TimeoutError(f"no line within timeout; have {self.buf!r}")

    def read(self, n, timeout=None):
        """Exactly n bytes (fewer at EOF)."""
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        while len(self.buf) < n:
            if not self._fill(deadline):
                if self.eof:
                    break
                raise TimeoutError(f"wanted {n} bytes; have {self.buf!r}")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def expect(self, pattern, timeout=None):
        """Reads lines until one matches pattern (bytes or str regex, searched
        in the line without CRLF); returns the match. Lines before it are in
        self.skipped. Raises AssertionError at EOF or timeout."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        rx = re.compile(pattern)
        self.skipped = []
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        while True:
            try:
                line = self.readline(max(0.0, deadline - time.time()))
            except TimeoutError as e:
                raise AssertionError(f"timeout waiting for {pattern!r}; "
                                     f"got {self.skipped!r}: {e}")
            if line == b"":
                raise AssertionError(f"EOF waiting for {pattern!r}; got {self.skipped!r}")
            m = rx.search(line.rstrip(b"\r\n"))
            if m:
                return m
            self.skipped.append(line)

    def command(self, tag, text, timeout=None):
        """Sends "tag text\\r\\n" and returns (untagged lines, tagged line)."""
        if isinstance(text, str):
            text = text.encode()
        self.send(tag.encode() + b" " + text + b"\r\n")
        m = self.expect(rb"^" + re.escape(tag.encode()) + rb" ", timeout)
        return self.skipped, m.string

    def close_input(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def wait(self, timeout=10):
        """Waits for imapd to exit; returns its exit status."""
        return self.proc.wait(timeout)

    def close(self):
        self.close_input()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        try:
            self.proc.stdout.close()
        except OSError:
            pass


class ImapEnv:
    def __init__(self, main_cf="", user=USER, timeout=10.0):
        self.imapd = bin_path("imapd")
        if not os.access(self.imapd, os.X_OK):
            missing(f"{self.imapd} (build the imapd target)")
        self.keep = os.environ.get("DOVETAIL_KEEP_TEST_DIR") == "1"
        self.top = tempfile.mkdtemp(prefix="dovetail-imap-")
        self.conf = os.path.join(self.top, "etc")
        self.home = os.path.join(self.top, "home")
        self.logfile = os.path.join(self.top, "mail.log")
        self.stderr_path = os.path.join(self.top, "imapd.stderr")
        self.user = user
        self.timeout = timeout
        os.makedirs(self.conf)
        os.makedirs(self.home)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"""# written by tests/lib/imap_harness.py
queue_directory = {os.path.join(self.top, "spool")}
data_directory = {os.path.join(self.top, "data")}
syslog_name = dovetail-test
maillog_file = {self.logfile}
myhostname = imap.test.example
mydomain = test.example
{main_cf}
""")
        self.sessions = []
        self.clients = []
        self.maildir("INBOX")
        self._seq = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def argv(self, *extra):
        return [self.imapd, "-c", self.conf, "-f",
                "-P", f"{self.user}:{self.home}",
                "-o", "mail_location=maildir:~/Maildir"] + list(extra)

    def maildir(self, folder="INBOX"):
        """The Maildir of folder (created with cur/ new/ tmp/ if missing):
        INBOX is home/Maildir, "a.b" is home/Maildir/.a.b (each level in
        modified UTF-7)."""
        root = os.path.join(self.home, "Maildir")
        if folder.upper() == "INBOX":
            path = root
        else:
            path = os.path.join(root, "." + ".".join(mutf7_encode(p)
                                                     for p in folder.split(".")))
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        if path != root:
            mf = os.path.join(path, "maildirfolder")
            if not os.path.exists(mf):
                open(mf, "w").close()
        return path

    def keyword_letters(self, folder, keywords):
        """Letters for keywords in folder's dovecot-keywords (added when new)."""
        path = os.path.join(self.maildir(folder), "dovecot-keywords")
        known = {}
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    parts = line.rstrip("\n").split(" ", 1)
                    if len(parts) == 2 and parts[0].isdigit():
                        known[parts[1]] = int(parts[0])
        changed = False
        letters = ""
        for k in keywords:
            if k not in known:
                used = set(known.values())
                idx = next(i for i in range(26) if i not in used)
                known[k] = idx
                changed = True
            letters += chr(ord("a") + known[k])
        if changed:
            with open(path + ".tmp", "w") as f:
                for k, i in sorted(known.items(), key=lambda kv: kv[1]):
                    f.write(f"{i} {k}\n")
            os.rename(path + ".tmp", path)
        return letters

    def deliver(self, raw, folder="INBOX", flags="", keywords=(), mtime=None):
        """Writes a message file straight into folder's Maildir: new/
        without flags or keywords, else cur/ with ":2,FLAGS" (flags are
        Maildir letters such as "S", "FS"; keywords by name). Returns the
        path."""
        if isinstance(raw, str):
            raw = raw.encode()
        d = self.maildir(folder)
        self._seq += 1
        now = time.time()
        vsize = len(raw.replace(b"\r\n", b"\n")) + raw.replace(b"\r\n", b"\n").count(b"\n")
        base = (f"{int(now)}.M{int((now % 1) * 1e6)}P{os.getpid()}Q{self._seq}."
                f"{socket.gethostname().replace('/', '_').replace(':', '_')}"
                f",S={len(raw)},W={vsize}")
        info = "".join(sorted(set(flags)))
        if keywords:
            info += self.keyword_letters(folder, keywords)
        tmp = os.path.join(d, "tmp", base)
        with open(tmp, "wb") as f:
            f.write(raw)
        if info:
            path = os.path.join(d, "cur", base + ":2," + info)
        else:
            path = os.path.join(d, "new", base)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.rename(tmp, path)
        return path

    def connect(self):
        """An imaplib.IMAP4_stream client on a new imapd -P session (state
        AUTH after the PREAUTH greeting)."""
        m = imaplib.IMAP4_stream(" ".join(shlex.quote(a) for a in self.argv())
                                 + " 2>>" + shlex.quote(self.stderr_path))
        self.clients.append(m)
        return m

    def raw(self, timeout=None):
        """A RawSession (send/readline/expect) on a new imapd -P session."""
        with open(self.stderr_path, "ab") as err:
            s = RawSession(self.argv(), timeout if timeout is not None else self.timeout,
                           stderr=err)
        self.sessions.append(s)
        return s

    def log(self):
        text = ""
        for path in (self.stderr_path, self.logfile):
            try:
                with open(path, errors="replace") as f:
                    text += f.read()
            except FileNotFoundError:
                pass
        return text

    def close(self):
        for m in self.clients:
            try:
                m.shutdown()
            except Exception:
                pass
            try:
                m.process.wait(5)
            except Exception:
                try:
                    m.process.kill()
                except Exception:
                    pass
        for s in self.sessions:
            s.close()
        self.clients = []
        self.sessions = []
        if self.keep:
            print(f"kept {self.top}")
        else:
            shutil.rmtree(self.top, ignore_errors=True)
