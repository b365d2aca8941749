#!/usr/bin/env python3
"""The auth daemon over its sockets, driven by a scripted client that
speaks Dovecot's auth protocol byte for byte.

Starts three auth processes by hand (-l unix:..., -f): the client socket,
the userdb socket, and a client socket whose SQL passdb is broken. The
passdbs are a Dovecot passwd-file and an SQLite database made here.
Covers: the handshake exactly as Postfix expects it, PLAIN (initial
response and empty challenge), LOGIN with CONT rounds, wrong password and
unknown user (same reply, same timing), a TAB or newline inside a
password, bad base64, unknown commands, malformed and over-long lines
(that connection closes, others carry on), cleartext refused when not
secured, userdb USER lookups, temporary failures, the per-address penalty
(slower and slower from one address while another stays fast) and
fail2ban's stock dovecot filter matching the failure log lines.
"""
import base64
import grp
import hashlib
import hmac
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from dovetail_test import BUILD_DIR, bin_path, missing, IN_CI

FAILURE_DELAY = 1.0
failures = []


def check(cond, what):
    if cond:
        print(f"ok: {what}")
    else:
        print(f"FAIL: {what}")
        failures.append(what)


def b64(data):
    return base64.b64encode(data).decode()


class Conn:
    """A line-oriented client on a unix socket."""

    def __init__(self, path, timeout=20.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        """The next line (str, without LF), or None at EOF."""
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def closed(self):
        """True if the server closes the connection (no more lines)."""
        try:
            while True:
                if self.line() is None:
                    return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


class AuthClient(Conn):
    def __init__(self, path):
        super().__init__(path)
        self.handshake = []
        while True:
            line = self.line()
            if line is None:
                raise RuntimeError("auth closed during handshake")
            self.handshake.append(line)
            if line == "DONE":
                break
        self.send("VERSION\t1\t0\nCPID\t%d\n" % os.getpid())

    def request(self, line):
        start = time.monotonic()
        self.send(line + "\n")
        reply = self.line()
        return reply, time.monotonic() - start

    def plain(self, rid, user, password, rip="192.0.2.10", secured=True,
              service="smtp"):
        data = b"\0" + user.encode() + b"\0" + password.encode()
        extra = "\tsecured" if secured else ""
        return self.request(
            f"AUTH\t{rid}\tPLAIN\tservice={service}\tlip=192.0.2.1"
            f"\trip={rip}{extra}\tresp={b64(data)}")


def wait_socket(path, proc, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        if os.path.exists(path):
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                s.close()
                return True
            except OSError:
                pass
        time.sleep(0.05)
    return False


def sha512_crypt(password):
    out = subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                         input=password.encode(), capture_output=True,
                         check=True)
    return out.stdout.decode().strip()


def scram_sha256_stored(password, iterations=4096):
    """Dovecot's {SCRAM-SHA-256} data: iter,salt,StoredKey,ServerKey."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt,
                                 iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return "%d,%s,%s,%s" % (iterations, b64(salt),
                            b64(hashlib.sha256(client_key).digest()),
                            b64(server_key))


def scram_login(c, rid, user, password, rip):
    """A SCRAM-SHA-256 client (RFC 5802/7677). Returns (final reply,
    expected server signature, saw the server-first message)."""
    cnonce = b64(os.urandom(18))
    bare = f"n={user},r={cnonce}"
    c.send(f"AUTH\t{rid}\tSCRAM-SHA-256\tservice=imap\tlip=192.0.2.1"
           f"\trip={rip}\tresp={b64(('n,,' + bare).encode())}\n")
    r = c.line()
    if r is None or not r.startswith(f"CONT\t{rid}\t"):
        return r, None, False
    server_first = base64.b64decode(r.split("\t")[2]).decode()
    attrs = dict(x.split("=", 1) for x in server_first.split(","))
    nonce, salt = attrs["r"], base64.b64decode(attrs["s"])
    if not nonce.startswith(cnonce) or len(nonce) <= len(cnonce):
        return "bad nonce " + nonce, None, True
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt,
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c={b64(b'n,,')},r={nonce}"
    auth_msg = f"{bare},{server_first},{without_proof}".encode()
    sig = hmac.new(stored_key, auth_msg, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    c.send(f"CONT\t{rid}\t"
           + b64(f"{without_proof},p={b64(proof)}".encode()) + "\n")
    r = c.line()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    expect = "v=" + b64(hmac.new(server_key, auth_msg, "sha256").digest())
    return r, expect, True


def test_scram(path):
    c = AuthClient(path)
    r, v, _ = scram_login(c, 1, "scram@example.test", "scram pw",
                          "192.0.2.90")
    check(r == f"OK\t1\tuser=scram@example.test\tresp={b64(v.encode())}",
          f"SCRAM-SHA-256 with stored SCRAM keys, server signature "
          f"verified, no TLS needed: {r!r}")
    r, v, _ = scram_login(c, 2, "alice@example.test", "secret",
                          "192.0.2.90")
    check(r == f"OK\t2\tuser=alice@example.test\tresp={b64(v.encode())}",
          f"SCRAM-SHA-256 from a cleartext passdb entry: {r!r}")
    r, _, first = scram_login(c, 3, "scram@example.test", "wrong",
                              "192.0.2.91")
    check(first and r == "FAIL\t3\tuser=scram@example.test",
          f"SCRAM wrong password: {r!r}")
    r, _, first = scram_login(c, 4, "ghost@example.test", "x", "192.0.2.92")
    check(first and r == "FAIL\t4\tuser=ghost@example.test",
          f"SCRAM unknown user fails only at the proof: {r!r}")
    r, _, first = scram_login(c, 5, "hash@example.test", "hashed pw",
                              "192.0.2.93")
    check(not first and r == "FAIL\t5\tuser=hash@example.test",
          f"SCRAM against a one-way hash fails: {r!r}")
    r, _ = c.request("AUTH\t6\tSCRAM-SHA-256\tservice=imap\tresp="
                     + b64(b"p=tls-unique,,n=a,r=x"))
    check(r is not None and r.startswith("FAIL\t6"),
          f"SCRAM channel binding refused: {r!r}")
    c.close()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


def setup(tmp):
    conf = os.path.join(tmp, "conf")
    os.mkdir(conf)
    os.chmod(conf, 0o755)
    hashed = sha512_crypt("hashed pw")
    scram = scram_sha256_stored("scram pw")
    # passwd-file: a plain, a hashed and a TAB-password user.
    write(os.path.join(tmp, "users"),
          "alice@example.test:{PLAIN}secret:5000:5000::"
          "/var/vmail/example.test/alice::userdb_quota_rule=*:storage=1G\n"
          f"hash@example.test:{{SHA512-CRYPT}}{hashed}:5000:5000::"
          "/var/vmail/example.test/hash\n"
          "tab@example.test:{PLAIN}pa\tss:5000:5000::/var/vmail/t\n"
          f"scram@example.test:{{SCRAM-SHA-256}}{scram}:5000:5000::"
          "/var/vmail/s\n")
    db = os.path.join(tmp, "users.db")
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE virtual_users (email TEXT PRIMARY KEY, "
                "password TEXT, quota TEXT)")
    con.execute("INSERT INTO virtual_users VALUES (?, ?, ?)",
                ("nl@example.test", "{PLAIN}new\nline", "*:storage=2G"))
    con.execute("INSERT INTO virtual_users VALUES (?, ?, ?)",
                ("sql@example.test", "{SHA512-CRYPT}" + hashed, "*:bytes=1"))
    con.commit()
    con.close()
    os.chmod(db, 0o644)
    write(os.path.join(tmp, "passdb.cf"),
          f"dbpath = {db}\n"
          "query = SELECT password FROM virtual_users WHERE email = '%u'\n")
    write(os.path.join(tmp, "userdb.cf"),
          f"dbpath = {db}\n"
          "query = SELECT '/var/vmail/' || email AS home, 5000 AS uid, "
          "5000 AS gid, quota AS quota_rule FROM virtual_users "
          "WHERE email = '%u'\n")
    write(os.path.join(tmp, "broken.cf"),
          f"dbpath = {tmp}/no-such-dir/users.db\n"
          "query = SELECT password FROM virtual_users WHERE email = '%u'\n")
    write(os.path.join(conf, "main.cf"),
          f"maillog_file = {tmp}/mail.log\n")
    write(os.path.join(conf, "auth.cf"),
          "auth_mechanisms = plain login scram-sha-256\n"
          f"passdb = passwd-file:{tmp}/users, sqlite:{tmp}/passdb.cf\n"
          f"userdb = passwd-file:{tmp}/users, sqlite:{tmp}/userdb.cf\n"
          f"auth_failure_delay = {int(FAILURE_DELAY)}s\n"
          "auth_cache_size = 1M\n"
          "auth_syslog_name = dovecot\n")
    conf2 = os.path.join(tmp, "conf2")
    os.mkdir(conf2)
    os.chmod(conf2, 0o755)
    write(os.path.join(conf2, "main.cf"), "")
    write(os.path.join(conf2, "auth.cf"),
          f"passdb = passwd-file:{tmp}/users, sqlite:{tmp}/broken.cf\n"
          "userdb = static:uid=nobody gid=nogroup "
          "home=/var/vmail/%d/%n\n"
          "auth_allow_cleartext = yes\n"
          "auth_failure_delay = 1s\n")
    return conf, conf2


def start(tmp, conf, sock, *args):
    cmd = [bin_path("auth"), "-c", conf, "-l", "unix:" + sock, "-f"]
    if os.geteuid() == 0:
        cmd += ["-u", "nobody"]
    cmd += list(args)
    log = open(os.path.join(tmp, os.path.basename(sock) + ".stderr"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    if not wait_socket(sock, proc):
        proc.kill()
        log.close()
        with open(log.name) as f:
            print(f.read())
        raise RuntimeError("auth did not start: " + " ".join(cmd))
    return proc


def test_handshake(path):
    c = AuthClient(path)
    hs = c.handshake
    check(hs[0] == "VERSION\t1\t2", f"handshake VERSION line: {hs[0]!r}")
    check(hs[1:4] == ["MECH\tPLAIN\tplaintext", "MECH\tLOGIN\tplaintext",
                      "MECH\tSCRAM-SHA-256\tmutual-auth"],
          f"MECH lines: {hs[1:4]!r}")
    check(re.fullmatch(r"SPID\t\d+", hs[4]) is not None, "SPID line")
    check(re.fullmatch(r"CUID\t\d+", hs[5]) is not None, "CUID line")
    check(re.fullmatch(r"COOKIE\t[0-9a-f]{32}", hs[6]) is not None,
          "COOKIE is 32 hex digits")
    check(hs[7] == "DONE" and len(hs) == 8, "DONE ends the handshake")
    c2 = AuthClient(path)
    check(c2.handshake[6] != hs[6], "each connection has its own cookie")
    c.close()
    c2.close()


def test_plain(path):
    c = AuthClient(path)
    r, _ = c.plain(1, "alice@example.test", "secret")
    check(r == "OK\t1\tuser=alice@example.test", f"PLAIN success: {r!r}")
    r, _ = c.plain(2, "Alice@Example.TEST", "secret")
    check(r == "OK\t2\tuser=alice@example.test",
          f"user name lower-cased (%Lu): {r!r}")
    r, _ = c.plain(3, "hash@example.test", "hashed pw")
    check(r == "OK\t3\tuser=hash@example.test", f"SHA512-CRYPT user: {r!r}")
    r, _ = c.plain(4, "sql@example.test", "hashed pw")
    check(r == "OK\t4\tuser=sql@example.test", f"sqlite passdb user: {r!r}")
    r, _ = c.plain(5, "tab@example.test", "pa\tss")
    check(r == "OK\t5\tuser=tab@example.test", f"TAB in password: {r!r}")
    r, _ = c.plain(6, "nl@example.test", "new\nline")
    check(r == "OK\t6\tuser=nl@example.test", f"newline in password: {r!r}")
    # PLAIN without an initial response: an empty challenge first.
    c.send("AUTH\t7\tPLAIN\tservice=smtp\tsecured\trip=192.0.2.10\n")
    r = c.line()
    check(r == "CONT\t7\t", f"PLAIN empty challenge: {r!r}")
    r, _ = c.request("CONT\t7\t" + b64(b"\0alice@example.test\0secret"))
    check(r == "OK\t7\tuser=alice@example.test", f"PLAIN after CONT: {r!r}")
    # The cached entry is used, and a wrong password still fails.
    r, _ = c.plain(8, "alice@example.test", "secret")
    check(r == "OK\t8\tuser=alice@example.test", "cached success")
    c.close()


def test_failures_look_alike(path):
    c = AuthClient(path)
    r1, d1 = c.plain(1, "alice@example.test", "wrong", rip="192.0.2.21")
    r2, d2 = c.plain(2, "nobody@example.test", "wrong", rip="192.0.2.22")
    check(r1 == "FAIL\t1\tuser=alice@example.test", f"wrong password: {r1!r}")
    check(r2 == "FAIL\t2\tuser=nobody@example.test", f"unknown user: {r2!r}")
    check(FAILURE_DELAY - 0.1 <= d1 <= FAILURE_DELAY + 1.0,
          f"wrong password answered after the failure delay ({d1:.2f}s)")
    check(abs(d1 - d2) < 0.5,
          f"unknown user and wrong password take the same time "
          f"({d1:.2f}s vs {d2:.2f}s)")
    r3, _ = c.plain(3, "tab@example.test", "pa ss", rip="192.0.2.23")
    check(r3 == "FAIL\t3\tuser=tab@example.test",
          "TAB password does not match a space")
    c.close()


def test_login(path):
    c = AuthClient(path)
    c.send("AUTH\t1\tLOGIN\tservice=imap\tsecured\trip=192.0.2.30\n")
    r = c.line()
    check(r == "CONT\t1\t" + b64(b"Username:"), f"LOGIN asks user: {r!r}")
    c.send("CONT\t1\t" + b64(b"alice@example.test") + "\n")
    r = c.line()
    check(r == "CONT\t1\t" + b64(b"Password:"), f"LOGIN asks password: {r!r}")
    r, _ = c.request("CONT\t1\t" + b64(b"secret"))
    check(r == "OK\t1\tuser=alice@example.test", f"LOGIN success: {r!r}")
    # Initial response as the user name (as Dovecot takes it).
    c.send("AUTH\t2\tLOGIN\tservice=imap\tsecured\trip=192.0.2.30\tresp="
           + b64(b"tab@example.test") + "\n")
    r = c.line()
    check(r == "CONT\t2\t" + b64(b"Password:"), f"LOGIN with resp: {r!r}")
    r, _ = c.request("CONT\t2\t" + b64(b"pa\tss"))
    check(r == "OK\t2\tuser=tab@example.test", f"LOGIN TAB password: {r!r}")
    r, _ = c.request("CONT\t99\t" + b64(b"x"))
    check(r == "FAIL\t99\treason=Authentication request timed out",
          f"CONT for an unknown id: {r!r}")
    c.close()


def test_cleartext(path):
    c = AuthClient(path)
    r, _ = c.plain(1, "alice@example.test", "secret", rip="192.0.2.40",
                   secured=False)
    check(r == "FAIL\t1\treason=Plaintext authentication disabled.",
          f"cleartext refused without TLS: {r!r}")
    r, _ = c.plain(2, "alice@example.test", "secret", rip="127.0.0.1",
                   secured=False)
    check(r == "OK\t2\tuser=alice@example.test",
          f"cleartext allowed from loopback: {r!r}")
    r, _ = c.request("AUTH\t3\tPLAIN\tservice=smtp\tsecured\tresp=@@@")
    check(r == "FAIL\t3\treason=Invalid base64 data in initial response",
          f"bad base64: {r!r}")
    r, _ = c.plain(4, "alice@example.test", "secret")
    check(r == "OK\t4\tuser=alice@example.test",
          "connection usable after bad base64")
    # A CONT while the passdb is still working (both lines in one write,
    # so the worker cannot have answered yet): the request ends at once,
    # the worker's late answer is dropped, the daemon carries on.
    c.send("AUTH\t5\tPLAIN\tservice=smtp\tsecured\trip=192.0.2.41\tresp="
           + b64(b"\0hash@example.test\0hashed pw") + "\nCONT\t5\tAA==\n")
    r = c.line()
    check(r == "FAIL\t5\treason=Unexpected continuation",
          f"CONT during the passdb lookup: {r!r}")
    r, _ = c.plain(6, "alice@example.test", "secret")
    check(r == "OK\t6\tuser=alice@example.test",
          f"nothing else arrives for the ended request: {r!r}")
    c.close()


def test_bad_input(path):
    bystander = AuthClient(path)
    cases = {
        "unknown command": "HELLO\tworld\n",
        "malformed AUTH id": "AUTH\tabc\tPLAIN\tservice=smtp\n",
        "AUTH without service": "AUTH\t1\tPLAIN\n",
        "unknown mechanism": "AUTH\t1\tCRAM-MD5\tservice=smtp\n",
        "NUL byte in a line": "AUTH\t1\tPLAIN\tservice=smtp\0x\n",
        "over-long line": "AUTH\t1\tPLAIN\tservice=smtp\tresp=" +
                          "A" * 9000 + "\n",
        "parameters after resp":
            "AUTH\t1\tPLAIN\tservice=smtp\tresp=AA==\tsecured\n",
    }
    for what, data in cases.items():
        c = AuthClient(path)
        c.send(data)
        check(c.closed(), f"{what}: connection closed")
        c.close()
    c = Conn(path)
    while c.line() != "DONE":
        pass
    c.send("AUTH\t1\tPLAIN\tservice=smtp\n")
    check(c.closed(), "AUTH before VERSION/CPID: connection closed")
    c.close()
    c = Conn(path)
    c.send("VERSION\t2\t0\n")
    check(c.closed(), "wrong major version: connection closed")
    c.close()
    r, _ = bystander.plain(1, "alice@example.test", "secret")
    check(r == "OK\t1\tuser=alice@example.test",
          "another client is unaffected by the bad ones")
    bystander.close()


def test_userdb(path):
    c = Conn(path)
    hello = [c.line(), c.line()]
    check(hello[0] == "VERSION\t1\t0", f"userdb VERSION: {hello[0]!r}")
    check(re.fullmatch(r"SPID\t\d+", hello[1] or "") is not None,
          "userdb SPID")
    c.send("VERSION\t1\t0\n")
    c.send("USER\t1\talice@example.test\tservice=lmtp\n")
    r = c.line()
    check(r == "USER\t1\talice@example.test\tuid=5000\tgid=5000\t"
          "home=/var/vmail/example.test/alice\tquota_rule=*:storage=1G",
          f"passwd-file userdb: {r!r}")
    c.send("USER\t2\tnl@example.test\tservice=lmtp\n")
    r = c.line()
    check(r == "USER\t2\tnl@example.test\thome=/var/vmail/nl@example.test"
          "\tuid=5000\tgid=5000\tquota_rule=*:storage=2G",
          f"sqlite userdb: {r!r}")
    c.send("USER\t3\tghost@example.test\tservice=lmtp\n")
    r = c.line()
    check(r == "NOTFOUND\t3", f"unknown user: {r!r}")
    c.send("USER\t4\tALICE@example.test\tservice=imap\n")
    r = c.line()
    check(r is not None and r.startswith("USER\t4\talice@example.test\t"),
          f"userdb lower-cases the user: {r!r}")
    # Results are cached (auth_cache_size is set): a changed row shows
    # only after auth_cache_ttl.
    db = sqlite3.connect(os.path.join(os.path.dirname(path), "users.db"))
    db.execute("UPDATE virtual_users SET quota = '*:storage=9G' "
               "WHERE email = 'nl@example.test'")
    db.commit()
    db.close()
    c.send("USER\t6\tnl@example.test\tservice=lmtp\n")
    r = c.line()
    check(r is not None and r.endswith("quota_rule=*:storage=2G"),
          f"userdb answer comes from the cache: {r!r}")
    c.send("USER\t5\talice@example.test\n")
    check(c.closed(), "USER without service closes the connection")
    c.close()


def test_tempfail(path):
    c = AuthClient(path)
    r, _ = c.plain(1, "sql@example.test", "hashed pw", rip="192.0.2.60")
    check(r == "FAIL\t1\tuser=sql@example.test\ttemp",
          f"database down is a temporary failure: {r!r}")
    r, _ = c.plain(2, "alice@example.test", "secret", rip="192.0.2.60")
    check(r == "OK\t2\tuser=alice@example.test",
          f"the other passdb still works: {r!r}")
    r, _ = c.plain(3, "alice@example.test", "secret", rip="192.0.2.61",
                   secured=False)
    check(r == "OK\t3\tuser=alice@example.test",
          f"auth_allow_cleartext = yes allows PLAIN without TLS: {r!r}")
    c.close()


def test_max_use_ignored(tmp, conf):
    """auth keeps accepting past max_use: its clients hold their
    connections for life, so a recycling auth would stop serving."""
    sock = os.path.join(tmp, "auth-maxuse")
    proc = start(tmp, conf, sock, "-o", "max_use=2")
    try:
        held = [AuthClient(sock) for _ in range(2)]
        for i in range(3):
            c = AuthClient(sock)
            c.sock.settimeout(10)
            r, _ = c.plain(1, "alice@example.test", "secret")
            check(r == "OK\t1\tuser=alice@example.test",
                  f"connection {i + 3} past max_use=2 served: {r!r}")
            c.close()
        r, _ = held[0].plain(7, "alice@example.test", "secret")
        check(r == "OK\t7\tuser=alice@example.test",
              f"a held connection still served: {r!r}")
        for c in held:
            c.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_static_userdb(path):
    """Dovecot's static userdb: the template, uid/gid names made numbers,
    and the passdb asked whether the user exists."""
    uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    c = Conn(path)
    c.line(), c.line()
    c.send("VERSION\t1\t0\nUSER\t1\talice@example.test\tservice=lmtp\n")
    r = c.line()
    check(r == f"USER\t1\talice@example.test\tuid={uid}\tgid={gid}\t"
          "home=/var/vmail/example.test/alice", f"static userdb: {r!r}")
    # ghost is in no passdb, but the SQL one is down: not "unknown".
    c.send("USER\t2\tghost@example.test\tservice=lmtp\n")
    r = c.line()
    check(r == "FAIL\t2", f"static userdb with a passdb down: {r!r}")
    c.close()


def test_penalty(path):
    c = AuthClient(path)
    rip = "203.0.113.5"
    durations = []
    for i in range(1, 3):
        r, d = c.plain(i, "alice@example.test", f"wrong{i}", rip=rip)
        check(r == f"FAIL\t{i}\tuser=alice@example.test",
              f"penalty round {i} fails")
        durations.append(d)
    # The third failure waits long; meanwhile another address logs in.
    fast = {}

    def good_login():
        g = AuthClient(path)
        fast["reply"], fast["d"] = g.plain(1, "alice@example.test", "secret",
                                           rip="198.51.100.9")
        g.close()

    t = threading.Thread(target=good_login)
    c.send(f"AUTH\t3\tPLAIN\tservice=smtp\tsecured\trip={rip}\tresp="
           + b64(b"\0alice@example.test\0wrong3") + "\n")
    start = time.monotonic()
    time.sleep(0.3)
    t.start()
    t.join(20)
    r = c.line()
    durations.append(time.monotonic() - start)
    check(r == "FAIL\t3\tuser=alice@example.test", "penalty round 3 fails")
    print("penalty durations: " + ", ".join(f"{d:.2f}s" for d in durations))
    check(durations[1] > durations[0] + 2.0,
          "second failure from one address is slower than the first")
    check(durations[2] > durations[1] + 2.0,
          "third failure is slower still")
    check(fast.get("reply") == "OK\t1\tuser=alice@example.test" and
          fast.get("d", 99) < 1.0,
          f"a good login from another address stays fast "
          f"({fast.get('d', -1):.2f}s)")
    c.close()


def test_auth_client_library(client_sock, userdb_sock, tmp):
    """lib/mail/auth_client (what smtpd/imapd/lmtpd use) against the
    daemon, through a small driver program."""
    tool = os.path.join(BUILD_DIR, "tests", "auth_client_tool")
    if not os.path.exists(tool):
        check(False, "auth_client_tool is built")
        return

    def run(*args):
        out = subprocess.run([tool] + list(args), capture_output=True,
                             text=True, timeout=30)
        return out.stdout.strip()

    r = run("plain", client_sock, "alice@example.test", "secret")
    check(r == "OK alice@example.test", f"auth_client PLAIN: {r!r}")
    r = run("plain", client_sock, "tab@example.test", "pa\tss")
    check(r == "OK tab@example.test", f"auth_client PLAIN with TAB: {r!r}")
    r = run("plain", client_sock, "alice@example.test", "nope",
            "192.0.2.70")
    check(r == "FAIL", f"auth_client wrong password: {r!r}")
    r = run("login", client_sock, "nl@example.test", "new\nline")
    check(r == "OK nl@example.test", f"auth_client LOGIN rounds: {r!r}")
    r = run("plain", os.path.join(tmp, "no-socket"), "a", "b")
    check(r == "TEMPFAIL", f"auth_client without a server: {r!r}")
    r = run("userdb", userdb_sock, "alice@example.test")
    check(r == "USER alice@example.test uid=5000 gid=5000 "
          "home=/var/vmail/example.test/alice quota_rule=*:storage=1G",
          f"auth_client userdb lookup: {r!r}")
    r = run("userdb", userdb_sock, "ghost@example.test")
    check(r == "NOTFOUND", f"auth_client userdb unknown user: {r!r}")
    r = run("userdb", os.path.join(tmp, "no-socket"), "a")
    check(r == "TEMPFAIL", f"auth_client userdb without a server: {r!r}")


def test_file_changes(client_sock, userdb_sock, tmp):
    """A changed passwd-file is read again (as Dovecot does), and a cached
    password that no longer matches is looked up afresh."""
    users = os.path.join(tmp, "users")
    with open(users) as f:
        text = f.read()
    text = text.replace("{PLAIN}secret", "{PLAIN}changed")
    text += "new@example.test:{PLAIN}fresh:5001:5001::/var/vmail/new\n"
    write(users + ".tmp", text)
    os.rename(users + ".tmp", users)
    c = AuthClient(client_sock)
    r, _ = c.plain(1, "new@example.test", "fresh", rip="192.0.2.80")
    check(r == "OK\t1\tuser=new@example.test",
          f"user added to the passwd-file logs in at once: {r!r}")
    r, _ = c.plain(2, "alice@example.test", "changed", rip="192.0.2.80")
    check(r == "OK\t2\tuser=alice@example.test",
          f"changed password works despite the cache: {r!r}")
    r, _ = c.plain(3, "alice@example.test", "secret", rip="192.0.2.81")
    check(r == "FAIL\t3\tuser=alice@example.test",
          f"old password refused: {r!r}")
    c.close()
    u = Conn(userdb_sock)
    u.line(), u.line()
    u.send("VERSION\t1\t0\nUSER\t1\tnew@example.test\tservice=lmtp\n")
    r = u.line()
    check(r == "USER\t1\tnew@example.test\tuid=5001\tgid=5001\t"
          "home=/var/vmail/new", f"userdb sees the new user: {r!r}")
    u.close()


def test_fail2ban(tmp):
    logfile = os.path.join(tmp, "mail.log")
    regex = shutil.which("fail2ban-regex")
    flt = "/etc/fail2ban/filter.d/dovecot.conf"
    if regex is None or not os.path.exists(flt):
        if IN_CI:
            check(False, "fail2ban-regex installed (apt-get install "
                  "fail2ban)")
        else:
            print("SKIP: fail2ban-regex not installed")
        return
    out = subprocess.run([regex, "--print-all-matched", logfile, flt],
                         capture_output=True, text=True).stdout
    matched = [l for l in out.splitlines() if "Password mismatch" in l or
               "unknown user" in l]
    check(any("203.0.113.5" in l and "Password mismatch" in l
              for l in matched),
          "fail2ban's dovecot filter matches a password mismatch line")
    check(any("192.0.2.22" in l and "unknown user" in l for l in matched),
          "fail2ban's dovecot filter matches an unknown user line")
    m = re.search(r"Lines: \d+ lines, \d+ ignored, (\d+) matched", out)
    check(m is not None and int(m.group(1)) >= 5,
          f"fail2ban counts the failures ({m.group(1) if m else '?'})")


def main():
    if not os.path.exists(bin_path("auth")):
        missing("the auth daemon (build it)")
    if shutil.which("openssl") is None:
        missing("openssl")
    tmp = tempfile.mkdtemp(prefix="dovetail-auth-")
    os.chmod(tmp, 0o755)
    procs = []
    try:
        conf, conf2 = setup(tmp)
        client_sock = os.path.join(tmp, "auth-client")
        userdb_sock = os.path.join(tmp, "auth-userdb")
        broken_sock = os.path.join(tmp, "auth-broken")
        procs.append(start(tmp, conf, client_sock))
        procs.append(start(tmp, conf, userdb_sock, "userdb"))
        procs.append(start(tmp, conf2, broken_sock))
        static_sock = os.path.join(tmp, "auth-static")
        procs.append(start(tmp, conf2, static_sock, "userdb"))
        test_handshake(client_sock)
        test_plain(client_sock)
        test_failures_look_alike(client_sock)
        test_login(client_sock)
        test_scram(client_sock)
        test_cleartext(client_sock)
        test_bad_input(client_sock)
        test_userdb(userdb_sock)
        test_tempfail(broken_sock)
        test_static_userdb(static_sock)
        test_auth_client_library(client_sock, userdb_sock, tmp)
        test_max_use_ignored(tmp, conf)
        test_penalty(client_sock)
        test_file_changes(client_sock, userdb_sock, tmp)
        test_fail2ban(tmp)
        for p in procs:
            check(p.poll() is None, "auth process still running at the end")
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if failures:
            for name in os.listdir(tmp):
                if name.endswith(".stderr") or name == "mail.log":
                    print(f"--- {name}")
                    with open(os.path.join(tmp, name)) as f:
                        print(f.read()[-6000:])
        if os.environ.get("KEEP_TMP"):
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    total = len(failures)
    print(f"{'FAILED' if total else 'PASSED'}: {total} check(s) failed")
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
