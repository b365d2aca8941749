"""A minimal client for Dovecot's auth client protocol (version 1.2), as
Postfix's smtpd_sasl_type = dovecot speaks it, for tests that talk to an
auth daemon directly.

    with AuthClient("/path/auth.sock") as c:
        status, fields = c.plain("alice@example.test", "pw", secured=True)
        # status: "OK" / "FAIL" / "CONT"; fields: {"user": ..., "temp": ""}

Also starts our auth daemon by hand (start_auth) on a unix socket.
"""
import base64
import os
import socket
import subprocess
import time


class AuthClient:
    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.f = self.sock.makefile("rwb")
        self.next_id = 1
        self.mechs = []
        self._send("VERSION\t1\t2\nCPID\t%d\n" % os.getpid())
        while True:
            line = self._readline()
            if line.startswith("MECH\t"):
                self.mechs.append(line.split("\t")[1])
            elif line == "DONE":
                break

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass

    def _send(self, text):
        self.f.write(text.encode())
        self.f.flush()

    def _readline(self):
        line = self.f.readline()
        if not line:
            raise EOFError("auth server closed the connection")
        return line.decode().rstrip("\n")

    def request(self, mech, resp=None, secured=False, rip=None,
                service="smtp"):
        """Sends one AUTH; returns (status, id, fields) of the reply."""
        rid = self.next_id
        self.next_id += 1
        parts = ["AUTH", str(rid), mech, "service=" + service]
        if secured:
            parts.append("secured")
        if rip:
            parts += ["lip=" + rip, "rip=" + rip]
        if resp is not None:
            parts.append("resp=" + base64.b64encode(resp).decode())
        self._send("\t".join(parts) + "\n")
        return self.reply()

    def reply(self):
        line = self._readline()
        parts = line.split("\t")
        fields = {}
        for p in parts[2:]:
            k, _, v = p.partition("=")
            fields[k] = v
        return parts[0], int(parts[1]) if len(parts) > 1 else 0, fields

    def plain(self, user, password, **kw):
        resp = b"\0" + user.encode() + b"\0" + password.encode()
        status, _, fields = self.request("PLAIN", resp, **kw)
        return status, fields


def start_auth(exe, conf, socket_path, user="nobody", timeout=20):
    """Starts our auth daemon by hand on unix:socket_path (-f: log to
    stderr, which goes to socket_path + ".log"); returns the Popen once the
    socket accepts connections."""
    log = open(socket_path + ".log", "ab")
    p = subprocess.Popen([exe, "-c", conf, "-l", "unix:" + socket_path,
                          "-u", user, "-f"], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log)
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError("auth exited with %s:\n%s"
                               % (p.returncode, log_text(socket_path)))
        if os.path.exists(socket_path):
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(socket_path)
                s.close()
                return p
            except OSError:
                pass
        time.sleep(0.1)
    p.kill()
    p.wait()
    raise RuntimeError("auth did not listen on %s:\n%s"
                       % (socket_path, log_text(socket_path)))


def stop_auth(p):
    if p is None or p.poll() is not None:
        return
    p.terminate()
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def log_text(socket_path):
    try:
        with open(socket_path + ".log", errors="replace") as f:
            return f.read()
    except OSError:
        return "(no log)"
