"""peers - private instances of Debian's Postfix and Dovecot as interop
test peers: each runs from its own configuration, queue/state and log in a
temporary directory of the test, on loopback only, and never touches the
system's instance. Both are context managers: leaving the block (also by
an exception) stops what was started. Programs that are not installed make
the test skip (exit 77) through dovetail_test, or fail under CI=true.
Also the small helpers those tests share (free_port, wait_for, read,
ensure_user, run_tty).
"""
import os
import pwd
import select
import socket
import subprocess
import time

import dovetail_test


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def wait_for(cond, timeout):
    """Polls cond() every 0.2 s; its last value (true or not)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


def read(path, mode="r"):
    """The file's contents, "" (b"" in binary mode) when unreadable."""
    try:
        if "b" in mode:
            with open(path, mode) as f:
                return f.read()
        with open(path, mode, errors="replace") as f:
            return f.read()
    except OSError:
        return "" if "b" not in mode else b""


def ensure_user(name):
    """The passwd entry of a system user, created when missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell",
                        "/usr/sbin/nologin", "--user-group", name],
                       check=False)
        return pwd.getpwnam(name)


def run_tty(cmd, timeout=60):
    """Runs cmd with a pty as stdout/stderr (Postfix commands report
    errors on stderr only when it is a tty): (returncode, output)."""
    master, slave = os.openpty()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 4096)
            except OSError:
                data = b""
            if not data:
                break
            out += data
        elif p.poll() is not None:
            break
    if p.poll() is None:
        p.kill()
    p.wait()
    os.close(master)
    return p.returncode, out.decode(errors="replace").replace("\r", "")


# The daemons a private Postfix needs besides the test's own services.
POSTFIX_SERVICES = (
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "rewrite unix - - n - - trivial-rewrite",
    "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce",
    "trace unix - - n - 0 bounce",
    "verify unix - - n - 1 verify",
    "proxymap unix - - n - - proxymap",
    "error unix - - n - - error",
    "retry unix - - n - - error",
    "discard unix - - n - - discard",
    "smtp unix - - n - - smtp",
    "lmtp unix - - n - - lmtp",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
)


class PrivatePostfix:
    """Postfix with etc/, spool/, data/ and maillog under base.
    main_cf_extra is appended to main.cf; master_cf_extra (lines) comes
    before the standard services in master.cf; start() waits until every
    port in ports accepts connections."""

    def __init__(self, base, main_cf_extra="", master_cf_extra=(),
                 ports=()):
        self.postfix = dovetail_test.need_program("postfix", "postfix")
        self.base = base
        self.etc = os.path.join(base, "etc")
        self.maillog = os.path.join(base, "maillog")
        self.ports = list(ports)
        self.running = False
        os.makedirs(self.etc)
        os.makedirs(os.path.join(base, "spool"))
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(f"""compatibility_level = 3.6
queue_directory = {base}/spool
data_directory = {base}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix.example.test
mydestination =
alias_maps =
alias_database =
maillog_file = {self.maillog}
maillog_file_prefixes = {base}
smtpd_tls_security_level = none
""" + main_cf_extra)
        lines = list(master_cf_extra) + list(POSTFIX_SERVICES)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        # "postfix check" creates the queue layout (post-install)
        rc, out = run_tty([self.postfix, "-c", self.etc, "check"])
        if rc != 0:
            raise RuntimeError("postfix check: " + out)
        rc, out = run_tty([self.postfix, "-c", self.etc, "start"])
        if rc != 0:
            raise RuntimeError("postfix start: " + out)
        self.running = True
        for port in self.ports:
            if not wait_for(lambda: listening(port), 20):
                raise RuntimeError("postfix does not listen on %d:\n%s"
                                   % (port, self.log()))

    def stop(self):
        if not self.running:
            return
        rc, _ = run_tty([self.postfix, "-c", self.etc, "stop"])
        if rc != 0:
            run_tty([self.postfix, "-c", self.etc, "abort"])
        self.running = False

    def log(self):
        return read(self.maillog) or "(no maillog)"

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class PrivateDovecot:
    """Dovecot with base_dir run/, state/, dovecot.log and dovecot.conf
    under base, serving protocols on 127.0.0.1. users: names (homes
    base/dhome/NAME, dhome owned by owner) or a dict name -> home; all
    share password and the uid/gid of owner (a pwd entry) in a
    passwd-file. conf_extra is appended to the configuration (services).
    binary is the protocol program that must be installed (e.g. "lmtp")
    and package the Debian package that has it. start() waits until the
    unix socket ready_socket exists or ready_port accepts connections."""

    def __init__(self, base, owner, users, password, protocols, conf_extra,
                 binary, package, ready_socket=None, ready_port=None):
        self.dovecot = dovetail_test.need_program("dovecot", "dovecot-core")
        self.doveadm = dovetail_test.need_program("doveadm", "dovecot-core")
        if not os.path.exists("/usr/lib/dovecot/" + binary):
            dovetail_test.missing(f"/usr/lib/dovecot/{binary} (apt-get "
                                  f"install {package})")
        self.base = base
        self.run = os.path.join(base, "run")
        self.conf = os.path.join(base, "dovecot.conf")
        self.log = os.path.join(base, "dovecot.log")
        self.home = os.path.join(base, "dhome")
        self.ready_socket = ready_socket
        self.ready_port = ready_port
        self.started = False
        for d in (self.run, os.path.join(base, "state")):
            os.makedirs(d)
        if not isinstance(users, dict):
            os.makedirs(self.home)
            os.chown(self.home, owner.pw_uid, owner.pw_gid)
            users = {u: os.path.join(self.home, u) for u in users}
        passwd = os.path.join(base, "dovecot-users")
        with open(passwd, "w") as f:
            for u, home in users.items():
                f.write(f"{u}:{{PLAIN}}{password}:{owner.pw_uid}:"
                        f"{owner.pw_gid}::{home}::\n")
        os.chmod(passwd, 0o644)
        with open(self.conf, "w") as f:
            f.write(f"""base_dir = {self.run}
state_dir = {base}/state
log_path = {self.log}
ssl = no
listen = 127.0.0.1
protocols = {protocols}
mail_location = maildir:~/Maildir
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = {passwd}
}}
userdb {{
  driver = passwd-file
  args = {passwd}
}}
""" + conf_extra)

    def start(self):
        # dovecot forks into the background: its output goes to a file,
        # a pipe would stay open as long as it runs
        out = os.path.join(self.base, "dovecot.start")
        with open(out, "w") as f:
            rc = subprocess.run([self.dovecot, "-c", self.conf], stdout=f,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL).returncode
        if rc != 0:
            raise RuntimeError("dovecot: " + read(out))
        self.started = True
        if self.ready_socket is not None and \
                not wait_for(lambda: os.path.exists(self.ready_socket), 15):
            raise RuntimeError("dovecot socket %s missing:\n%s"
                               % (self.ready_socket, read(self.log)))
        if self.ready_port is not None and \
                not wait_for(lambda: listening(self.ready_port), 15):
            raise RuntimeError("dovecot not listening on %d:\n%s"
                               % (self.ready_port, read(self.log)))

    def stop(self):
        if not self.started:
            return
        subprocess.run([self.doveadm, "-c", self.conf, "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pidfile = os.path.join(self.run, "master.pid")
        wait_for(lambda: not os.path.exists(pidfile), 10)
        self.started = False

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
