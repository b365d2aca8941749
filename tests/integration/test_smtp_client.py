#!/usr/bin/env python3
"""qmgr + smtp (SMTP mode, master.cf "smtp unix ... smtp") against scripted
SMTP peers (tests/lib/smtp_peer.py) on loopback: 4xx and 5xx at each stage
(greeting, EHLO, MAIL, RCPT, DATA, end of data) become defer or bounce per
recipient; EHLO refused -> HELO; PIPELINING used only when offered; SIZE
over the peer's limit bounces 5.3.4 without MAIL; DSN parameters passed;
STARTTLS used (opportunistic "may"), a peer that sends plaintext after
"220 Ready to start TLS" is not believed; multi-line replies over the limits
are refused (defer). Then with a private unbound serving MX records that
point at peers on 127.0.0.2 and 127.0.0.3: preference order, fall-over to
the second MX, Null MX -> immediate bounce (5.1.10), NXDOMAIN -> bounce,
SERVFAIL -> defer, never bounce. Queue files are injected with the
independent writer (tests/lib/queue_tools.py).
"""
import os
import re
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from dovetail_test import need_program, need_root  # noqa: E402
from instance import Instance, wait_for  # noqa: E402
from queue_tools import inject, wake_qmgr  # noqa: E402
from smtp_peer import SMTPPeer  # noqa: E402
from test_dns import UdpPeer  # noqa: E402
from dnssec_zone import dns_rcode, free_udp_tcp_port  # noqa: E402

FAILURES = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILURES.append(what)
    return cond


def make_cert(d, cn):
    cert, key = os.path.join(d, f"{cn}.crt"), os.path.join(d, f"{cn}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def start_unbound(tmp, port, sf_port, silent_port, zone):
    unbound = need_program("unbound", "unbound")
    lines = ["server:", "  interface: 127.0.0.1", f"  port: {port}",
             "  do-daemonize: no", '  username: ""', '  chroot: ""',
             f'  directory: "{tmp}"', f'  pidfile: "{tmp}/unbound.pid"',
             "  use-syslog: no", '  logfile: ""', "  verbosity: 1", "  do-ip6: no",
             "  do-not-query-localhost: no", "  access-control: 127.0.0.0/8 allow",
             '  module-config: "iterator"', '  local-zone: "test." static',
             '  local-zone: "sf.test." transparent', '  local-zone: "to.test." transparent']
    lines += [f"  local-data: '{rr}'" for rr in zone]
    lines += ["forward-zone:", '  name: "sf.test."', f"  forward-addr: 127.0.0.1@{sf_port}",
              "forward-zone:", '  name: "to.test."', f"  forward-addr: 127.0.0.1@{silent_port}",
              "remote-control:", "  control-enable: no"]
    conf = os.path.join(tmp, "unbound.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    log = open(os.path.join(tmp, "unbound.log"), "w")
    proc = subprocess.Popen([unbound, "-d", "-c", conf], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(150):
        if proc.poll() is not None:
            break
        if dns_rcode(port, "two.test", 15) == 0:
            return proc
    proc.kill()
    raise RuntimeError("unbound did not start")


def result(inst, qid, rcpt, timeout=15):
    """(dsn, status, text) of the smtp log line for rcpt, or None."""
    pat = re.compile(rf"{qid}: to=<{re.escape(rcpt)}>, relay=(\S+), (?:conn_use=\d+, )?delay=\S+, delays=\S+, "
                     rf"dsn=(\S+), status=(\w+) \((.*)\)")
    m = None
    wait_for(lambda: pat.search(inst.log()), timeout)
    m = pat.search(inst.log())
    return (m.group(2), m.group(3), m.group(4), m.group(1)) if m else None


def send(inst, rcpts, content=b"Subject: t\r\n\r\nhello\r\n", attrs=None):
    qid = inject(inst.queue, "", rcpts, content, attrs=attrs)
    wake_qmgr(inst.queue)
    return qid


def stage_tests(inst, peers, tmp):
    # Greeting, EHLO, MAIL, DATA, end of data: 4xx defers, 5xx bounces.
    for stage in ("banner", "ehlo", "mail", "data", "eod"):
        for code, dsn, status in (("421", "4.3.2", "deferred"), ("554", "5.7.1", "bounced")):
            dom = f"{stage}{code[0]}.test"
            qid = send(inst, [f"u@{dom}"])
            r = result(inst, qid, f"u@{dom}")
            check(r is not None and r[0] == dsn and r[1] == status
                  and f"{code} {dsn} {stage} refused" in r[2],
                  f"{code} at {stage} -> {status} ({r})")
    # EHLO 5xx with HELO accepted: delivered.
    p = peers["helo.test"]
    qid = send(inst, ["u@helo.test"])
    r = result(inst, qid, "u@helo.test")
    check(r is not None and r[1] == "sent" and p.transactions
          and p.transactions[-1]["helo"].startswith("HELO "),
          f"EHLO refused -> HELO, delivered ({r})")
    # RCPT: per recipient.
    qid = send(inst, ["ok@rcpt.test", "temp@rcpt.test", "perm@rcpt.test"])
    r1, r2, r3 = (result(inst, qid, a) for a in
                  ("ok@rcpt.test", "temp@rcpt.test", "perm@rcpt.test"))
    check(r1 and r1[1] == "sent" and "250 2.0.0 Ok: queued as TESTQ" in r1[2]
          and re.match(r"127\.0\.0\.1\[127\.0\.0\.1\]:\d+$", r1[3]),
          f"RCPT 250 -> sent, Postfix relay=host[addr]:port ({r1})")
    check(r2 and r2[0] == "4.2.1" and r2[1] == "deferred"
          and "(in reply to RCPT TO command)" in r2[2], f"RCPT 450 -> deferred ({r2})")
    check(r3 and r3[0] == "5.1.1" and r3[1] == "bounced", f"RCPT 550 -> bounced ({r3})")
    p = peers["rcpt.test"]
    check(p.transactions and p.transactions[-1]["rcpts"] == ["ok@rcpt.test"]
          and p.transactions[-1]["pipelined"], "one pipelined transaction for the accepted one")
    check(wait_for(lambda: qid in inst.queue_files("deferred"), 10),
          "the message with a deferred recipient waits in deferred/")

    # No PIPELINING: one command at a time, still delivered; DSN passed.
    p = peers["nopipe.test"]
    content = b"Subject: np\r\n\r\n.dot line\r\nend\r\n"
    qid = inject(inst.queue, "", [("a@nopipe.test", "", "rfc822;orig@nopipe.test", 6)],
                 content, attrs={"envid": "E1", "ret": "HDRS"})
    wake_qmgr(inst.queue)
    r = result(inst, qid, "a@nopipe.test")
    t = p.transactions[-1] if p.transactions else None
    check(r and r[1] == "sent" and t and not t["pipelined"] and t["data"] == content,
          f"without PIPELINING: not pipelined, content byte-exact ({r})")
    check(t and "RET=HDRS" in t["mail"] and "ENVID=E1" in t["mail"],
          f"DSN RET/ENVID on MAIL ({t and t['mail']})")
    rc = [c for c in p.commands if c.startswith("RCPT")]
    check(rc and "NOTIFY=SUCCESS,FAILURE" in rc[-1] and "ORCPT=rfc822;orig@nopipe.test" in rc[-1],
          f"DSN NOTIFY/ORCPT on RCPT ({rc[-1:]})")

    # SIZE: bigger than the peer's limit -> bounce 5.3.4 without MAIL.
    p = peers["size.test"]
    qid = send(inst, ["u@size.test"], b"Subject: big\r\n\r\n" + b"x" * 500 + b"\r\n")
    r = result(inst, qid, "u@size.test")
    check(r and r[0] == "5.3.4" and r[1] == "bounced" and "exceeds size limit 100" in r[2],
          f"message over the peer's SIZE -> bounced 5.3.4 ({r})")
    check(not any(c.startswith("MAIL") for c in p.commands), "and no MAIL was sent")
    qid = send(inst, ["u@size.test"], b"Subject: s\r\n\r\nsmall\r\n")
    r = result(inst, qid, "u@size.test")
    t = p.transactions[-1] if p.transactions else None
    check(r and r[1] == "sent" and t and "SIZE=" in t["mail"], f"a small one is sent with SIZE= ({r})")

    # 8-bit message to a peer without 8BITMIME: sent as is, noted.
    qid = send(inst, ["u@nopipe.test"], "Subject: \u00e9\r\n\r\n\u00e9t\u00e9\r\n".encode(),
               attrs={"body_type": "8BITMIME"})
    r = result(inst, qid, "u@nopipe.test")
    check(r and r[1] == "sent" and inst.wait_log(rf"{qid}: 8-bit message to .* does not announce 8BITMIME", 5),
          f"8-bit to a peer without 8BITMIME: sent without conversion, logged ({r})")

    # STARTTLS (may): used when offered, logged.
    p = peers["tls.test"]
    qid = send(inst, ["u@tls.test"])
    r = result(inst, qid, "u@tls.test")
    check(r and r[1] == "sent" and p.transactions and p.transactions[-1]["tls"],
          f"STARTTLS offered -> the message goes over TLS ({r})")
    check(inst.wait_log(r"(Anonymous|Untrusted) TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: "
                        r"TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)", 5),
          "TLS connection established logged with version and cipher")
    # Plaintext injected after "220 Ready to start TLS": not believed.
    p = peers["inject.test"]
    qid = send(inst, ["u@inject.test"])
    r = result(inst, qid, "u@inject.test")
    check(r and r[1] == "deferred" and "plaintext after the STARTTLS reply" in r[2]
          and not p.transactions and not any(c.startswith("MAIL") for c in p.commands),
          f"plaintext after '220 Ready' -> deferred, nothing sent ({r})")
    # Multi-line reply over the limits (EHLO with 150 lines).
    qid = send(inst, ["u@longreply.test"])
    r = result(inst, qid, "u@longreply.test")
    check(r and r[1] == "deferred" and "malformed reply" in r[2],
          f"a 150-line EHLO reply is refused -> deferred ({r})")
    # relayhost: a domain without a transport_maps entry goes there.
    qid = send(inst, ["u@elsewhere.example"])
    r = result(inst, qid, "u@elsewhere.example")
    p = peers["relay"]
    check(r and r[1] == "sent" and any("u@elsewhere.example" in t["rcpts"] for t in p.transactions),
          f"relayhost = [127.0.0.1]:port receives mail for other domains ({r})")
    # Connection refused -> deferred.
    qid = send(inst, ["u@closed.test"])
    r = result(inst, qid, "u@closed.test")
    check(r and r[1] == "deferred" and r[0] == "4.4.1" and "connect to" in r[2],
          f"connection refused -> deferred 4.4.1 ({r})")


def dns_tests(inst, mx1, mx2):
    # two.test: MX 10 mx1 (127.0.0.2), MX 20 mx2 (127.0.0.3)
    qid = send(inst, ["u@two.test"])
    r = result(inst, qid, "u@two.test")
    check(r and r[1] == "sent" and r[3].startswith("mx1.two.test[127.0.0.2]")
          and len(mx1.transactions) == 1 and not mx2.transactions,
          f"the preferred MX (10) gets the message ({r})")
    # fall.test: MX 10 -> 127.0.0.2 tempfails everything via "down" name,
    # MX 20 -> 127.0.0.3: the second MX is used.
    qid = send(inst, ["u@fall.test"])
    r = result(inst, qid, "u@fall.test")
    check(r and r[1] == "sent" and r[3].startswith("mx2.two.test[127.0.0.3]")
          and len(mx2.transactions) == 1,
          f"4xx from the first MX -> the second MX delivers ({r})")
    check(inst.wait_log(rf"{qid}: host mx1\.two\.test\[127\.0\.0\.2\]:\d+ said: 451", 5),
          "the first MX's refusal is logged")
    qid = send(inst, ["u@nullmx.test"])
    r = result(inst, qid, "u@nullmx.test")
    check(r and r[1] == "bounced" and r[0] == "5.1.10", f"Null MX -> bounced 5.1.10 ({r})")
    qid = send(inst, ["u@nosuch.test"])
    r = result(inst, qid, "u@nosuch.test")
    check(r and r[1] == "bounced" and r[0].startswith("5."), f"NXDOMAIN -> bounced ({r})")
    qid = send(inst, ["u@x.sf.test"])
    r = result(inst, qid, "u@x.sf.test", 40)
    check(r and r[1] == "deferred" and r[0].startswith("4."), f"SERVFAIL -> deferred ({r})")
    # A DNS server that never answers: dns_timeout (5s) -> defer.
    qid = send(inst, ["u@x.to.test"])
    r = result(inst, qid, "u@x.to.test", 40)
    check(r and r[1] == "deferred" and r[0].startswith("4."), f"DNS timeout -> deferred ({r})")
    # A fallback: no MX, an A record.
    qid = send(inst, ["u@amx.test"])
    r = result(inst, qid, "u@amx.test")
    check(r and r[1] == "sent" and r[3].startswith("amx.test[127.0.0.3]"),
          f"no MX -> the domain's A record ({r})")


def verify_tests(inst, tls_peer, plain_peer):
    # Service smtpv: smtp_tls_security_level = verify with the peer's
    # certificate (CN=peer.test) as the CA file.
    n = len(tls_peer.transactions)
    qid = send(inst, ["u@vok.test"])
    r = result(inst, qid, "u@vok.test")
    check(r and r[1] == "sent" and len(tls_peer.transactions) == n + 1
          and tls_peer.transactions[-1]["tls"], f"verify: matching certificate -> sent ({r})")
    check(inst.wait_log(r"Verified TLS connection established to peer\.test\[127\.0\.0\.1\]:\d+: TLSv1", 5),
          "verify: 'Verified TLS connection established' logged")
    qid = send(inst, ["u@vbad.test"])
    r = result(inst, qid, "u@vbad.test")
    check(r and r[1] == "deferred" and "certificate not verified" in r[2]
          and len(tls_peer.transactions) == n + 1,
          f"verify: certificate name mismatch -> deferred, nothing sent ({r})")
    # Service smtpe (encrypt) to a peer without STARTTLS: deferred.
    n = len(plain_peer.transactions)
    qid = send(inst, ["u@enc.test"])
    r = result(inst, qid, "u@enc.test")
    check(r and r[1] == "deferred" and "TLS is required, but was not offered" in r[2]
          and len(plain_peer.transactions) == n,
          f"encrypt: no STARTTLS -> deferred, no plaintext fallback ({r})")


def dane_test(tls_peer):
    """smtp_tls_security_level = dane without dns_trust_anchor_file: a clear
    warning and opportunistic TLS, as Postfix downgrades "dane" without
    DNSSEC (DANE itself: test_smtp_dane.py)."""
    inst = Instance(services=("qmgr",), queue_run_delay=1,
                    master_cf_extra="smtp unix - - n - - smtp\n")
    inst.main_cf_extra = ("default_transport = smtp\nsmtp_tls_security_level = dane\n"
                          f"relayhost = [127.0.0.1]:{tls_peer.port}\n")
    n = len(tls_peer.transactions)
    with inst:
        inst.setup()
        try:
            inst.start(timeout=10)
        except RuntimeError:
            pass
        qid = inject(inst.queue, "", ["u@dane.test"], b"Subject: d\r\n\r\nx\r\n")
        try:
            wake_qmgr(inst.queue)
        except OSError:
            pass
        check(inst.wait_log(r"smtp_tls_security_level = dane requires dns_trust_anchor_file", 15),
              "smtp_tls_security_level = dane without a trust anchor is warned about")
        r = result(inst, qid, "u@dane.test")
        check(r and r[1] == "sent" and len(tls_peer.transactions) == n + 1
              and tls_peer.transactions[-1]["tls"],
              f"and mail goes out with opportunistic TLS ({r})")


def main():
    need_root()
    need_program("openssl", "openssl")
    tmp = tempfile.mkdtemp(prefix="dovetail-smtpc-")
    cert = make_cert(tmp, "peer.test")
    long_ehlo = "\r\n".join([f"250-line {i}" for i in range(150)] + ["250 end"])
    specs = {
        "helo.test": dict(replies={"ehlo": "502 5.5.2 no EHLO here"}),
        "rcpt.test": dict(replies={("rcpt", "temp@rcpt.test"): "450 4.2.1 try later",
                                   ("rcpt", "perm@rcpt.test"): "550 5.1.1 no such user"}),
        "nopipe.test": dict(ext=("DSN",)),
        "relay": dict(name="relay.test"),
        "size.test": dict(ext=("PIPELINING", "SIZE 100")),
        "tls.test": dict(tls=cert),
        "inject.test": dict(tls=cert, inject="250 2.0.0 injected\r\n"),
        "longreply.test": dict(replies={"ehlo": long_ehlo}),
    }
    for stage in ("banner", "ehlo", "mail", "data", "eod"):
        specs[f"{stage}4.test"] = dict(replies={stage: f"421 4.3.2 {stage} refused"})
        specs[f"{stage}5.test"] = dict(replies={stage: f"554 5.7.1 {stage} refused"})
    # EHLO 5xx makes the client try HELO: refuse that too.
    specs["ehlo5.test"]["replies"]["helo"] = "554 5.7.1 ehlo refused"
    peers = {d: SMTPPeer(**kw) for d, kw in specs.items()}
    # A port nobody listens on: bound, never listening, closed.
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    tmap = os.path.join(tmp, "transport")
    with open(tmap, "w") as f:
        for d, p in peers.items():
            f.write(f"{d} smtp:[127.0.0.1]:{p.port}\n")
        f.write(f"closed.test smtp:[127.0.0.1]:{closed_port}\n")

    # DNS: two MX peers on 127.0.0.2 / 127.0.0.3, same port.
    mx1 = SMTPPeer("127.0.0.2", 0, name="mx1.two.test",
                   replies={("rcpt", "u@fall.test"): "451 4.3.0 busy"})
    mx2 = SMTPPeer("127.0.0.3", mx1.port, name="mx2.two.test")
    dns_port = free_udp_tcp_port()
    sf = UdpPeer(servfail=True)
    silent = UdpPeer(servfail=False)
    zone = ["two.test. 60 IN MX 10 mx1.two.test.", "two.test. 60 IN MX 20 mx2.two.test.",
            "mx1.two.test. 60 IN A 127.0.0.2", "mx2.two.test. 60 IN A 127.0.0.3",
            "fall.test. 60 IN MX 10 mx1.two.test.", "fall.test. 60 IN MX 20 mx2.two.test.",
            "nullmx.test. 60 IN MX 0 .", "amx.test. 60 IN A 127.0.0.3",
            "vok.test. 60 IN MX 10 peer.test.", "peer.test. 60 IN A 127.0.0.1",
            "vbad.test. 60 IN MX 10 wrongname.test.", "wrongname.test. 60 IN A 127.0.0.1"]
    unbound = start_unbound(tmp, dns_port, sf.port, silent.port, zone)
    with open(tmap, "a") as f:
        for d in ("two.test", "fall.test", "nullmx.test", "nosuch.test", "x.sf.test", "amx.test", "x.to.test"):
            f.write(f"{d} smtp:{d}:{mx1.port}\n")
        f.write(f"vok.test smtpv:vok.test:{peers['tls.test'].port}\n")
        f.write(f"vbad.test smtpv:vbad.test:{peers['tls.test'].port}\n")
        f.write(f"enc.test smtpe:[127.0.0.1]:{peers['nopipe.test'].port}\n")
    os.chmod(tmap, 0o644)
    os.chmod(tmp, 0o755)

    inst = Instance(services=("qmgr",), queue_run_delay=1,
                    master_cf_extra="smtp unix - - n - - smtp\n"
                    "smtpv unix - - n - - smtp -o smtp_tls_security_level=verify"
                    f" -o smtp_tls_CAfile={cert[0]}\n"
                    "smtpe unix - - n - - smtp -o smtp_tls_security_level=encrypt smtp\n")
    inst.need_daemons("qmgr", "smtp")
    inst.main_cf_extra = f"""
default_transport = smtp
transport_maps = texthash:{tmap}
relayhost = [127.0.0.1]:{peers["relay"].port}
minimal_backoff_time = 300s
maximal_backoff_time = 600s
smtp_helo_name = client.test
smtp_tls_security_level = may
dns_resolver = 127.0.0.1@{dns_port}
dns_timeout = 5s
inet_protocols = ipv4
"""
    try:
        with inst:
            inst.setup()
            inst.start()
            stage_tests(inst, peers, tmp)
            dns_tests(inst, mx1, mx2)
            verify_tests(inst, peers["tls.test"], peers["nopipe.test"])
            if FAILURES:
                print("--- mail.log ---\n" + inst.log()[-30000:])
        dane_test(peers["tls.test"])
    finally:
        unbound.kill()
        unbound.wait()
        sf.close()
        silent.close()
        for p in list(peers.values()) + [mx1, mx2]:
            p.stop()
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print("all smtp client checks passed")


if __name__ == "__main__":
    main()
