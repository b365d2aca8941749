"""DNS for the smtp client: lib/mail/dns.c and dns_mx.c through tests/dns_tool.

Starts Debian's unbound on 127.0.0.1:<free port> in a temporary directory,
serving a static "test." zone (local-data), plus two tiny UDP peers written
here: one that answers every query with SERVFAIL, one that never answers.
The "sf.test." subzone is forwarded by unbound to the SERVFAIL peer, so an
MX host can fail temporarily while others resolve. Checks:
  - several MX: preference order, random order among equal preferences
    over many runs, IPv4 before IPv6 per host (or IPv6 first), -4 only,
    the address limit;
  - Null MX (RFC 7505) -> bounce 5.1.10; NXDOMAIN -> bounce 5.4.4;
    no MX -> the domain's A/AAAA as implicit MX (preference 0);
  - SERVFAIL and timeout from the resolver -> defer 4.4.3, never bounce;
    an MX host that SERVFAILs beside a good one -> the good one is used;
    only SERVFAILing hosts -> defer;
  - MX to a CNAME is followed; MX to an address literal is skipped (as in
    Postfix); MX hosts with no address at all -> bounce;
  - "found myself": hosts at and after our own preference are dropped;
  - TXT (several strings joined), PTR, TLSA lookups; NODATA;
  - DNSSEC: with a trust anchor file, answers from a zone signed here with
    ldns-signzone (served by unbound's auth-zone) are "secure" (MX, TLSA,
    NXDOMAIN, NODATA, the MX result's addresses); a zone whose anchor does
    not match is "bogus" and defers; without an anchor nothing is secure;
  - a bad resolver address, an unreadable resolv.conf or trust anchor
    file is refused when the resolver is created;
  - cancelled lookups never call back (answer arriving late, or timeout).
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from dovetail_test import BUILD_DIR, need_program  # noqa: E402
from dnssec_zone import (Unbound, free_udp_tcp_port, other_ksk,  # noqa: E402
                         sign_zone)

TOOL = os.path.join(BUILD_DIR, "tests", "dns_tool")
TLSA_HEX = "0123456789abcdef" * 4
failures = []


def check(cond, what):
    if cond:
        print(f"ok: {what}")
    else:
        print(f"FAIL: {what}")
        failures.append(what)


class UdpPeer:
    """A test DNS peer: answers SERVFAIL (servfail=True) or stays silent."""

    def __init__(self, servfail):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.servfail = servfail
        self.queries = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            if not self.servfail or len(data) < 12:
                continue
            # Echo the question (up to the end of QNAME + type + class),
            # set QR and RA, keep RD, rcode 2.
            qid, flags = struct.unpack(">HH", data[:4])
            pos = 12
            while pos < len(data) and data[pos] != 0:
                pos += 1 + data[pos]
            question = data[12:pos + 5]
            flags = 0x8000 | (flags & 0x0100) | 0x0080 | 2
            reply = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 0) + question
            try:
                self.sock.sendto(reply, addr)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


ZONE = [
    # several MX, two of equal preference
    "multi.test. MX 10 mx1.multi.test.",
    "multi.test. MX 10 mx2.multi.test.",
    "multi.test. MX 20 mx3.multi.test.",
    "mx1.multi.test. A 192.0.2.1",
    "mx2.multi.test. A 192.0.2.2",
    "mx3.multi.test. A 192.0.2.3",
    "mx3.multi.test. AAAA 2001:db8::3",
    # Null MX
    "nullmx.test. MX 0 .",
    # no MX: A and AAAA of the domain itself
    "amx.test. A 192.0.2.40",
    "amx.test. AAAA 2001:db8::40",
    "amx.test. TXT \"no mx here\"",
    # MX to a CNAME
    "cname.test. MX 10 alias.cname.test.",
    "alias.cname.test. CNAME real.cname.test.",
    "real.cname.test. A 192.0.2.30",
    # MX to an address literal (beside a good host, and alone)
    "iplit.test. MX 10 192.0.2.55.",
    "iplit.test. MX 20 mx1.multi.test.",
    "onlyiplit.test. MX 10 192.0.2.55.",
    # MX host that does not exist
    "noaddr.test. MX 10 nohost.noaddr.test.",
    # MX hosts whose lookups SERVFAIL (sf.test is forwarded to the peer)
    "halfsf.test. MX 10 mx.sf.test.",
    "halfsf.test. MX 20 mx1.multi.test.",
    "allsf.test. MX 10 mx.sf.test.",
    # TXT with two strings, TLSA
    "txt.test. TXT \"v=spf1 \" \"-all\"",
    f"_25._tcp.mx1.multi.test. TLSA 3 1 1 {TLSA_HEX}",
]
PTRS = ["192.0.2.1 mx1.multi.test"]


SIGNED_ZONE = """$ORIGIN {z}.
$TTL 300
@ IN SOA ns.{z}. hostmaster.{z}. 1 3600 600 86400 300
@ IN NS ns.{z}.
ns IN A 192.0.2.53
@ IN MX 10 mx.{z}.
mx IN A 192.0.2.80
_25._tcp.mx IN TLSA 3 1 1 {tlsa}
"""


def make_signed_zones(tmp):
    """Signs dnssec.test and bogus.test; returns the trust anchor file,
    which holds dnssec.test's real KSK and an unrelated key for
    bogus.test (so bogus.test validates as bogus)."""
    anchors = []
    for z in ("dnssec.test", "bogus.test"):
        ksk = sign_zone(tmp, z, SIGNED_ZONE.format(z=z, tlsa=TLSA_HEX))
        anchors.append(other_ksk(tmp, z) if z == "bogus.test" else ksk)
    ta = os.path.join(tmp, "trust-anchors")
    with open(ta, "w") as f:
        f.writelines(anchors)
    return ta


def start_unbound(tmp, port, sf_port):
    """unbound with ZONE and PTRS, the signed zones, and sf.test forwarded
    to the SERVFAIL peer."""
    return Unbound(tmp, port, local_data=ZONE,
                   auth_zones=("dnssec.test", "bogus.test"),
                   probe="multi.test",
                   server_extra=['  local-zone: "sf.test." transparent'] +
                   [f'  local-data-ptr: "{p}"' for p in PTRS],
                   tail=["forward-zone:", '  name: "sf.test."',
                         f"  forward-addr: 127.0.0.1@{sf_port}"])


def tool(resolver, *args, timeout_ms=5000):
    cmd = [TOOL, "-r", resolver, "-t", str(timeout_ms)] + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        print(f"dns_tool {' '.join(args)}: rc={out.returncode}\n"
              f"{out.stdout}{out.stderr}")
    return out.stdout


def parse_mx(text):
    """List of dicts: status, dsn, implicit, addrs [(pref, host, addr)]."""
    runs = []
    for line in text.splitlines():
        if line.startswith("mx "):
            f = dict(kv.split("=", 1) for kv in line.split()[1:])
            runs.append({"status": f["status"], "dsn": f["dsn"],
                         "implicit": f["implicit"] == "1", "addrs": [],
                         "mx_secure": f["mx_secure"] == "1",
                         "secure": [], "error": ""})
        elif line.startswith("addr "):
            _, pref, host, addr, secure = line.split()
            runs[-1]["addrs"].append((int(pref), host, addr))
            runs[-1]["secure"].append(secure == "secure=1")
        elif line.startswith("error="):
            runs[-1]["error"] = line[6:]
    return runs


def parse_lookup(text):
    lines = text.splitlines()
    if not lines or not lines[0].startswith("status="):
        return {"status": None, "records": [], "raw": text}
    head = lines[0]
    status = head.split(" rcode=")[0][len("status="):]
    return {"status": status, "records": [x for x in lines[1:]
                                          if not x.startswith("error=")],
            "error": "".join(x[6:] for x in lines if x.startswith("error=")),
            "raw": text}


def test_multi_mx(r):
    runs = parse_mx(tool(r, "mx", "multi.test", "60"))
    check(len(runs) == 60 and all(x["status"] == "ok" for x in runs),
          "multi.test resolves 60 times")
    firsts = set()
    ordered = True
    for x in runs:
        prefs = [a[0] for a in x["addrs"]]
        hosts = [a[1] for a in x["addrs"]]
        if prefs != sorted(prefs) or len(hosts) != 4:
            ordered = False
            continue
        if set(hosts[:2]) != {"mx1.multi.test", "mx2.multi.test"} or \
                hosts[2:] != ["mx3.multi.test", "mx3.multi.test"]:
            ordered = False
        if [a[2] for a in x["addrs"][2:]] != ["192.0.2.3", "2001:db8::3"]:
            ordered = False
        firsts.add(hosts[0])
    check(ordered, "addresses in preference order, IPv4 before IPv6 per host")
    check(firsts == {"mx1.multi.test", "mx2.multi.test"},
          f"equal preferences come in random order (firsts: {firsts})")
    x = parse_mx(tool(r, "-o6", "mx", "multi.test"))[0]
    check([a[2] for a in x["addrs"][2:]] == ["2001:db8::3", "192.0.2.3"],
          "-o6 puts IPv6 first")
    x = parse_mx(tool(r, "-4", "mx", "multi.test"))[0]
    check(len(x["addrs"]) == 3 and all(":" not in a[2] for a in x["addrs"]),
          "IPv4 only: no AAAA addresses")
    x = parse_mx(tool(r, "-m", "2", "mx", "multi.test"))[0]
    check(len(x["addrs"]) == 2 and x["status"] == "ok",
          "address limit honoured")
    x = parse_mx(tool(r, "-H", "mx3.multi.test", "mx", "multi.test"))[0]
    check(x["status"] == "ok" and
          {a[1] for a in x["addrs"]} == {"mx1.multi.test", "mx2.multi.test"},
          "found myself at preference 20: only preference 10 kept")
    x = parse_mx(tool(r, "-H", "MX2.multi.test", "mx", "multi.test"))[0]
    check(x["status"] == "bounced" and x["dsn"] == "5.4.6" and
          "loops back to myself" in x["error"],
          "found myself at best preference: mail loops back (5.4.6)")


def test_mx_outcomes(r):
    x = parse_mx(tool(r, "mx", "nullmx.test"))[0]
    check(x["status"] == "bounced" and x["dsn"] == "5.1.10" and
          "does not accept mail" in x["error"],
          f"Null MX bounces: {x['error']}")
    x = parse_mx(tool(r, "mx", "nope.test"))[0]
    check(x["status"] == "bounced" and x["dsn"] == "5.4.4" and
          "type=MX: Host not found" in x["error"],
          f"NXDOMAIN bounces: {x['error']}")
    x = parse_mx(tool(r, "mx", "amx.test"))[0]
    check(x["status"] == "ok" and x["implicit"] and
          x["addrs"] == [(0, "amx.test", "192.0.2.40"),
                         (0, "amx.test", "2001:db8::40")],
          f"no MX: A/AAAA fallback {x['addrs']}")
    x = parse_mx(tool(r, "mx", "cname.test"))[0]
    check(x["status"] == "ok" and
          x["addrs"] == [(10, "alias.cname.test", "192.0.2.30")],
          f"MX to a CNAME is followed {x['addrs']}")
    x = parse_mx(tool(r, "mx", "iplit.test"))[0]
    check(x["status"] == "ok" and
          x["addrs"] == [(20, "mx1.multi.test", "192.0.2.1")],
          f"MX to an address literal is skipped {x['addrs']}")
    x = parse_mx(tool(r, "mx", "onlyiplit.test"))[0]
    check(x["status"] == "bounced" and x["dsn"] == "5.4.4" and
          "192.0.2.55" in x["error"],
          f"only an address-literal MX: bounce {x['error']}")
    x = parse_mx(tool(r, "mx", "noaddr.test"))[0]
    check(x["status"] == "bounced" and x["dsn"] == "5.4.4" and
          "nohost.noaddr.test" in x["error"],
          f"MX host without address: bounce {x['error']}")
    x = parse_mx(tool(r, "mx", "halfsf.test"))[0]
    check(x["status"] == "ok" and
          x["addrs"] == [(20, "mx1.multi.test", "192.0.2.1")],
          f"SERVFAILing MX host skipped, good one used {x['addrs']}")
    x = parse_mx(tool(r, "mx", "allsf.test"))[0]
    check(x["status"] == "deferred" and x["dsn"] == "4.4.3",
          f"only SERVFAILing MX hosts: defer {x['error']}")


def test_lookups(r):
    x = parse_lookup(tool(r, "lookup", "TXT", "txt.test"))
    check(x["status"] == "found" and x["records"] == ["TXT 2 v=spf1\\032-all"],
          f"TXT strings joined {x['records']}")
    rev = subprocess.run([TOOL, "reverse", "192.0.2.1"], capture_output=True,
                         text=True).stdout.strip()
    check(rev == "1.2.0.192.in-addr.arpa", f"reverse name {rev}")
    rev6 = subprocess.run([TOOL, "reverse", "2001:db8::3"],
                          capture_output=True, text=True).stdout.strip()
    check(rev6 == "3.0.0.0" + ".0.0.0.0" * 5 + ".8.b.d.0.1.0.0.2.ip6.arpa",
          f"IPv6 reverse name {rev6}")
    x = parse_lookup(tool(r, "lookup", "PTR", rev))
    check(x["status"] == "found" and x["records"] == ["PTR mx1.multi.test"],
          f"PTR {x['records']}")
    x = parse_lookup(tool(r, "lookup", "TLSA", "_25._tcp.mx1.multi.test"))
    check(x["status"] == "found" and
          x["records"] == [f"TLSA 3 1 1 {TLSA_HEX}"], f"TLSA {x['records']}")
    x = parse_lookup(tool(r, "lookup", "AAAA", "mx1.multi.test"))
    check(x["status"] == "NODATA", f"NODATA for a missing type {x['raw']}")
    x = parse_lookup(tool(r, "lookup", "A", "nope.test"))
    check(x["status"] == "NXDOMAIN", f"NXDOMAIN {x['raw']}")
    x = parse_lookup(tool(r, "lookup", "MX", "multi.test"))
    check(x["status"] == "found" and sorted(x["records"]) == [
        "MX 10 mx1.multi.test", "MX 10 mx2.multi.test",
        "MX 20 mx3.multi.test"], f"MX records {x['records']}")


def test_dnssec(r, ta):
    def look(*args):
        return parse_lookup(tool(r, "-T", ta, "lookup", *args))
    x = look("MX", "dnssec.test")
    check(x["status"] == "found" and "secure=1" in x["raw"] and
          x["records"] == ["MX 10 mx.dnssec.test"],
          f"signed zone: MX is secure {x['raw']}")
    x = look("TLSA", "_25._tcp.mx.dnssec.test")
    check(x["status"] == "found" and "secure=1" in x["raw"] and
          x["records"] == [f"TLSA 3 1 1 {TLSA_HEX}"],
          "signed zone: TLSA is secure")
    x = look("A", "nothere.dnssec.test")
    check(x["status"] == "NXDOMAIN" and "secure=1" in x["raw"],
          f"signed zone: proven NXDOMAIN {x['raw']}")
    x = look("AAAA", "mx.dnssec.test")
    check(x["status"] == "NODATA" and "secure=1" in x["raw"],
          f"signed zone: proven NODATA {x['raw']}")
    x = look("MX", "multi.test")
    check(x["status"] == "found" and "secure=0 bogus=0" in x["raw"],
          "unsigned zone outside the anchors: found, not secure")
    x = look("MX", "bogus.test")
    check(x["status"] == "temporary failure" and "bogus=1" in x["raw"] and
          "DNSSEC" in x["error"],
          f"anchor mismatch: bogus, temporary {x['error']}")
    x = parse_mx(tool(r, "-T", ta, "mx", "dnssec.test"))[0]
    check(x["status"] == "ok" and x["mx_secure"] and x["secure"] == [True]
          and x["addrs"] == [(10, "mx.dnssec.test", "192.0.2.80")],
          f"MX result carries the DNSSEC status {x}")
    x = parse_mx(tool(r, "-T", ta, "mx", "bogus.test"))[0]
    check(x["status"] == "deferred" and x["dsn"] == "4.4.3",
          "bogus MX: deferred, never bounced")
    x = parse_lookup(tool(r, "lookup", "MX", "dnssec.test"))
    check(x["status"] == "found" and "secure=0" in x["raw"],
          "without a trust anchor nothing is secure")


def test_bad_settings(tmp):
    out = subprocess.run([TOOL, "-r", "not an address", "lookup", "A",
                          "x.test"], capture_output=True, text=True)
    check(out.returncode != 0 and "resolver failed" in out.stdout,
          f"bad resolver address refused: {out.stdout.strip()}")
    out = subprocess.run([TOOL, "-C", os.path.join(tmp, "nonexistent"),
                          "lookup", "A", "x.test"],
                         capture_output=True, text=True)
    check(out.returncode != 0 and "resolver failed" in out.stdout,
          f"unreadable resolv.conf refused: {out.stdout.strip()}")
    out = subprocess.run([TOOL, "-r", "127.0.0.1", "-T",
                          os.path.join(tmp, "nonexistent"), "lookup", "A",
                          "x.test"], capture_output=True, text=True)
    check(out.returncode != 0 and "dns_trust_anchor_file" in out.stdout,
          f"unreadable trust anchor file refused: {out.stdout.strip()}")


def test_cancel(r, silent_port):
    """Cancelled lookups never call back, also when their answer arrives
    after the cancel (fast server) or their timeout would fire (silent
    server); the resolver frees a pending lookup."""
    for resolver, what in ((r, "answering server"),
                           (f"127.0.0.1@{silent_port}", "silent server")):
        out = subprocess.run([TOOL, "-r", resolver, "-t", "500", "cancel",
                              "multi.test", "1500"], capture_output=True,
                             text=True, timeout=30)
        check(out.returncode == 0 and out.stdout.strip() == "cancel done",
              f"cancel with {what}: no callback "
              f"(rc={out.returncode} {out.stdout.strip()!r} "
              f"{out.stderr.strip()[:300]!r})")


def test_servfail(port):
    r = f"127.0.0.1@{port}"
    x = parse_lookup(tool(r, "lookup", "A", "mail.example.test"))
    check(x["status"] == "temporary failure",
          f"SERVFAIL resolver: A lookup temporary {x['raw']}")
    x = parse_mx(tool(r, "mx", "example.test"))[0]
    check(x["status"] == "deferred" and x["dsn"] == "4.4.3",
          f"SERVFAIL resolver: MX deferred, not bounced {x['error']}")


def test_timeout(port):
    r = f"127.0.0.1@{port}"
    t0 = time.time()
    out = tool(r, "mx", "example.test", timeout_ms=1500)
    took = time.time() - t0
    x = parse_mx(out)[0]
    check(x["status"] == "deferred" and x["dsn"] == "4.4.3" and
          "timeout" in x["error"],
          f"silent resolver: MX deferred after timeout {x['error']}")
    check(took < 8, f"timeout honoured ({took:.1f}s)")
    x = parse_lookup(tool(r, "lookup", "TXT", "example.test",
                          timeout_ms=1000))
    check(x["status"] == "temporary failure" and x["error"] == "timeout",
          f"silent resolver: TXT lookup times out {x['raw']}")


def main():
    if not os.access(TOOL, os.X_OK):
        print(f"FAIL: {TOOL} not built")
        return 1
    need_program("unbound", "unbound")
    servfail = UdpPeer(servfail=True)
    silent = UdpPeer(servfail=False)
    proc = None
    with tempfile.TemporaryDirectory(prefix="dovetail-dns-") as tmp:
        try:
            port = free_udp_tcp_port()
            ta = make_signed_zones(tmp)
            proc = start_unbound(tmp, port, servfail.port)
            r = f"127.0.0.1@{port}"
            test_multi_mx(r)
            test_mx_outcomes(r)
            test_lookups(r)
            test_dnssec(r, ta)
            test_bad_settings(tmp)
            test_servfail(servfail.port)
            check(servfail.queries > 0, "the SERVFAIL peer was asked")
            test_timeout(silent.port)
            test_cancel(r, silent.port)
            check(silent.queries > 0, "the silent peer was asked")
        finally:
            if proc is not None:
                proc.stop()
            servfail.close()
            silent.close()
    passed = "passed" if not failures else "failed"
    print(f"test_dns: {passed} ({len(failures)} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
