"""A private Dovetail instance for integration tests.

Writes a temporary configuration directory (main.cf with its own
queue_directory, daemon_directory = the build's bin/, a maillog_file,
loopback-only listeners on free ports; master.cf with the services asked
for), runs "dovetail -c DIR setup" and "start", waits until every service
has a ready process, and stops everything again (also when the test raises).

    from instance import Instance, mail_suite
    with Instance(services=("smtpd", "qmgr", "lmtp", "lmtpd", "auth")) as inst:
        acc = inst.accounts()               # sqlite accounts db + map files
        acc.add_user("alice@example.org")
        inst.main_cf_extra += acc.main_cf() # before start()
        inst.start()
        ... smtplib.SMTP("127.0.0.1", inst.smtp_port) ...
        inst.wait_log(r"status=sent", 10)

mail_suite() returns an (Instance, Accounts) pair already configured for
the whole receiving path (smtpd, submit, qmgr, lmtp, lmtpd; Maildirs under
instance.mail; fast retries). tests/lib/queue_tools.py has a queue file
writer and a fake LMTP server for testing qmgr/smtp alone.

Services known by name (SERVICE_LINES); any other master.cf text goes in
master_cf_extra. Parameters a daemon needs go in main_cf_extra or in
per-daemon files (files={"lmtpd.cf": "..."}). Needs root (master binds and
drops privileges). Uses only the Python standard library.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

from dovetail_test import BIN_DIR, SOURCE_DIR, bin_path, missing

MAIL_OWNER = "dvtest"
VMAIL_USER = "dvvmail"
AUTH_USER = "dvauth"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ensure_user(name, home="/nonexistent"):
    """Creates a system user (and group) for tests if it does not exist."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                    home, "--shell", "/usr/sbin/nologin", "--user-group",
                    "--comment", "Dovetail test user", name],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return pwd.getpwnam(name)


def wait_for(cond, timeout=15.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


class Accounts:
    """The sqlite accounts database (conf/sql/sqlite-schema.sql) and the
    map files that point at it, all inside the instance directory."""

    def __init__(self, inst):
        self.inst = inst
        self.dir = os.path.join(inst.top, "sql")
        os.makedirs(self.dir, exist_ok=True)
        self.db = os.path.join(self.dir, "accounts.sqlite")
        with open(os.path.join(SOURCE_DIR, "conf", "sql", "sqlite-schema.sql")) as f:
            schema = f.read()
        con = sqlite3.connect(self.db)
        con.executescript(schema)
        con.commit()
        con.close()
        os.chmod(self.dir, 0o755)
        os.chmod(self.db, 0o644)
        self.maps = {}
        src = os.path.join(SOURCE_DIR, "conf", "sql")
        for name in os.listdir(src):
            if not (name.startswith("sqlite-") and name.endswith(".cf")):
                continue
            with open(os.path.join(src, name)) as f:
                text = f.read()
            text = re.sub(r"^dbpath\s*=.*$", f"dbpath = {self.db}", text, flags=re.M)
            path = os.path.join(self.dir, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o644)
            self.maps[name[len("sqlite-"):-len(".cf")]] = path

    def _exec(self, sql, args=()):
        con = sqlite3.connect(self.db)
        try:
            cur = con.execute(sql, args)
            con.commit()
            return cur.lastrowid
        finally:
            con.close()

    def domain_id(self, domain):
        con = sqlite3.connect(self.db)
        try:
            row = con.execute("SELECT id FROM virtual_domains WHERE name=?",
                              (domain,)).fetchone()
        finally:
            con.close()
        if row:
            return row[0]
        return self._exec("INSERT INTO virtual_domains(name) VALUES (?)", (domain,))

    def add_domain(self, domain):
        return self.domain_id(domain)

    def add_user(self, email, password="{PLAIN}secret"):
        did = self.domain_id(email.rsplit("@", 1)[1])
        self._exec("INSERT INTO virtual_users(domain_id, password, email) "
                   "VALUES (?, ?, ?)", (did, password, email))

    def add_alias(self, source, destination):
        """source "a@d" or "@d" (catch-all); one row per destination."""
        did = self.domain_id(source.rsplit("@", 1)[1])
        self._exec("INSERT INTO virtual_aliases(domain_id, source, destination) "
                   "VALUES (?, ?, ?)", (did, source, destination))

    def main_cf(self):
        """main.cf lines that use these tables (Postfix and Dovecot names)."""
        m = self.maps
        lines = [
            f"virtual_mailbox_domains = sqlite:{m['virtual-mailbox-domains']}",
            f"virtual_mailbox_maps = sqlite:{m['virtual-mailbox-maps']}",
            f"virtual_alias_maps = sqlite:{m['virtual-alias-maps']}",
        ]
        return "\n".join(lines) + "\n"


def mail_suite(services=("smtpd", "submit", "qmgr", "lmtp", "lmtpd"), extra="", **kw):
    """An Instance for the whole receiving path (smtpd -> queue -> qmgr ->
    smtp/LMTP -> lmtpd -> Maildir) with a sqlite accounts db; returns
    (instance, accounts). Add users and aliases before start(). Maildirs
    are at instance.maildir(user, domain); lmtpd checks recipients in
    virtual_mailbox_maps (no auth daemon needed). Retries are fast
    (1s back-off) so tests of deferred mail finish quickly."""
    inst = Instance(services=services, queue_run_delay=kw.pop("queue_run_delay", 1), **kw)
    acc = inst.accounts()
    inst.main_cf_extra = acc.main_cf() + f"""mail_location = maildir:{inst.mail}/%d/%n
auth_socket_path =
recipient_delimiter = +
smtpd_peername_lookup = no
mydestination = localhost
myorigin = test.example
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
""" + inst.main_cf_extra + extra
    return inst, acc


class Instance:
    # master.cf lines by service name; {port} etc. are filled in.
    SERVICE_LINES = {
        "smtpd": "127.0.0.1:{smtp_port} inet n - n - 2 smtpd",
        "submit": "submit unix n - n - 1 smtpd -o smtpd_local_submission=yes",
        "qmgr": "qmgr unix n - n {queue_run_delay} 1 qmgr",
        "lmtp": "lmtp unix - - n - - smtp",
        # Group mail_owner: master makes a private socket 0660 owned by the
        # service's user and group, and smtp (mail_owner) must connect.
        "lmtpd": "dovetail-lmtp unix - {vmail}:{mail_owner} n - - lmtpd",
        "auth": "auth unix n {auth_user} n - 1 auth",
        "auth-userdb": "auth-userdb unix - {auth_user} n - 1 auth userdb",
        # issues 6, 7: the login processes (mail_owner) and the session
        # services (vmail in mail_owner's group, maxproc 1).
        "imap-login": "127.0.0.1:{imap_port} inet n - n - 1 imap-login",
        "imaps-login": "127.0.0.1:{imaps_port} inet n - n - 1 imap-login -o login_tls_wrappermode=yes",
        "imapd": "imap unix - {vmail}:{mail_owner} n - 1 imapd",
        "pop3-login": "127.0.0.1:{pop3_port} inet n - n - 1 pop3-login",
        "pop3s-login": "127.0.0.1:{pop3s_port} inet n - n - 1 pop3-login -o login_tls_wrappermode=yes",
        "pop3d": "pop3 unix - {vmail}:{mail_owner} n - 1 pop3d",
    }

    def __init__(self, top=None, services=("smtpd", "qmgr", "lmtp", "lmtpd"),
                 main_cf_extra="", master_cf_extra="", files=None,
                 queue_run_delay=300, keep=False, master_cf=None, netns=None):
        """top: the instance directory (default: a new temp dir);
        services: names from SERVICE_LINES; master_cf: when given, the
        whole master.cf text ({smtp_port}, {vmail}, {mail_owner} are
        filled in) instead of the service lines; keep: leave the directory
        (also DOVETAIL_KEEP_TEST_DIR=1); netns: run the dovetail command
        (and so master and every daemon) inside this network namespace
        ("ip netns exec NAME"; tests/twohost)."""
        self.master_cf = master_cf
        self.netns = netns
        self.keep = keep or os.environ.get("DOVETAIL_KEEP_TEST_DIR") == "1"
        self.top = top or tempfile.mkdtemp(prefix="dovetail-inst-")
        os.chmod(self.top, 0o755)
        self.conf = os.path.join(self.top, "etc")
        self.queue = os.path.join(self.top, "spool")
        self.data = os.path.join(self.top, "data")
        self.mail = os.path.join(self.top, "mail")
        self.logfile = os.path.join(self.top, "mail.log")
        os.makedirs(self.conf, exist_ok=True)
        self.smtp_port = free_port()
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.pop3_port = free_port()
        self.pop3s_port = free_port()
        self.services = list(services)
        self.main_cf_extra = main_cf_extra
        self.master_cf_extra = master_cf_extra
        self.files = dict(files or {})
        self.queue_run_delay = queue_run_delay
        self.started = False
        self.vmail = ensure_user(VMAIL_USER)
        self.mail_owner = MAIL_OWNER
        os.makedirs(self.mail, exist_ok=True)
        os.chown(self.mail, self.vmail.pw_uid, self.vmail.pw_gid)
        os.chmod(self.mail, 0o755)
        for prog in ("master", "dovetail"):
            if not os.access(bin_path(prog), os.X_OK):
                missing(bin_path(prog))

    # --- configuration ------------------------------------------------

    def need_daemons(self, *names):
        """Skips (locally) or fails (CI) when a daemon is not built."""
        for n in names:
            if not os.access(bin_path(n), os.X_OK):
                missing(bin_path(n))

    def accounts(self):
        if not hasattr(self, "_accounts"):
            self._accounts = Accounts(self)
        return self._accounts

    def path(self, *parts):
        """A path inside the instance directory ("spool", "incoming")."""
        return os.path.join(self.top, *parts)

    def queue_path(self, *parts):
        return os.path.join(self.queue, *parts)

    def maildir(self, user, domain):
        """Where the harness's default mail_location puts user@domain."""
        return os.path.join(self.mail, domain, user)

    def main_cf_text(self):
        return f"""# test instance written by tests/lib/instance.py
queue_directory = {self.queue}
data_directory = {self.data}
daemon_directory = {BIN_DIR}
mail_owner = {MAIL_OWNER}
syslog_name = dovetail-test
maillog_file = {self.logfile}
inet_interfaces = loopback-only
myhostname = mx.test.example
mydomain = test.example
default_process_limit = 2
service_throttle_time = 2s
daemon_shutdown_timeout = 5s
{self.main_cf_extra}"""

    def master_cf_text(self):
        subst = {"smtp_port": self.smtp_port, "vmail": VMAIL_USER,
                 "imap_port": self.imap_port, "imaps_port": self.imaps_port,
                 "pop3_port": self.pop3_port, "pop3s_port": self.pop3s_port,
                 "mail_owner": MAIL_OWNER,
                 "auth_user": AUTH_USER, "queue_run_delay": self.queue_run_delay}
        if self.master_cf is not None:
            return self.master_cf.format(**subst) + self.master_cf_extra
        lines = ["# service type private unpriv chroot wakeup maxproc command"]
        for s in self.services:
            lines.append(self.SERVICE_LINES[s].format(**subst))
        return "\n".join(lines) + "\n" + self.master_cf_extra

    def write_config(self):
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(self.main_cf_text())
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(self.master_cf_text())
        for name, text in self.files.items():
            with open(os.path.join(self.conf, name), "w") as f:
                f.write(text)
        for name in os.listdir(self.conf):
            os.chmod(os.path.join(self.conf, name), 0o644)

    def make_cert(self, cn="mx.test.example"):
        """A self-signed certificate and key in the config directory
        (ssl_cert/ssl_key, smtpd_tls_*); returns (cert, key)."""
        cert = os.path.join(self.conf, "cert.pem")
        key = os.path.join(self.conf, "key.pem")
        if not os.path.exists(cert):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                            "-nodes", "-days", "30", "-subj", f"/CN={cn}",
                            "-keyout", key, "-out", cert],
                           check=True, capture_output=True)
        return cert, key

    # --- running ----------------------------------------------------------

    def dovetail(self, *args, timeout=60, check=False):
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        p = subprocess.run(prefix + [bin_path("dovetail"), "-c", self.conf] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, text=True)
        if check and p.returncode != 0:
            raise RuntimeError(f"dovetail {' '.join(args)} failed "
                               f"({p.returncode}):\n{p.stdout}\n{self.log()}")
        return p.returncode, p.stdout

    def setup(self):
        if "auth" in self.services:
            ensure_user(AUTH_USER)
        self.write_config()
        self.dovetail("setup", check=True)

    def start(self, timeout=20):
        """setup + start + wait until every service has a ready process."""
        if not self.started:
            self.setup()
        self.dovetail("start", check=True)
        self.started = True
        if not wait_for(self.all_ready, timeout):
            raise RuntimeError(f"services not ready: {self.status()}\n{self.log()}")
        return self

    def status(self):
        """{(service, type): [(pid, state)]} from master's status file."""
        procs = {}
        try:
            with open(os.path.join(self.queue, "pid", "master.status")) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return procs
        for line in lines:
            f = line.split()
            if f and f[0] == "service":
                procs.setdefault((f[1], f[2]), [])
            elif f and f[0] == "process":
                procs.setdefault((f[1], f[2]), []).append((int(f[3]), f[4]))
        return procs

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.status")) as f:
                for line in f:
                    f2 = line.split()
                    if f2 and f2[0] == "master":
                        return int(f2[1])
        except FileNotFoundError:
            pass
        return None

    def all_ready(self):
        st = self.status()
        if not st:
            return False
        # Services with a wakeup or unix trigger may start lazily; a
        # service is ready when any of its processes is.
        return all(any(state == "ready" for _, state in procs) or not procs
                   for procs in st.values()) and len(st) >= len(self.services)

    def pids(self, service):
        """Ready pids of a service by master.cf name ("qmgr", "smtpd" -> the
        inet service's name)."""
        out = []
        for (name, _type), procs in self.status().items():
            if name == service or (service == "smtpd" and name.endswith(f":{self.smtp_port}")):
                out += [p for p, _ in procs]
        return sorted(out)

    def daemon_pids(self, program):
        """Every process of this instance whose argv[0] ends with program."""
        out = []
        for pid in self.instance_pids():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv0 = f.read().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if os.path.basename(argv0) == program:
                out.append(pid)
        return out

    def kill(self, program, sig=signal.SIGKILL):
        """Sends sig to every process of one daemon program; returns pids."""
        pids = self.daemon_pids(program)
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        return pids

    def instance_pids(self):
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

    def stop(self):
        if self.started:
            try:
                self.dovetail("stop", timeout=30)
            except subprocess.TimeoutExpired:
                pass
            self.started = False
        wait_for(lambda: not self.instance_pids(), 10)
        for pid in self.instance_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def cleanup(self):
        self.stop()
        if not self.keep:
            shutil.rmtree(self.top, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            print("--- mail.log ---\n" + self.log())
        self.cleanup()
        return False

    # --- logs and files -------------------------------------------------------

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, regex, timeout=10.0, start=0):
        """Waits until regex matches the log (from byte offset start); returns
        the match or None."""
        pat = re.compile(regex, re.M)
        return wait_for(lambda: pat.search(self.log()[start:]), timeout)

    def log_size(self):
        try:
            return os.path.getsize(self.logfile)
        except OSError:
            return 0

    def queue_files(self, sub):
        try:
            return sorted(n for n in os.listdir(self.queue_path(sub))
                          if not n.startswith("."))
        except FileNotFoundError:
            return []

    def queue_empty(self):
        return not any(self.queue_files(d) for d in
                       ("incoming", "active", "deferred"))

    def maildir_new(self, maildir):
        """Contents of the files in maildir/new, by file name."""
        out = {}
        d = os.path.join(maildir, "new")
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            return out
        for n in names:
            try:
                with open(os.path.join(d, n), "rb") as f:
                    out[n] = f.read()
            except FileNotFoundError:
                pass
        return out
