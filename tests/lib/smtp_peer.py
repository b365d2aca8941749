"""A scripted SMTP server (a test peer) for testing the smtp client.

SMTPPeer(host, port=0, **script) listens on host:port (port 0: a free one,
self.port) and answers each connection as the script says:
  replies: {stage: reply text} overriding the normal answer at a stage:
           "banner", "ehlo", "helo", "mail", "data", "eod" (after the dot),
           "starttls"; ("rcpt", address) for one recipient. A reply text may
           hold several CRLF-separated lines.
  ext:     EHLO extensions (default PIPELINING, 8BITMIME, DSN).
  tls:     (certfile, keyfile): offer STARTTLS.
  inject:  text sent in plaintext right after "220 Ready to start TLS".
  auth:    callable(session, line) that answers an AUTH command line (it
           may use session.send/readline for the 334 dialogue); None: 502.
  close_after: close a connection (without a reply) after this many
           transactions on it (connection reuse tests); "rset" in replies
           overrides the answer to RSET.
transactions: list of dicts (mail, rcpts, data, pipelined, tls, helo, time,
session) of messages accepted at end of data; sessions counts connections;
commands lists every command line seen; events lists (time.time(), session
number, command line).
"""
import socket
import ssl
import threading
import time


class SMTPPeer:
    def __init__(self, host="127.0.0.1", port=0, name="peer.test", replies=None,
                 ext=("PIPELINING", "8BITMIME", "DSN"), tls=None, inject=None,
                 auth=None, close_after=None):
        self.name = name
        self.replies = dict(replies or {})
        self.ext = list(ext)
        self.tls = tls
        self.inject = inject
        self.auth = auth
        self.close_after = close_after
        self.events = []
        self.transactions = []
        self.commands = []
        self.sessions = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(16)
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.sessions += 1
                n = self.sessions
            threading.Thread(target=self._session, args=(c, n), daemon=True).start()

    def _session(self, c, n=0):
        c.settimeout(30)
        try:
            _Session(self, c, n).run()
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass


class _Session:
    def __init__(self, peer, c, n=0):
        self.peer = peer
        self.n = n
        self.c = c
        self.buf = b""
        self.is_tls = False

    def send(self, text):
        self.c.sendall(text.encode() if isinstance(text, str) else text)

    def reply(self, stage, default):
        text = self.peer.replies.get(stage, default)
        lines = text.split("\r\n")
        self.send("".join(l + "\r\n" for l in lines))
        return lines[-1][:1]

    def readline(self):
        while b"\n" not in self.buf:
            data = self.c.recv(65536)
            if not data:
                raise ValueError("eof")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def run(self):
        p = self.peer
        if self.reply("banner", f"220 {p.name} ESMTP test peer") != "2":
            self.readline()
            self.send("221 bye\r\n")
            return
        mail, rcpts, helo, pipelined = None, [], None, False
        while True:
            line = self.readline().decode("utf-8", "replace")
            with p.lock:
                p.commands.append(line)
                p.events.append((time.time(), self.n, line))
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                ext = list(p.ext)
                if p.tls and not self.is_tls:
                    ext.append("STARTTLS")
                words = [p.name] + ext
                text = "\r\n".join(("250-" if i < len(words) - 1 else "250 ") + w
                                     for i, w in enumerate(words))
                if self.reply("ehlo", text) == "2":
                    helo = line
            elif verb == "HELO":
                if self.reply("helo", f"250 {p.name}") == "2":
                    helo = line
            elif verb == "STARTTLS":
                # The injected text goes in the same packet as the 220.
                text = self.peer.replies.get("starttls", "220 2.0.0 Ready to start TLS")
                self.send(text + "\r\n" + (p.inject or ""))
                if not text.startswith("2"):
                    continue
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(*p.tls)
                self.c = ctx.wrap_socket(self.c, server_side=True)
                self.is_tls = True
                self.buf = b""
                helo = None
            elif verb == "MAIL":
                pipelined = b"RCPT TO" in self.buf.upper()
                if self.reply("mail", "250 2.1.0 Ok") == "2":
                    mail, rcpts = line, []
            elif verb == "RCPT":
                addr = line[line.find("<") + 1:line.find(">")]
                if mail is None:
                    self.send("503 5.5.1 need MAIL\r\n")
                elif self.reply(("rcpt", addr), "250 2.1.5 Ok") == "2":
                    rcpts.append(addr)
            elif verb == "DATA":
                if mail is None or not rcpts:
                    self.send("554 5.5.1 no valid recipients\r\n")
                    continue
                if self.reply("data", "354 End data with <CR><LF>.<CR><LF>") != "3":
                    continue
                data = []
                while True:
                    l = self.readline()
                    if l == b".":
                        break
                    data.append(l[1:] if l.startswith(b".") else l)
                content = b"".join(l + b"\r\n" for l in data)
                if self.reply("eod", "250 2.0.0 Ok: queued as TESTQ") == "2":
                    with p.lock:
                        p.transactions.append({"mail": mail, "rcpts": rcpts, "data": content,
                                               "pipelined": pipelined, "tls": self.is_tls,
                                               "helo": helo, "time": time.time(),
                                               "session": self.n})
                        done = sum(1 for t in p.transactions if t["session"] == self.n)
                    if p.close_after is not None and done >= p.close_after:
                        return
                mail, rcpts = None, []
            elif verb == "AUTH" and p.auth is not None:
                p.auth(self, line)
            elif verb == "RSET":
                mail, rcpts = None, []
                self.reply("rset", "250 2.0.0 Ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 Bye\r\n")
                return
            else:
                self.send("502 5.5.2 unknown command\r\n")
