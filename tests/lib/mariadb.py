"""A private MariaDB server for tests.

MariaDB(...) creates a data directory under a temporary directory, starts
mariadbd on a free loopback port and a unix socket there, and always kills
it again: on stop(), on leaving a "with" block, at interpreter exit, on
SIGTERM/SIGINT/SIGHUP, and (PR_SET_PDEATHSIG) when the test is SIGKILLed. The server runs as root only with --user=root (tests run as
root in the build container). Root has an empty password (normal
authentication, so both the socket and TCP work).

    with MariaDB() as db:
        db.create_database("mail", schema_sql)
        db.create_user("dovetail", "secret", "mail")
        db.restart()          # same port and socket, same data
        db.stop(); db.start()

When MariaDB is not installed the constructor calls missing() (skip
locally, fail in CI).
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from dovetail_test import missing

_LIVE = set()


def _find(name):
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/usr/bin", "/sbin"]:
        p = os.path.join(d, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def free_port():
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """In the child: SIGKILL when the test process dies, even by SIGKILL."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def quote(s):
    """s as an SQL string literal."""
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


def _cleanup_all():
    for db in list(_LIVE):
        db.cleanup()


def _on_signal(signum, frame):
    _cleanup_all()
    raise SystemExit(128 + signum)


atexit.register(_cleanup_all)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    try:
        signal.signal(_sig, _on_signal)
    except (ValueError, OSError):
        pass


class MariaDB:
    START_TIMEOUT = 60

    def __init__(self, basedir=None):
        self.mariadbd = _find("mariadbd") or _find("mysqld")
        self.install_db = _find("mariadb-install-db") or _find("mysql_install_db")
        self.client = _find("mariadb") or _find("mysql")
        if not (self.mariadbd and self.install_db and self.client):
            missing("MariaDB server and client (apt-get install mariadb-server mariadb-client)")
        self._own_dir = basedir is None
        self.dir = basedir or tempfile.mkdtemp(prefix="dovetail-mariadb.")
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "sock")
        self.pidfile = os.path.join(self.dir, "mariadb.pid")
        self.logfile = os.path.join(self.dir, "error.log")
        self.port = free_port()
        self.proc = None
        _LIVE.add(self)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def _user_args(self):
        return ["--user=root"] if os.geteuid() == 0 else []

    def _install(self):
        cmd = [self.install_db, "--no-defaults", "--datadir=" + self.datadir,
               "--auth-root-authentication-method=normal", "--skip-test-db",
               "--skip-name-resolve"] + self._user_args()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("mariadb-install-db failed:\n" + r.stdout)

    def start(self):
        """Starts the server (initialising the data dir the first time)."""
        if self.proc is not None:
            return
        if not os.path.isdir(os.path.join(self.datadir, "mysql")):
            self._install()
        cmd = [self.mariadbd, "--no-defaults", "--datadir=" + self.datadir,
               "--socket=" + self.socket, "--port=%d" % self.port,
               "--bind-address=127.0.0.1", "--pid-file=" + self.pidfile,
               "--log-error=" + self.logfile, "--skip-name-resolve",
               "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M",
               "--innodb-use-native-aio=0", "--skip-log-bin",
               ] + self._user_args()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     start_new_session=True,
                                     preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise RuntimeError("mariadbd exited at start:\n" + self.log_tail())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                if os.path.exists(self.socket):
                    self.sql("SELECT 1")
                    return
            except (OSError, RuntimeError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("mariadbd did not answer within %ds:\n%s"
                           % (self.START_TIMEOUT, self.log_tail()))

    def stop(self):
        """Stops the server (SIGTERM, then SIGKILL); the data stays."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def cleanup(self):
        """Stops the server and removes its directory."""
        self.stop()
        _LIVE.discard(self)
        if self._own_dir and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines=30):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def sql(self, statements, database=None):
        """Runs SQL as root over the socket; returns the output (tab
        separated, no column names). Raises RuntimeError on an error."""
        cmd = [self.client, "--no-defaults", "-uroot", "--socket=" + self.socket,
               "--batch", "--skip-column-names"]
        if database:
            cmd.append(database)
        r = subprocess.run(cmd, input=statements, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("SQL failed: %s\n%s" % (r.stderr.strip(), statements))
        return r.stdout

    def create_database(self, name, schema_sql=None):
        self.sql("CREATE DATABASE `%s` CHARACTER SET utf8mb4;" % name)
        if schema_sql:
            self.sql(schema_sql, database=name)

    def create_user(self, user, password, database, privileges="SELECT"):
        """A user that may log in over TCP (127.0.0.1) and the socket."""
        for host in ("127.0.0.1", "localhost"):
            self.sql("CREATE USER %s@%s IDENTIFIED BY %s;"
                     "GRANT %s ON `%s`.* TO %s@%s;"
                     % (quote(user), quote(host), quote(password), privileges,
                        database, quote(user), quote(host)))

    def kill_connections(self, user):
        """Kills every connection of user (as an admin or a timeout would)."""
        ids = self.sql("SELECT id FROM information_schema.processlist "
                       "WHERE user = %s;" % quote(user)).split()
        for i in ids:
            self.sql("KILL CONNECTION %s;" % i)
        return len(ids)
