"""DNSSEC test zones and a private unbound serving them.

sign_zone(tmp, name, text) writes tmp/<name>.zone, signs it with
ldns-keygen/ldns-signzone (ECDSA P-256: a KSK and a ZSK) and returns the
KSK's DNSKEY line for a trust anchor file (tmp/<name>.zone.signed is what
unbound serves). Unbound(tmp, port, local_data=[...], auth_zones=[...])
starts Debian's unbound on 127.0.0.1:port: unsigned records as local-data
under a static "test." zone, every signed zone as an auth-zone (the
validation happens in the client, which holds the trust anchor),
server_extra and tail add configuration lines (local-zone, forward-zone).
other_ksk(tmp, name) makes a key the zone was not signed with (a trust
anchor that makes the zone bogus). Used by test_dns.py and
test_smtp_dane.py.
"""
import os
import socket
import struct
import subprocess
import time

from dovetail_test import need_program


def sign_zone(tmp, name, text):
    keygen = need_program("ldns-keygen", "ldnsutils")
    signzone = need_program("ldns-signzone", "ldnsutils")

    def run(*args):
        return subprocess.run(args, cwd=tmp, check=True, capture_output=True,
                              text=True).stdout.strip()
    with open(os.path.join(tmp, name + ".zone"), "w") as f:
        f.write(text)
    ksk = run(keygen, "-a", "ECDSAP256SHA256", "-k", name)
    zsk = run(keygen, "-a", "ECDSAP256SHA256", name)
    run(signzone, "-n", name + ".zone", ksk, zsk)
    with open(os.path.join(tmp, ksk + ".key")) as f:
        return "".join(x for x in f if "DNSKEY" in x)


def other_ksk(tmp, name):
    """The DNSKEY line of a fresh KSK for name that signed nothing."""
    keygen = need_program("ldns-keygen", "ldnsutils")
    ksk = subprocess.run([keygen, "-a", "ECDSAP256SHA256", "-k", name],
                         cwd=tmp, check=True, capture_output=True,
                         text=True).stdout.strip()
    with open(os.path.join(tmp, ksk + ".key")) as f:
        return "".join(x for x in f if "DNSKEY" in x)


def free_udp_tcp_port():
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            t.close()
            u.close()
        return port
    raise RuntimeError("no free port")


def dns_rcode(port, name, qtype, timeout=0.3):
    """One UDP query; the rcode, or None without an answer."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    pkt = struct.pack(">HHHHHH", 0x4243, 0x0100, 1, 0, 0, 0) + qname + \
        b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(pkt, ("127.0.0.1", port))
        return s.recv(4096)[3] & 0x0f
    except OSError:
        return None
    finally:
        s.close()


class Unbound:
    def __init__(self, tmp, port, local_data=(), auth_zones=(), probe=None,
                 server_extra=(), tail=()):
        unbound = need_program("unbound", "unbound")
        self.port = port
        lines = ["server:", "  interface: 127.0.0.1", f"  port: {port}",
                 "  do-daemonize: no", '  username: ""', '  chroot: ""',
                 f'  directory: "{tmp}"', f'  pidfile: "{tmp}/unbound.pid"',
                 "  use-syslog: no", '  logfile: ""', "  verbosity: 1",
                 "  do-ip6: no", "  do-not-query-localhost: no",
                 "  access-control: 127.0.0.0/8 allow",
                 '  module-config: "iterator"', '  local-zone: "test." static']
        lines += [f'  local-zone: "{z}." transparent' for z in auth_zones]
        lines += [f"  local-data: '{rr}'" for rr in local_data]
        lines += list(server_extra)
        for z in auth_zones:
            lines += ["auth-zone:", f'  name: "{z}."',
                      f'  zonefile: "{tmp}/{z}.zone.signed"',
                      "  for-downstream: yes", "  for-upstream: yes",
                      "  fallback-enabled: no"]
        lines += list(tail)
        lines += ["remote-control:", "  control-enable: no"]
        conf = os.path.join(tmp, "unbound.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.logfile = os.path.join(tmp, "unbound.log")
        with open(self.logfile, "w") as log:
            self.proc = subprocess.Popen([unbound, "-d", "-c", conf],
                                         stdout=log, stderr=subprocess.STDOUT)
        probe = probe or (auth_zones[0] if auth_zones else "test")
        deadline = time.time() + 15
        while time.time() < deadline and self.proc.poll() is None:
            if dns_rcode(port, probe, 6) == 0:
                return
            time.sleep(0.1)
        self.stop()
        with open(self.logfile) as f:
            print(f.read())
        raise RuntimeError("unbound did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
