#!/usr/bin/env python3
"""master lifecycle: start, status, privileges, restart of a killed child,
maxproc, selective reload (with a live session on the unchanged service),
a refused broken reload, stop, and a second start that refuses.

Runs a private instance (its own config dir, queue dir and loopback port)
of master with the dovetail-testecho service, through the real
"dovetail" command. Needs root: master binds and drops privileges.
"""
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from dovetail_test import BIN_DIR, bin_path, missing, need_root

MAIL_OWNER = "dvtest"
ECHO_USER = "nobody"
FAILURES = []


def check(cond, what):
    if cond:
        print(f"ok: {what}")
    else:
        print(f"FAIL: {what}")
        FAILURES.append(what)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Instance:
    def __init__(self, top):
        self.top = top
        self.conf = os.path.join(top, "etc")
        self.queue = os.path.join(top, "spool")
        self.log = os.path.join(top, "mail.log")
        self.port = free_port()
        os.mkdir(self.conf)
        self.write_main()
        self.write_master("3600s")

    def write_main(self, extra=""):
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"""# test instance
queue_directory = {self.queue}
data_directory = {self.top}/data
daemon_directory = {BIN_DIR}
mail_owner = {MAIL_OWNER}
syslog_name = dovetail-test
maillog_file = {self.log}
inet_interfaces = loopback-only
default_process_limit = 1
service_throttle_time = 5s
daemon_shutdown_timeout = 5s
{extra}""")

    def write_master(self, idle, extra=""):
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(f"""# service type private unpriv chroot wakeup maxproc command
{self.port} inet n - n - 2 dovetail-testecho
  -o max_idle={idle}
echo unix - {ECHO_USER}:nogroup n - - dovetail-testecho -o max_use=1
{extra}""")

    def dovetail(self, *args, timeout=60):
        p = subprocess.run([bin_path("dovetail"), "-c", self.conf] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, text=True)
        print(f"$ dovetail {' '.join(args)} -> {p.returncode}\n{p.stdout}", end="")
        return p.returncode, p.stdout

    def status(self):
        """{(service, type): [(pid, state)]} and master pid from the status file."""
        procs, master = {}, None
        try:
            with open(os.path.join(self.queue, "pid", "master.status")) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return None, {}
        for line in lines:
            f = line.split()
            if f[0] == "master":
                master = int(f[1])
            elif f[0] == "service":
                procs.setdefault((f[1], f[2]), [])
            elif f[0] == "process":
                procs.setdefault((f[1], f[2]), []).append((int(f[3]), f[4]))
        return master, procs

    def ready_pids(self, key):
        return sorted(p for p, st in self.status()[1].get(key, []) if st == "ready")

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def instance_pids(self):
        """Every process whose command line names this config dir."""
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if self.conf.encode() in argv and int(d) != os.getpid():
                pids.append(int(d))
        return pids


def proc_ids(pid):
    with open(f"/proc/{pid}/status") as f:
        text = f.read()
    uid = int(re.search(r"^Uid:\s+(\d+)", text, re.M).group(1))
    gid = int(re.search(r"^Gid:\s+(\d+)", text, re.M).group(1))
    return uid, gid


def wait_for(cond, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


class Client:
    def __init__(self, addr, family=socket.AF_INET):
        self.s = socket.socket(family, socket.SOCK_STREAM)
        self.s.settimeout(5)
        self.s.connect(addr)
        self.f = self.s.makefile("rwb")

    def cmd(self, line):
        self.f.write(line.encode() + b"\r\n")
        self.f.flush()
        return self.f.readline().decode().strip()

    def close(self):
        try:
            self.cmd("QUIT")
        except OSError:
            pass
        self.s.close()


def main():
    need_root()
    for prog in ("master", "dovetail", "dovetail-testecho"):
        if not os.access(bin_path(prog), os.X_OK):
            missing(bin_path(prog))
    top = tempfile.mkdtemp(prefix="dovetail-master-")
    os.chmod(top, 0o755)
    inst = Instance(top)
    inet_key = (str(inst.port), "inet")
    unix_key = ("echo", "unix")
    unix_path = os.path.join(inst.queue, "private", "echo")
    try:
        run_tests(inst, inet_key, unix_key, unix_path)
    finally:
        for pid in inst.instance_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        print("--- mail.log ---\n" + inst.log_text())
        shutil.rmtree(top, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print("all master lifecycle checks passed")


def run_tests(inst, inet_key, unix_key, unix_path):
    rc, out = inst.dovetail("start")
    if not check(rc == 0, "dovetail start succeeds"):
        return
    rc, out = inst.dovetail("start")
    check(rc != 0 and "already running" in out, "a second start refuses")
    p = subprocess.run([bin_path("master"), "-t", "-c", inst.conf])
    check(p.returncode == 1, "master -t reports a running master")

    rc, out = inst.dovetail("status")
    check(rc == 0 and f"127.0.0.1:{inst.port}" in out and unix_path in out,
          "dovetail status lists both services with their addresses")
    master, procs = inst.status()
    check(master is not None and proc_ids(master)[0] == 0, "master runs as root")

    # maxproc: 2 for the inet service, default_process_limit (1) for unix.
    check(len(inst.ready_pids(inet_key)) == 2, "inet service runs maxproc=2 processes")
    check(len(inst.ready_pids(unix_key)) == 1, "'-' maxproc uses default_process_limit=1")

    owner = pwd.getpwnam(MAIL_OWNER)
    echo = pwd.getpwnam(ECHO_USER)
    for pid in inst.ready_pids(inet_key):
        check(proc_ids(pid) == (owner.pw_uid, owner.pw_gid),
              f"inet child {pid} runs as {MAIL_OWNER}")
    for pid in inst.ready_pids(unix_key):
        check(proc_ids(pid) == (echo.pw_uid, grp.getgrnam("nogroup").gr_gid),
              f"unix child {pid} runs as {ECHO_USER}:nogroup")
    roots = [p for p in inst.instance_pids() if proc_ids(p)[0] == 0]
    check(roots == [master], f"master is the only uid 0 process of the instance ({roots})")

    c = Client(("127.0.0.1", inst.port))
    check(c.cmd("PING") == "PONG", "inet service answers PING")
    c.close()
    u = Client(unix_path, socket.AF_UNIX)
    nogroup = grp.getgrnam("nogroup").gr_gid
    check(u.cmd("UID") == f"uid={echo.pw_uid} gid={nogroup}",
          "unix service answers UID with nobody:nogroup")

    # A SIGKILLed child comes back with a new pid, and the log says why.
    victim = inst.ready_pids(inet_key)[0]
    os.kill(victim, signal.SIGKILL)
    back = wait_for(lambda: len(inst.ready_pids(inet_key)) == 2
                    and victim not in inst.ready_pids(inet_key))
    check(back, "a SIGKILLed child is replaced by a new process")
    check(wait_for(lambda: re.search(rf"pid {victim} killed by signal 9",
                                     inst.log_text()), 5),
          "the log says the child was killed by signal 9")

    # Reload with only the inet service's -o changed: only it restarts,
    # the unix service and its live session carry on.
    inet_before = inst.ready_pids(inet_key)
    unix_before = inst.ready_pids(unix_key)
    old_session = Client(("127.0.0.1", inst.port))
    check(old_session.cmd("PING") == "PONG", "session on the inet service before reload")
    inst.write_master("3601s")
    rc, out = inst.dovetail("reload")
    check(rc == 0, "dovetail reload succeeds")
    changed = wait_for(lambda: len(inst.ready_pids(inet_key)) == 2
                       and not set(inst.ready_pids(inet_key)) & set(inet_before))
    check(changed, "the changed inet service got new processes")
    check(inst.ready_pids(unix_key) == unix_before,
          "the unchanged unix service kept its processes")
    check(u.cmd("PING") == "PONG", "a session on the unchanged service survives the reload")
    check(old_session.cmd("PING") == "PONG",
          "a session on the changed service finishes on its old process")
    old_session.close()
    check(wait_for(lambda: not any(os.path.exists(f"/proc/{p}")
                                   for p in inet_before), 10),
          "old processes of the changed service exit after their sessions")
    c = Client(("127.0.0.1", inst.port))
    check(c.cmd("PING") == "PONG", "the restarted inet service answers")
    c.close()

    # A service added by a reload starts; removed by the next, it stops
    # and its socket goes; the others are untouched both times.
    keep = (inst.ready_pids(inet_key), inst.ready_pids(unix_key))
    extra_key = ("extra", "unix")
    extra_path = os.path.join(inst.queue, "public", "extra")
    inst.write_master("3601s", "extra unix n - n - 1 dovetail-testecho\n")
    inst.dovetail("reload")
    check(wait_for(lambda: len(inst.ready_pids(extra_key)) == 1),
          "a service added by reload starts")
    extra_pids = inst.ready_pids(extra_key)
    e = Client(extra_path, socket.AF_UNIX)
    check(e.cmd("PING") == "PONG", "the added public service answers")
    e.close()
    inst.write_master("3601s")
    inst.dovetail("reload")
    check(wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in extra_pids)
                   and not os.path.exists(extra_path), 10),
          "a service removed by reload stops and its socket is removed")
    check((inst.ready_pids(inet_key), inst.ready_pids(unix_key)) == keep,
          "adding and removing a service leaves the others alone")

    # A broken configuration is refused and the old services keep running.
    master_pid = inst.status()[0]
    inet_now, unix_now = inst.ready_pids(inet_key), inst.ready_pids(unix_key)
    inst.write_main("default_process_limit = banana\n")
    rc, out = inst.dovetail("reload")
    check(rc != 0 and "main.cf" in out, "dovetail reload refuses a broken main.cf")
    os.kill(master_pid, signal.SIGHUP)
    check(wait_for(lambda: "reload refused" in inst.log_text(), 5),
          "master refuses a broken configuration on SIGHUP")
    time.sleep(0.5)
    check(inst.ready_pids(inet_key) == inet_now and inst.ready_pids(unix_key) == unix_now,
          "the services keep running after a refused reload")
    check(u.cmd("PING") == "PONG", "sessions survive a refused reload")
    # max_use=1: the process exits 0 after this session and is replaced
    # at once, without a warning (by one that reads the repaired main.cf).
    inst.write_main()
    u.close()
    check(wait_for(lambda: len(inst.ready_pids(unix_key)) == 1
                   and inst.ready_pids(unix_key) != unix_now, 5),
          "a process that exits after max_use is replaced")
    check(f"pid {unix_now[0]} " not in inst.log_text(),
          "a process that exits 0 is replaced without a warning")

    # stop: nothing of the instance is left behind.
    all_pids = inst.instance_pids()
    rc, out = inst.dovetail("stop")
    check(rc == 0, "dovetail stop succeeds")
    check(wait_for(lambda: not inst.instance_pids(), 10),
          f"no process of the instance is left after stop (had {all_pids})")
    check(not os.path.exists(os.path.join(inst.queue, "pid", "master.pid")),
          "the pid file is removed")
    rc, out = inst.dovetail("status")
    check(rc == 1 and "not running" in out, "status after stop says not running")
    rc, out = inst.dovetail("stop")
    check(rc != 0 and "not running" in out, "stop when stopped says not running")
    p = subprocess.run([bin_path("master"), "-t", "-c", inst.conf])
    check(p.returncode == 0, "master -t exits 0 when no master runs")

    # A service whose program cannot start is throttled; start fails and
    # names it, and leaves nothing running.
    with open(os.path.join(inst.conf, "master.cf"), "a") as f:
        f.write("broken unix - - n - 1 no-such-daemon\n")
    rc, out = inst.dovetail("start")
    check(rc != 0 and "broken" in out, "start fails naming a service that cannot start")
    check(wait_for(lambda: re.search(r"no-such-daemon pid \d+ exit status 127",
                                     inst.log_text()), 5),
          "the log says why the broken service's process died")
    check("throttling service broken" in inst.log_text(),
          "the broken service is throttled")
    check(wait_for(lambda: not inst.instance_pids(), 10),
          "a failed start leaves no process behind")


if __name__ == "__main__":
    main()
