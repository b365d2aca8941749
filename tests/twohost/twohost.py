#!/usr/bin/env python3
"""twohost - two Dovetail mail hosts and a DNS server on one machine.

Builds, inside network namespaces this script creates (and only there):

  dt-dns    10.231.0.1   unbound serving the zone "test." (A, MX, PTR,
                         SPF TXT for mail1.test and mail2.test) and the
                         bridge dt-br0 that links the three namespaces
  dt-mail1  10.231.0.11  a full Dovetail instance for the domain mail1.test
  dt-mail2  10.231.0.12  a full Dovetail instance for the domain mail2.test

Nothing is routed out of these namespaces: the root namespace gets no
address in 10.231.0.0/24 and the namespaces have no default route. A test
CA (openssl command line) issues both hosts' certificates; each host
requires verified TLS to the other (smtp_tls_security_level = verify).
Each instance has a sqlite accounts database with user1@<its domain>
(password "secret", added with "dovetail user add"), smtpd on port 25 and
the submission service (STARTTLS + AUTH) on 587 of its own address.

Used by tests/twohost/test_twohost.py (import TwoHost) and by hand through
scripts/twohost.sh (up, down, status, shell, netem). State for the by-hand
mode lives in STATE_DIR. Input: only this script's own constants and the
command line of the admin; must not touch interfaces, routes or addresses
outside the namespaces it made (besides /etc/netns/dt-*/resolv.conf, which
"ip netns exec" bind-mounts, removed again by down).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from dovetail_test import need_program  # noqa: E402
from instance import (AUTH_USER, MAIL_OWNER, VMAIL_USER, Instance,  # noqa: E402
                      ensure_user, wait_for)

NS_DNS = "dt-dns"
HOSTS = {"mail1": {"ns": "dt-mail1", "addr": "10.231.0.11", "veth": "dt-m1"},
         "mail2": {"ns": "dt-mail2", "addr": "10.231.0.12", "veth": "dt-m2"}}
DNS_ADDR = "10.231.0.1"
PREFIX = 24
BRIDGE = "dt-br0"
ZONE = "test"
STATE_DIR = os.environ.get("DOVETAIL_TWOHOST_DIR", "/tmp/dovetail-twohost")
PASSWORD = "secret"


def run(cmd, check=True, ns=None, **kw):
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stdout}")
    return p


def namespaces():
    return [NS_DNS] + [h["ns"] for h in HOSTS.values()]


def ns_exists(ns):
    return os.path.exists(f"/var/run/netns/{ns}")


# --- network -------------------------------------------------------------

def net_up():
    """The three namespaces, the bridge in dt-dns, one veth per host."""
    need_program("ip", "iproute2")
    for ns in namespaces():
        if ns_exists(ns):
            raise RuntimeError(f"namespace {ns} exists already: "
                               "run 'sh scripts/twohost.sh down' first")
    for ns in namespaces():
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "set", "lo", "up"], ns=ns)
    run(["ip", "link", "add", BRIDGE, "type", "bridge"], ns=NS_DNS)
    run(["ip", "addr", "add", f"{DNS_ADDR}/{PREFIX}", "dev", BRIDGE], ns=NS_DNS)
    run(["ip", "link", "set", BRIDGE, "up"], ns=NS_DNS)
    for h in HOSTS.values():
        # Both ends are created directly inside their namespaces.
        run(["ip", "link", "add", "eth0", "netns", h["ns"], "type", "veth",
             "peer", "name", h["veth"], "netns", NS_DNS])
        run(["ip", "link", "set", h["veth"], "master", BRIDGE], ns=NS_DNS)
        run(["ip", "link", "set", h["veth"], "up"], ns=NS_DNS)
        run(["ip", "addr", "add", f"{h['addr']}/{PREFIX}", "dev", "eth0"], ns=h["ns"])
        run(["ip", "link", "set", "eth0", "up"], ns=h["ns"])
        # "ip netns exec" bind-mounts this over /etc/resolv.conf, so the
        # C library's resolver (smtpd's PTR lookups, mail tools) asks our DNS.
        d = f"/etc/netns/{h['ns']}"
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "resolv.conf"), "w") as f:
            f.write(f"nameserver {DNS_ADDR}\noptions timeout:1 attempts:2\n")


def net_down():
    for ns in namespaces():
        if ns_exists(ns):
            # Processes still inside would keep the namespace's sockets.
            for pid in run(["ip", "netns", "pids", ns], check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ValueError, ProcessLookupError):
                    pass
            run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
    try:
        os.rmdir("/etc/netns")  # only when empty: others may use it
    except OSError:
        pass


def netem(args, top=STATE_DIR):
    """Faults on both hosts' links (each host's egress, so each direction
    once): args such as ["delay", "100ms", "loss", "5%"]; [] or ["off"]
    removes them. Uses tc netem when the kernel has it, else the same
    delay and loss in user space (nfq_delay.py behind an iptables
    NFQUEUE rule). Returns (ok, message)."""
    need_program("tc", "iproute2")
    netem_off(top)
    if not args or args == ["off"]:
        return True, "faults removed"
    if netem_supported():
        out = []
        for h in HOSTS.values():
            p = run(["tc", "qdisc", "add", "dev", "eth0", "root", "netem"] + list(args),
                    check=False, ns=h["ns"])
            if p.returncode != 0:
                netem_off(top)
                return False, f"tc netem failed in {h['ns']}: {p.stdout.strip()}"
            out.append(f"{h['ns']}: tc netem {' '.join(args)}")
        return True, "\n".join(out)
    try:
        delay_ms, loss = netem_parse(args)
    except ValueError as e:
        return False, (f"{e} (this kernel has no sch_netem; the user-space stand-in "
                       "knows only 'delay TIME' and 'loss PERCENT%')")
    iptables = need_program("iptables", "iptables")
    out = []
    for h in HOSTS.values():
        pidfile = os.path.join(top, f"netem-{h['ns']}.pid")
        log = open(os.path.join(top, f"netem-{h['ns']}.log"), "w")
        proc = subprocess.Popen(["ip", "netns", "exec", h["ns"], sys.executable,
                                 os.path.join(HERE, "nfq_delay.py"), str(NFQ_NUM),
                                 str(delay_ms), str(loss)],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        with open(pidfile, "w") as f:
            f.write(f"{proc.pid}\n")
        # It prints one line once its queue is bound.
        wait_for(lambda: "nfq_delay:" in read(log.name) or proc.poll() is not None, 10)
        if proc.poll() is not None or "nfq_delay:" not in read(log.name):
            netem_off(top)
            return False, f"nfq_delay failed in {h['ns']}: {read(log.name)}"
        run([iptables, "-A", "OUTPUT", "-o", "eth0"] + NFQ_RULE, ns=h["ns"])
        out.append(f"{h['ns']}: delay {delay_ms:g}ms loss {loss:g}% "
                   "(user space: no sch_netem in this kernel)")
    return True, "\n".join(out)


NFQ_NUM = 7
NFQ_RULE = ["-j", "NFQUEUE", "--queue-num", str(NFQ_NUM), "--queue-bypass"]


def netem_parse(args):
    """["delay", "100ms", "loss", "5%"] -> (100.0, 5.0)."""
    delay, loss = 0.0, 0.0
    i = 0
    while i < len(args):
        if i + 1 >= len(args):
            raise ValueError(f"netem: {args[i]} needs a value")
        key, val = args[i], args[i + 1]
        if key == "delay":
            m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|us)?", val)
            if not m:
                raise ValueError(f"netem: bad delay {val}")
            delay = float(m.group(1)) * {"s": 1000, "ms": 1, "us": 0.001, None: 0.001}[m.group(2)]
        elif key == "loss":
            m = re.fullmatch(r"(\d+(?:\.\d+)?)%?", val)
            if not m or float(m.group(1)) > 100:
                raise ValueError(f"netem: bad loss {val}")
            loss = float(m.group(1))
        else:
            raise ValueError(f"netem: {key} is not supported")
        i += 2
    if delay > 60000:
        raise ValueError("netem: delay over 60s")
    return delay, loss


def netem_off(top=STATE_DIR):
    """Removes tc netem and the user-space stand-in from both hosts."""
    iptables = shutil.which("iptables")
    for h in HOSTS.values():
        if not ns_exists(h["ns"]):
            continue
        run(["tc", "qdisc", "del", "dev", "eth0", "root"], check=False, ns=h["ns"])
        if iptables:
            while run([iptables, "-D", "OUTPUT", "-o", "eth0"] + NFQ_RULE,
                      check=False, ns=h["ns"]).returncode == 0:
                pass
        pidfile = os.path.join(top, f"netem-{h['ns']}.pid")
        try:
            pid = int(read(pidfile).strip())
            os.killpg(pid, signal.SIGTERM)
            wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                     "zombie" in read(f"/proc/{pid}/status").lower() or
                     _reap(pid), 5, 0.05)
        except (ValueError, ProcessLookupError, PermissionError):
            pass
        try:
            os.unlink(pidfile)
        except FileNotFoundError:
            pass


def _reap(pid):
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return False


def netem_supported():
    """Whether this kernel has the netem qdisc (tried in a scratch namespace)."""
    ns = "dt-netem-probe"
    run(["ip", "netns", "add", ns], check=False)
    try:
        return run(["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
                   check=False, ns=ns).returncode == 0
    finally:
        run(["ip", "netns", "del", ns], check=False)


# --- DNS ---------------------------------------------------------------------

def zone_records():
    rr = []
    for name, h in HOSTS.items():
        fqdn = f"{name}.{ZONE}."
        rr += [f"{fqdn} 300 IN A {h['addr']}",
               f"{fqdn} 300 IN MX 10 {fqdn}",
               f'{fqdn} 300 IN TXT "v=spf1 ip4:{h["addr"]} -all"']
    rr += [f"dns.{ZONE}. 300 IN A {DNS_ADDR}"]
    ptrs = [f"{h['addr']} {name}.{ZONE}" for name, h in HOSTS.items()]
    return rr, ptrs


def dns_up(top, foreground=False):
    """Starts unbound in dt-dns; foreground: as a child process (returned,
    so the caller reaps it) rather than a daemon found by its pidfile."""
    unbound = need_program("unbound", "unbound")
    d = os.path.join(top, "dns")
    os.makedirs(d, exist_ok=True)
    rr, ptrs = zone_records()
    lines = ["server:",
             f"  interface: {DNS_ADDR}",
             "  port: 53",
             f"  do-daemonize: {'no' if foreground else 'yes'}",
             '  username: ""',
             '  chroot: ""',
             f'  directory: "{d}"',
             f'  pidfile: "{d}/unbound.pid"',
             f'  logfile: "{d}/unbound.log"',
             "  use-syslog: no",
             "  do-ip6: no",
             f"  access-control: 10.231.0.0/{PREFIX} allow",
             '  module-config: "iterator"',
             f'  local-zone: "{ZONE}." static',
             '  local-zone: "0.231.10.in-addr.arpa." static']
    lines += [f"  local-data: '{r}'" for r in rr]
    lines += [f'  local-data-ptr: "{p}"' for p in ptrs]
    conf = os.path.join(d, "unbound.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    proc = None
    if foreground:
        proc = subprocess.Popen(["ip", "netns", "exec", NS_DNS, unbound, "-d", "-c", conf],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        run([unbound, "-c", conf], ns=NS_DNS)
    # Both hosts reach the DNS server over the bridge: the links work.
    for h in HOSTS.values():
        if not wait_for(lambda: dns_query(h["ns"], f"mail1.{ZONE}", "A"), 10, 0.2):
            raise RuntimeError(f"unbound in {NS_DNS} does not answer {h['ns']}:\n"
                               + read(f"{d}/unbound.log"))
    return proc


def dns_down(top, proc=None):
    if proc is not None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return
    pidfile = os.path.join(top, "dns", "unbound.pid")
    try:
        pid = int(read(pidfile).strip())
        os.kill(pid, signal.SIGTERM)
    except (ValueError, ProcessLookupError):
        pass


def dns_query(ns, name, qtype):
    """Answer lines of one query from inside namespace ns (ldns's drill;
    falls back to a tiny UDP query for A records without it)."""
    drill = shutil.which("drill")
    if drill:
        p = run([drill, "-Q", "@" + DNS_ADDR, name, qtype], check=False, ns=ns, timeout=10)
        return [ln for ln in p.stdout.splitlines() if ln.strip()] if p.returncode == 0 else []
    p = run([sys.executable, "-c",
             "import socket;print(socket.gethostbyname(%r))" % name], check=False,
            ns=ns, timeout=10)
    return p.stdout.split() if p.returncode == 0 and qtype == "A" else []


# --- CA --------------------------------------------------------------------------

def ca_up(top):
    """A test CA and one certificate per host (EC P-256, SAN = the host)."""
    openssl = need_program("openssl", "openssl")
    d = os.path.join(top, "ca")
    os.makedirs(d, exist_ok=True)
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run([openssl, "req", "-x509"] + ec + ["-keyout", ca_key, "-out", ca_crt,
        "-days", "2", "-subj", "/CN=Dovetail two-host test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    owner = ensure_user(MAIL_OWNER)
    for name in HOSTS:
        fqdn = f"{name}.{ZONE}"
        key, csr, crt = (os.path.join(d, f"{name}.{x}") for x in ("key", "csr", "pem"))
        ext = os.path.join(d, f"{name}.ext")
        with open(ext, "w") as f:
            f.write(f"subjectAltName=DNS:{fqdn}\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n")
        run([openssl, "req", "-new"] + ec + ["-keyout", key, "-out", csr,
            "-subj", f"/CN={fqdn}"])
        run([openssl, "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
             "-CAcreateserial", "-days", "2", "-out", crt, "-extfile", ext])
        os.chown(key, 0, owner.pw_gid)
        os.chmod(key, 0o640)
        os.chmod(crt, 0o644)
    os.chmod(ca_crt, 0o644)
    os.chmod(d, 0o755)
    return ca_crt


# --- Dovetail instances -------------------------------------------------------

MASTER_CF = """# two-host test instance {name}: written by tests/twohost/twohost.py
{addr}:25 inet n - n - 4 smtpd
{addr}:587 inet n - n - 2 smtpd
  -o syslog_name=dovetail-test/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_sender_restrictions=reject_sender_login_mismatch
submit unix n - n - 1 smtpd -o smtpd_local_submission=yes
qmgr unix n - n 1 1 qmgr
smtp unix - - n - - smtp
lmtp unix - - n - - smtp
dovetail-lmtp unix - {{vmail}}:{{mail_owner}} n - - lmtpd
auth unix - - n - 1 auth
"""


def host_main_cf(name, inst, acc, ca_dir, lifetime):
    h = HOSTS[name]
    fqdn = f"{name}.{ZONE}"
    m = acc.maps
    return f"""
# two-host test: {fqdn}
myhostname = {fqdn}
mydomain = {fqdn}
myorigin = {fqdn}
mydestination = localhost
inet_interfaces = {h['addr']}
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = sqlite:{m['virtual-mailbox-domains']}
virtual_mailbox_maps = sqlite:{m['virtual-mailbox-maps']}
virtual_alias_maps = sqlite:{m['virtual-alias-maps']}
smtpd_sender_login_maps = sqlite:{m['sender-login-maps']}
mail_location = maildir:{inst.mail}/%d/%n
auth_socket_path =
passdb = sqlite:{m['passdb']}
userdb = static:uid={VMAIL_USER} gid={VMAIL_USER} home={inst.mail}/%d/%n
auth_failure_delay = 0s
smtpd_sasl_path = private/auth
smtpd_tls_cert_file = {ca_dir}/{name}.pem
smtpd_tls_key_file = {ca_dir}/{name}.key
smtpd_tls_security_level = may
smtpd_peername_lookup = yes
smtp_tls_security_level = verify
smtp_tls_CAfile = {ca_dir}/ca.pem
inet_protocols = ipv4
dns_resolver = {DNS_ADDR}
minimal_backoff_time = 2s
maximal_backoff_time = 4s
queue_run_delay = 1s
maximal_queue_lifetime = {lifetime}
bounce_queue_lifetime = {lifetime}
"""


def instance_up(top, name, ca_dir, lifetime="1d", keep=True):
    """Writes, fills (domain, user1) and starts one host's instance."""
    h = HOSTS[name]
    fqdn = f"{name}.{ZONE}"
    ensure_user(AUTH_USER)
    d = os.path.join(top, name)
    os.makedirs(d, exist_ok=True)
    inst = Instance(top=d, master_cf=MASTER_CF.format(name=fqdn, addr=h["addr"]),
                    netns=h["ns"], keep=keep)
    inst.need_daemons("smtpd", "qmgr", "smtp", "lmtpd", "auth", "sendmail")
    acc = inst.accounts()
    inst.main_cf_extra = host_main_cf(name, inst, acc, os.path.join(top, "ca"), lifetime)
    inst.setup()
    inst.dovetail("domain", "add", fqdn, check=True)
    inst.dovetail("user", "add", f"user1@{fqdn}", "-p", PASSWORD, check=True)
    inst.start()
    return inst


class TwoHost:
    """The whole setup; use as a context manager (tears down on exit)."""

    def __init__(self, top=None, keep=False, lifetime="1d", foreground=False):
        """top: the state directory; keep: leave it after down();
        lifetime: maximal_queue_lifetime and bounce_queue_lifetime of both
        hosts; foreground: unbound is this process's child (tests)."""
        self.top = top or STATE_DIR
        self.foreground = foreground
        self.dns_proc = None
        self.keep = keep
        self.lifetime = lifetime
        self.hosts = {}

    def up(self):
        if os.path.exists(self.top):
            shutil.rmtree(self.top)
        os.makedirs(self.top)
        os.chmod(self.top, 0o755)
        net_up()
        self.dns_proc = dns_up(self.top, self.foreground)
        self.ca = ca_up(self.top)
        for name in HOSTS:
            self.hosts[name] = instance_up(self.top, name, os.path.join(self.top, "ca"),
                                           self.lifetime, keep=True)
        return self

    def netem(self, args):
        return netem(args, self.top)

    def down(self):
        if os.path.isdir(self.top):
            netem_off(self.top)
        for name in HOSTS:
            inst = self.hosts.get(name)
            conf = os.path.join(self.top, name, "etc")
            if inst is None and os.path.isdir(conf):
                inst = Instance(top=os.path.join(self.top, name), netns=HOSTS[name]["ns"],
                                keep=True)
                inst.started = True
            if inst is not None:
                inst.stop()
        dns_down(self.top, self.dns_proc)
        self.dns_proc = None
        net_down()
        if not self.keep:
            shutil.rmtree(self.top, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()
        return False


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def status():
    info = {"namespaces": {ns: ns_exists(ns) for ns in namespaces()},
            "state_dir": STATE_DIR if os.path.isdir(STATE_DIR) else None}
    if os.path.isdir(STATE_DIR):
        for name, h in HOSTS.items():
            d = os.path.join(STATE_DIR, name)
            st = read(os.path.join(d, "spool", "pid", "master.status"))
            info[name] = {"address": h["addr"], "namespace": h["ns"],
                          "config": os.path.join(d, "etc"),
                          "log": os.path.join(d, "mail.log"),
                          "maildir_user1": os.path.join(d, "mail", f"{name}.{ZONE}", "user1"),
                          "master": "running" if st else "stopped"}
        info["dns"] = {"address": DNS_ADDR, "namespace": NS_DNS,
                       "log": os.path.join(STATE_DIR, "dns", "unbound.log")}
        info["ca"] = os.path.join(STATE_DIR, "ca", "ca.pem")
    return info


def main(argv):
    if os.geteuid() != 0:
        print("twohost: must run as root (network namespaces)", file=sys.stderr)
        return 1
    cmd = argv[1] if len(argv) > 1 else "status"
    if cmd == "up":
        busy = [ns for ns in namespaces() if ns_exists(ns)]
        if busy:
            print(f"twohost: {', '.join(busy)} exist already: run "
                  "'sh scripts/twohost.sh down' first", file=sys.stderr)
            return 1
        th = TwoHost(keep=True)
        try:
            th.up()
        except Exception:
            th.down()
            raise
        print(json.dumps(status(), indent=2))
        return 0
    if cmd == "down":
        TwoHost(keep=False).down()
        return 0
    if cmd == "status":
        print(json.dumps(status(), indent=2))
        return 0
    if cmd == "netem":
        if not os.path.isdir(STATE_DIR):
            print("twohost: not up", file=sys.stderr)
            return 1
        ok, msg = netem(argv[2:], STATE_DIR)
        print(msg)
        return 0 if ok else 1
    print("usage: twohost.py up|down|status|netem [delay 100ms] [loss 5%]|off",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
