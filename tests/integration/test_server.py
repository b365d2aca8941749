#!/usr/bin/env python3
"""test_server - the daemon skeleton (lib/server) seen from outside.

Starts the real test daemon dovetail-testecho by hand (-l, -c, -f) on
loopback and checks what a client and the process table see: commands,
200 concurrent clients, the worker pool not blocking the loop, line
limits, max_use and max_idle recycling, graceful SIGTERM, configuration
errors, and (as root) the uid drop.
"""
import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
import time

import dovetail_test as dt

BIN = dt.bin_path("dovetail-testecho")
TRIGGER_BIN = dt.bin_path("dovetail-testtrigger")
failures = []


def check(cond, what):
    if cond:
        print(f"ok: {what}")
    else:
        print(f"FAIL: {what}")
        failures.append(what)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    def __init__(self, tmp, *opts, main_cf=None, binary=BIN):
        self.port = free_port()
        self.conf = tempfile.mkdtemp(dir=tmp, prefix="conf")
        queue = os.path.join(self.conf, "queue")
        os.mkdir(queue)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            if main_cf is not None:
                f.write(main_cf)
            else:
                f.write(f"queue_directory = {queue}\n")
                if os.geteuid() == 0:
                    f.write("mail_owner = nobody\n")
        self.log_path = os.path.join(self.conf, "stderr.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "-l", f"127.0.0.1:{self.port}", "-c", self.conf, "-f",
             *opts], stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=self.log, env={k: v for k, v in os.environ.items()
                                  if k != "DOVETAIL_MASTER"})

    def wait_listening(self, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stderr(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def wait_log(self, text, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.stderr():
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        text = self.stderr()
        if "Sanitizer" in text or "runtime error:" in text:
            check(False, "sanitizer report in daemon stderr:\n" + text)
        self.log.close()


class Client:
    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            try:
                data = self.sock.recv(4096)
            except ConnectionResetError:
                # Closing with unread input makes the kernel send RST.
                data = b""
            if not data:
                line, self.buf = self.buf, b""
                return line.decode() if line else None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode()

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.line()

    def close(self):
        self.sock.close()


def test_commands(tmp):
    d = Daemon(tmp, "-o", "max_use=1000")
    try:
        check(d.wait_listening(), "daemon listens on -l address")
        c = Client(d.port)
        check(c.cmd("PING") == "PONG", "PING -> PONG")
        check(c.cmd("ping") == "PONG", "commands are case-insensitive")
        check(c.cmd("PID") == f"pid={d.proc.pid}", "PID shows the daemon pid")
        check(c.cmd("HELLO") == "ERR unknown command", "unknown command")
        uid = c.cmd("UID")
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            check(uid == f"uid={nobody.pw_uid} gid={nobody.pw_gid}",
                  f"as root, UID shows the dropped user nobody ({uid})")
        else:
            check(uid == f"uid={os.getuid()} gid={os.getgid()}",
                  f"UID shows our own uid ({uid})")
        check(c.cmd("QUIT") == "BYE", "QUIT -> BYE")
        check(c.line() is None, "connection closed after BYE")
        c.close()

        c = Client(d.port)
        c.send(b"A" * 5000 + b"\r\n")
        check(c.line() == "ERR line too long", "over-long line rejected")
        check(c.line() is None, "connection closed after over-long line")
        c.close()

        c = Client(d.port)
        c.send(b"PING\r\nPID\r\nPING\r\n")
        got = [c.line(), c.line(), c.line()]
        check(got == ["PONG", f"pid={d.proc.pid}", "PONG"],
              "pipelined commands answered in order")
        c.close()
        d.proc.send_signal(signal.SIGHUP)
        d.proc.send_signal(signal.SIGPIPE)
        time.sleep(0.2)
        check(d.proc.poll() is None, "SIGHUP and SIGPIPE are ignored")
        c = Client(d.port)
        check(c.cmd("PING") == "PONG", "still serving after SIGHUP")
        c.close()
    finally:
        d.stop()


def test_concurrent(tmp):
    d = Daemon(tmp, "-o", "max_use=1000")
    try:
        check(d.wait_listening(), "daemon listens")
        clients = [Client(d.port) for _ in range(200)]
        for c in clients:
            c.send(b"PING\r\n")
        answers = [c.line() for c in clients]
        check(answers.count("PONG") == 200,
              f"200 concurrent clients all answered "
              f"({answers.count('PONG')})")
        pids = set()
        for c in clients:
            pids.add(c.cmd("PID"))
            c.close()
        check(pids == {f"pid={d.proc.pid}"}, "one process served them all")
    finally:
        d.stop()


def test_slow_does_not_block(tmp):
    d = Daemon(tmp, "-o", "max_use=1000")
    try:
        check(d.wait_listening(), "daemon listens")
        a = Client(d.port)
        b = Client(d.port)
        t0 = time.monotonic()
        a.send(b"SLOW\r\nPING\r\n")
        time.sleep(0.02)
        check(b.cmd("PING") == "PONG", "other client served during SLOW")
        tb = time.monotonic() - t0
        check(tb < 0.15, f"PING answered before SLOW finished ({tb:.3f}s)")
        check(a.line() == "SLOW done", "SLOW done")
        ta = time.monotonic() - t0
        check(ta >= 0.19, f"SLOW took its 200 ms ({ta:.3f}s)")
        check(a.line() == "PONG", "command pipelined behind SLOW answered")
        # Two SLOWs on two clients overlap on the worker pool.
        t0 = time.monotonic()
        a.send(b"SLOW\r\n")
        b.send(b"SLOW\r\n")
        check(a.line() == "SLOW done" and b.line() == "SLOW done",
              "two SLOWs done")
        t2 = time.monotonic() - t0
        check(t2 < 0.38, f"SLOW jobs ran in parallel ({t2:.3f}s)")
        a.close()
        # A client that leaves while its job runs does not crash anything.
        b.send(b"SLOW\r\n")
        b.close()
        time.sleep(0.4)
        c = Client(d.port)
        check(c.cmd("PING") == "PONG", "alive after client left during SLOW")
        c.close()
    finally:
        d.stop()


def test_max_use(tmp):
    d = Daemon(tmp, "-o", "max_use=3")
    try:
        # wait_listening would itself be a client: poll by connecting once.
        end = time.monotonic() + 5
        first = None
        while first is None and time.monotonic() < end:
            try:
                first = Client(d.port)
            except OSError:
                time.sleep(0.05)
        check(first is not None, "max_use daemon listens")
        others = [Client(d.port), Client(d.port)]
        for c in [first] + others:
            check(c.cmd("PING") == "PONG", "client within max_use served")
        time.sleep(0.2)
        refused = False
        try:
            extra = Client(d.port, timeout=2)
            extra.send(b"PING\r\n")
            refused = extra.line() is None
        except OSError:
            refused = True
        check(refused, "fourth client not served after max_use=3")
        check(d.proc.poll() is None, "process waits for its live clients")
        first.cmd("QUIT")
        others[0].cmd("QUIT")
        time.sleep(0.2)
        check(d.proc.poll() is None, "process waits for the last client")
        check(others[1].cmd("PING") == "PONG", "last client still served")
        others[1].cmd("QUIT")
        check(d.wait_exit(5) == 0, "exit 0 once max_use clients are done")
    finally:
        d.stop()


def test_max_idle(tmp):
    d = Daemon(tmp, "-o", "max_idle=1s", "-o", "max_use=1000")
    try:
        check(d.wait_listening(), "daemon listens")
        c = Client(d.port)
        time.sleep(1.6)
        check(d.proc.poll() is None, "no idle exit while a client is live")
        check(c.cmd("PING") == "PONG", "live client still served")
        t0 = time.monotonic()
        c.cmd("QUIT")
        c.close()
        rc = d.wait_exit(5)
        t = time.monotonic() - t0
        check(rc == 0, f"exit 0 after max_idle without clients (rc={rc})")
        check(0.8 <= t < 3, f"idle exit after about 1 s ({t:.2f}s)")
    finally:
        d.stop()


def test_sigterm(tmp):
    d = Daemon(tmp, "-o", "max_use=1000")
    try:
        check(d.wait_listening(), "daemon listens")
        c = Client(d.port)
        check(c.cmd("PING") == "PONG", "client served before SIGTERM")
        d.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        check(d.proc.poll() is None, "SIGTERM waits for the live client")
        check(c.cmd("PING") == "PONG", "live client still served")
        refused = False
        try:
            Client(d.port, timeout=2).close()
        except OSError:
            refused = True
        check(refused, "no new clients accepted after SIGTERM")
        check(c.cmd("QUIT") == "BYE", "client quits")
        check(d.wait_exit(5) == 0, "exit 0 once the last client is done")
        check("shutting down" in d.stderr(), "on_shutdown was called")
    finally:
        d.stop()


def test_sigterm_timeout(tmp):
    d = Daemon(tmp, "-o", "max_use=1000", "-o",
               "daemon_shutdown_timeout=1s")
    try:
        check(d.wait_listening(), "daemon listens")
        c = Client(d.port)
        check(c.cmd("PING") == "PONG", "client served")
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        rc = d.wait_exit(5)
        t = time.monotonic() - t0
        check(rc == 0 and 0.8 <= t < 3,
              f"exit after daemon_shutdown_timeout with a client left "
              f"(rc={rc}, {t:.2f}s)")
        c.close()
    finally:
        d.stop()


def test_config_errors(tmp):
    d = Daemon(tmp, "-o", "max_use=lots")
    try:
        rc = d.wait_exit(5)
        check(rc == 1, f"bad -o value: exit 1 (rc={rc})")
        check("max_use" in d.stderr(), "error names the parameter")
    finally:
        d.stop()
    d = Daemon(tmp, main_cf="max_idle = forever\n")
    try:
        check(d.wait_exit(5) == 1, "bad main.cf value: exit 1")
    finally:
        d.stop()
    d = Daemon(tmp, "-x")
    try:
        check(d.wait_exit(5) == 1, "unknown option: exit 1")
    finally:
        d.stop()
    # Without master and without -l there is nothing to listen on.
    p = subprocess.run([BIN, "-c", d.conf, "-f"], capture_output=True,
                       timeout=10, env={k: v for k, v in os.environ.items()
                                        if k != "DOVETAIL_MASTER"})
    check(p.returncode == 1 and b"-l" in p.stderr,
          "no -l and no master: exit 1")


def test_refuses_root(tmp):
    if os.geteuid() != 0:
        print("skip: refusing root needs root")
        return
    d = Daemon(tmp, "-u", "root")
    try:
        rc = d.wait_exit(5)
        check(rc == 1, f"-u root: exit 1 (rc={rc})")
        check("must not run as root" in d.stderr(),
              "says it must not run as root")
    finally:
        d.stop()
    d = Daemon(tmp, "-u", "nobody:root")
    try:
        rc = d.wait_exit(5)
        check(rc == 1 and "group root" in d.stderr(),
              f"-u nobody:root: refuses group root (rc={rc})")
    finally:
        d.stop()


def test_chroot(tmp):
    if os.geteuid() != 0:
        print("skip: chroot needs root")
        return
    root = tempfile.mkdtemp(dir=tmp, prefix="chroot")
    os.chmod(root, 0o755)
    d = Daemon(tmp, "-r", root, "-u", "nobody:nogroup", "-o",
               "max_use=1000")
    try:
        check(d.wait_listening(), "chrooted daemon listens")
        check(os.readlink(f"/proc/{d.proc.pid}/root") ==
              os.path.realpath(root), "-r: the process root is the dir")
        c = Client(d.port)
        nobody = pwd.getpwnam("nobody")
        gid = __import__("grp").getgrnam("nogroup").gr_gid
        check(c.cmd("UID") == f"uid={nobody.pw_uid} gid={gid}",
              "-u user:group: uid and gid dropped")
        c.close()
    finally:
        d.stop()


def test_started_by_master(tmp):
    """The master contract: fd 3 listening socket, fd 4 status pipe,
    DOVETAIL_MASTER=1, -n/-t, command args, maillog_file."""
    conf = tempfile.mkdtemp(dir=tmp, prefix="conf")
    maillog = os.path.join(conf, "maillog")
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write(f"queue_directory = {conf}\nmaillog_file = {maillog}\n")
        if os.geteuid() == 0:
            f.write("mail_owner = nobody\n")
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(100)
    lsock.setblocking(False)
    port = lsock.getsockname()[1]
    r, w = os.pipe()
    lfd = lsock.fileno()

    def child_fds():
        hi_l, hi_w = os.dup(lfd) + 100, os.dup(w) + 100
        os.dup2(lfd, hi_l)
        os.dup2(w, hi_w)
        os.dup2(hi_l, 3)
        os.dup2(hi_w, 4)

    env = dict(os.environ, DOVETAIL_MASTER="1")
    log = open(os.path.join(conf, "stderr.log"), "w")
    proc = subprocess.Popen([BIN, "-c", conf, "-n", "echo2", "-t", "inet",
                             "-v", "-o", "max_use=1000", "a1", "b2"],
                            stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log, env=env, close_fds=False,
                            preexec_fn=child_fds)
    os.close(w)
    try:
        import select
        ready, _, _ = select.select([r], [], [], 5)
        status = os.read(r, 1) if ready else b""
        check(status == b"R", f"ready byte 'R' on fd 4 ({status!r})")
        c = Client(port)
        check(c.cmd("PING") == "PONG", "serves on the socket from fd 3")
        check(c.cmd("ARGS") == "args=a1 b2", "command args after options")
        check(c.cmd("QUIT") == "BYE", "QUIT")
        c.close()
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(5) == 0, "SIGTERM: exit 0")
        with open(maillog) as f:
            text = f.read()
        check(f"dovetail/echo2[{proc.pid}]:" in text,
              "maillog_file gets lines named by -n service")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(r)
        lsock.close()
        log.close()


def test_trigger(tmp):
    if not os.path.exists(TRIGGER_BIN):
        dt.missing(TRIGGER_BIN)
    d = Daemon(tmp, binary=TRIGGER_BIN)
    try:
        check(d.wait_listening(), "trigger daemon listens")
        check(d.wait_log("tick 2", 3.5), "on_timer runs every second")
        s = socket.create_connection(("127.0.0.1", d.port))
        s.sendall(b"wake")
        s.close()
        check(d.wait_log("trigger: 4 bytes: wake", 2),
              "trigger bytes handed to on_trigger")
        s = socket.create_connection(("127.0.0.1", d.port))
        try:
            s.sendall(b"x" * 2000)
        except OSError:
            pass
        s.close()
        check(d.wait_log("trigger: 1024 bytes: xxx", 2),
              "trigger request bounded to 1024 bytes")
        s = socket.create_connection(("127.0.0.1", d.port))
        s.sendall(b"abc")
        check(d.wait_log("trigger: 3 bytes: abc", 3),
              "trigger delivered after its read timeout")
        s.close()
        d.proc.send_signal(signal.SIGTERM)
        check(d.wait_exit(5) == 0, "trigger daemon: SIGTERM exits 0")
        check("shutdown" in d.stderr(), "trigger daemon: on_shutdown")
    finally:
        d.stop()


def main():
    if not os.path.exists(BIN):
        dt.missing(BIN)
    with tempfile.TemporaryDirectory(prefix="test_server.") as tmp:
        os.chmod(tmp, 0o755)
        for t in (test_commands, test_concurrent, test_slow_does_not_block,
                  test_max_use, test_max_idle, test_sigterm,
                  test_sigterm_timeout, test_config_errors,
                  test_refuses_root, test_chroot, test_started_by_master,
                  test_trigger):
            print(f"--- {t.__name__}")
            t(tmp)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
