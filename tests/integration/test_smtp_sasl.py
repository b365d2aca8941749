#!/usr/bin/env python3
"""The smtp client's SASL login (smtp/smtp_sasl.c, libsasl2) against
scripted SMTP peers (tests/lib/smtp_peer.py) that offer AUTH and check the
credentials themselves: AUTH PLAIN sends exactly "\\0user\\0password" (a
password holding ':' intact), AUTH LOGIN answers the 334 dialogue, both
over STARTTLS with the default security options; a plaintext mechanism is
not used without TLS under the default "noplaintext" (deferred 4.7.0, no
AUTH sent) but is with smtp_sasl_security_options = noanonymous; 535 from
the first MX defers that host and the second MX (found through the next
hop's key, after the host key of the first) delivers; 535 from the only
host defers 4.7.8 with Postfix's "SASL authentication failed; server X
said: 535 ..." (smtp_sasl_auth_soft_bounce); a server without AUTH gets
the mail without a login (Postfix); no password for the next hop -> no
AUTH sent; smtp_sasl_mechanism_filter leaving nothing -> deferred 4.7.0.
The password never appears in the log.
"""
import base64
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from dovetail_test import need_program, need_root  # noqa: E402
from instance import AUTH_USER, MAIL_OWNER, Instance, ensure_user, free_port, mail_suite, wait_for  # noqa: E402
from queue_tools import inject, wake_qmgr  # noqa: E402
from smtp_peer import SMTPPeer  # noqa: E402
from test_dns import UdpPeer  # noqa: E402
from dnssec_zone import free_udp_tcp_port  # noqa: E402
from test_smtp_client import make_cert, start_unbound  # noqa: E402

FAILURES = []
PASSWORD = "s3cr:et-pw"  # holds ':' on purpose: only the first splits


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILURES.append(what)
    return cond


class AuthServer:
    """The server side of AUTH PLAIN / LOGIN for one peer: records what the
    client sent (decoded) and accepts only user/password."""

    def __init__(self, user, password, always_fail=False):
        self.user, self.password = user.encode(), password.encode()
        self.always_fail = always_fail
        self.seen = []  # (mech, decoded credentials, over TLS)

    def _ok(self, sess, ok):
        if ok and not self.always_fail:
            sess.send("235 2.7.0 Authentication successful\r\n")
        else:
            sess.send("535 5.7.8 Error: authentication failed: bad credentials\r\n")

    def __call__(self, sess, line):
        parts = line.split()
        mech = parts[1].upper() if len(parts) > 1 else ""
        if mech == "PLAIN":
            if len(parts) > 2:
                resp = parts[2]
            else:
                sess.send("334 \r\n")
                resp = sess.readline().decode()
            try:
                dec = base64.b64decode(resp, validate=True)
            except ValueError:
                sess.send("501 5.5.2 bad base64\r\n")
                return
            self.seen.append(("PLAIN", dec, sess.is_tls))
            fields = dec.split(b"\0")
            self._ok(sess, len(fields) == 3 and fields[1] == self.user
                     and fields[2] == self.password and fields[0] in (b"", self.user))
        elif mech == "LOGIN":
            if len(parts) > 2:
                user = base64.b64decode(parts[2])
            else:
                sess.send("334 VXNlcm5hbWU6\r\n")
                user = base64.b64decode(sess.readline())
            sess.send("334 UGFzc3dvcmQ6\r\n")
            pw = base64.b64decode(sess.readline())
            self.seen.append(("LOGIN", (user, pw), sess.is_tls))
            self._ok(sess, user == self.user and pw == self.password)
        else:
            sess.send("504 5.5.4 unrecognized authentication type\r\n")


def result(inst, qid, rcpt, timeout=20):
    pat = re.compile(rf"{qid}: to=<{re.escape(rcpt)}>, relay=(\S+), (?:conn_use=\d+, )?delay=\S+, delays=\S+, "
                     rf"dsn=(\S+), status=(\w+) \((.*)\)")
    wait_for(lambda: pat.search(inst.log()), timeout)
    m = pat.search(inst.log())
    return (m.group(2), m.group(3), m.group(4), m.group(1)) if m else None


def send(inst, rcpt):
    qid = inject(inst.queue, "sender@client.test", [rcpt], b"Subject: sasl\r\n\r\nhello\r\n")
    wake_qmgr(inst.queue)
    return qid


def auth_before_mail(peer):
    cmds = [c.split(" ", 1)[0].upper() for c in peer.commands]
    return "AUTH" in cmds and "MAIL" in cmds and cmds.index("AUTH") < cmds.index("MAIL")


def main():
    need_root()
    need_program("openssl", "openssl")
    tmp = tempfile.mkdtemp(prefix="dovetail-sasl-")
    cert = make_cert(tmp, "relay.test")
    ext = ("PIPELINING", "8BITMIME", "AUTH PLAIN LOGIN")
    auths = {
        "plain": AuthServer("user1", PASSWORD),
        "login": AuthServer("user2", PASSWORD),
        "plaintext": AuthServer("user3", PASSWORD),
        "fail": AuthServer("user4", PASSWORD, always_fail=True),
        "nopass": AuthServer("user5", PASSWORD),
        "filter": AuthServer("user6", PASSWORD),
    }
    peers = {
        "plain": SMTPPeer(name="plain.relay.test", tls=cert, ext=ext, auth=auths["plain"]),
        "login": SMTPPeer(name="login.relay.test", tls=cert,
                          ext=("PIPELINING", "AUTH LOGIN"), auth=auths["login"]),
        "plaintext": SMTPPeer(name="plaintext.relay.test", ext=ext, auth=auths["plaintext"]),
        "fail": SMTPPeer(name="fail.relay.test", tls=cert, ext=ext, auth=auths["fail"]),
        "noauth": SMTPPeer(name="noauth.relay.test", tls=cert, ext=("PIPELINING",)),
        "nopass": SMTPPeer(name="nopass.relay.test", tls=cert, ext=ext, auth=auths["nopass"]),
        "filter": SMTPPeer(name="filter.relay.test", tls=cert,
                           ext=("PIPELINING", "AUTH PLAIN"), auth=auths["filter"]),
    }
    # Two MX hosts for mx.test: the first refuses the login (its host-name
    # key holds a wrong password), the second accepts the next hop's key.
    mx1_auth = AuthServer("user7", PASSWORD)
    mx2_auth = AuthServer("user7", PASSWORD)
    mx1 = SMTPPeer("127.0.0.2", 0, name="mx1.mx.test", tls=cert, ext=ext, auth=mx1_auth)
    mx2 = SMTPPeer("127.0.0.3", mx1.port, name="mx2.mx.test", tls=cert, ext=ext, auth=mx2_auth)
    dns_port = free_udp_tcp_port()
    sf, silent = UdpPeer(servfail=True), UdpPeer(servfail=False)
    zone = ["two.test. 60 IN MX 10 mx1.mx.test.",  # start_unbound's readiness probe
            "mx.test. 60 IN MX 10 mx1.mx.test.", "mx.test. 60 IN MX 20 mx2.mx.test.",
            "mx1.mx.test. 60 IN A 127.0.0.2", "mx2.mx.test. 60 IN A 127.0.0.3"]
    unbound = start_unbound(tmp, dns_port, sf.port, silent.port, zone)

    tmap, pmap = os.path.join(tmp, "transport"), os.path.join(tmp, "sasl_passwd")
    with open(tmap, "w") as f:
        for d in ("plain", "login", "fail", "noauth", "nopass"):
            f.write(f"{d}.test smtp:[127.0.0.1]:{peers[d].port}\n")
        f.write(f"plaintext.test smtp:[127.0.0.1]:{peers['plaintext'].port}\n")
        f.write(f"plaintextok.test smtpna:[127.0.0.1]:{peers['plaintext'].port}\n")
        f.write(f"filter.test smtpflt:[127.0.0.1]:{peers['filter'].port}\n")
        f.write(f"mx.test smtp:mx.test:{mx1.port}\n")
    with open(pmap, "w") as f:
        # Keys: the next hop as written ("[host]:port"), or a host name.
        for d, user in (("plain", "user1"), ("login", "user2"), ("plaintext", "user3"),
                        ("fail", "user4"), ("noauth", "user9"), ("filter", "user6")):
            f.write(f"[127.0.0.1]:{peers[d].port} {user}:{PASSWORD}\n")
        f.write(f"mx1.mx.test user7:wrong-{PASSWORD}\n")
        f.write(f"mx.test:{mx1.port} user7:{PASSWORD}\n")
    for p in (tmap, pmap):
        os.chmod(p, 0o644)
    os.chmod(tmp, 0o755)

    inst = Instance(services=("qmgr",), queue_run_delay=1,
                    master_cf_extra="smtp unix - - n - - smtp\n"
                    "smtpna unix - - n - - smtp -o smtp_sasl_security_options=noanonymous\n"
                    "smtpflt unix - - n - - smtp -o smtp_sasl_mechanism_filter=login,cram-md5\n")
    inst.need_daemons("qmgr", "smtp")
    inst.main_cf_extra = f"""
default_transport = smtp
transport_maps = texthash:{tmap}
minimal_backoff_time = 300s
maximal_backoff_time = 600s
smtp_helo_name = client.test
smtp_tls_security_level = may
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = texthash:{pmap}
dns_resolver = 127.0.0.1@{dns_port}
dns_timeout = 5s
inet_protocols = ipv4
"""
    try:
        with inst:
            inst.setup()
            inst.start()
            run_checks(inst, peers, auths, mx1, mx2, mx1_auth, mx2_auth)
            check(PASSWORD not in inst.log() and base64.b64encode(PASSWORD.encode()).decode()
                  not in inst.log(), "the password never appears in the log")
            if FAILURES:
                print("--- mail.log ---\n" + inst.log()[-20000:])
    finally:
        unbound.kill()
        unbound.wait()
        sf.close()
        silent.close()
        for p in list(peers.values()) + [mx1, mx2]:
            p.stop()
    relay_through_instance()
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print("all smtp SASL client checks passed")


def relay_through_instance():
    """Instance A (qmgr + smtp, relayhost = B's submission port, SASL on)
    relays a message to instance B's submission service, which takes mail
    only from authenticated clients (STARTTLS required, AUTH through B's
    auth daemon with the sqlite passdb); it lands in B's Maildir."""
    b, acc = mail_suite(services=("qmgr", "lmtp", "lmtpd"))
    b.need_daemons("smtpd", "qmgr", "smtp", "lmtpd", "auth")
    ensure_user(AUTH_USER)
    cert, key = b.make_cert("relay.b.test")
    os.chown(key, 0, ensure_user(MAIL_OWNER).pw_gid)
    os.chmod(key, 0o640)
    sub_port = free_port()
    b.master_cf_extra += (
        "auth unix - - n - 1 auth\n"  # private/auth, as smtpd_sasl_path says
        f"127.0.0.1:{sub_port} inet n - n - 2 smtpd\n"
        "  -o syslog_name=dovetail-test/submission\n"
        "  -o smtpd_tls_security_level=encrypt\n"
        "  -o smtpd_sasl_auth_enable=yes\n"
        "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n")
    b.main_cf_extra += f"""
passdb = sqlite:{acc.maps['passdb']}
userdb = static:uid=dvvmail gid=dvvmail home={b.mail}/%d/%n
auth_failure_delay = 0s
smtpd_sasl_path = private/auth
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
"""
    acc.add_user("relayuser@b.test", "{PLAIN}" + PASSWORD)
    acc.add_user("rcpt@b.test")
    a = Instance(services=("qmgr",), queue_run_delay=1,
                 master_cf_extra="smtp unix - - n - - smtp\n")
    a.need_daemons("qmgr", "smtp")
    pmap = os.path.join(a.top, "sasl_passwd")
    with open(pmap, "w") as f:
        f.write(f"[127.0.0.1]:{sub_port} relayuser@b.test:{PASSWORD}\n")
    os.chmod(pmap, 0o644)
    a.main_cf_extra = f"""
relayhost = [127.0.0.1]:{sub_port}
smtp_helo_name = a.test
smtp_tls_security_level = encrypt
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = texthash:{pmap}
minimal_backoff_time = 300s
inet_protocols = ipv4
"""
    with b, a:
        b.setup()
        b.start()
        a.setup()
        a.start()
        qid = inject(a.queue, "sender@a.test", ["rcpt@b.test"],
                     b"Subject: relayed with SASL\r\n\r\nvia B\r\n")
        wake_qmgr(a.queue)
        r = result(a, qid, "rcpt@b.test", 30)
        check(r and r[1] == "sent", f"A relays through B's submission port after SASL ({r})")
        check(b.wait_log(r"dovetail-test/submission/smtpd\[\d+\]: \S+: client=\S+, "
                         r"sasl_method=PLAIN, sasl_username=relayuser@b\.test", 15),
              "B's submission smtpd logs the SASL login of A (PLAIN, relayuser)")
        new = os.path.join(b.maildir("rcpt", "b.test"), "new")

        def landed():
            try:
                return any(b"relayed with SASL" in open(os.path.join(new, n), "rb").read()
                           for n in os.listdir(new))
            except OSError:
                return False
        check(wait_for(landed, 20), "the message lands in rcpt@b.test's Maildir on B")
        check(PASSWORD not in a.log(), "A's log does not hold the password")
        if FAILURES:
            print("--- A mail.log ---\n" + a.log()[-8000:])
            print("--- B mail.log ---\n" + b.log()[-8000:])


def run_checks(inst, peers, auths, mx1, mx2, mx1_auth, mx2_auth):
    # AUTH PLAIN over STARTTLS, default options: exact credentials.
    qid = send(inst, "u@plain.test")
    r = result(inst, qid, "u@plain.test")
    a = auths["plain"].seen
    check(r and r[1] == "sent" and len(peers["plain"].transactions) == 1,
          f"PLAIN over TLS: delivered ({r})")
    check(a and a[0][0] == "PLAIN" and a[0][1] == b"\0user1\0" + PASSWORD.encode() and a[0][2],
          f"PLAIN: the peer decoded exactly \\0user1\\0password, over TLS ({a})")
    check(auth_before_mail(peers["plain"]), "AUTH comes before MAIL")
    ehlos = [c for c in peers["plain"].commands if c.upper().startswith(("EHLO", "STARTTLS", "AUTH"))]
    check([c.split()[0].upper() for c in ehlos] == ["EHLO", "STARTTLS", "EHLO", "AUTH"],
          f"AUTH only after the EHLO that follows STARTTLS ({[c.split()[0] for c in ehlos]})")

    # AUTH LOGIN: the 334 dialogue.
    qid = send(inst, "u@login.test")
    r = result(inst, qid, "u@login.test")
    a = auths["login"].seen
    check(r and r[1] == "sent" and a and a[0][0] == "LOGIN"
          and a[0][1] == (b"user2", PASSWORD.encode()),
          f"LOGIN: username and password through 334 challenges, delivered ({r}, {a})")

    # Plaintext session, default noplaintext: no AUTH, deferred 4.7.0.
    qid = send(inst, "u@plaintext.test")
    r = result(inst, qid, "u@plaintext.test")
    check(r and r[1] == "deferred" and r[0] == "4.7.0"
          and "SASL authentication failed; cannot authenticate to server" in r[2]
          and not auths["plaintext"].seen and not peers["plaintext"].transactions
          and not any(c.upper().startswith("AUTH") for c in peers["plaintext"].commands),
          f"no TLS + noplaintext: no AUTH sent, deferred 4.7.0 ({r})")
    # Same server, smtp_sasl_security_options = noanonymous: PLAIN sent.
    qid = send(inst, "u@plaintextok.test")
    r = result(inst, qid, "u@plaintextok.test")
    a = auths["plaintext"].seen
    check(r and r[1] == "sent" and a and a[0][1] == b"\0user3\0" + PASSWORD.encode()
          and not a[0][2], f"noanonymous: plaintext PLAIN allowed, delivered ({r})")

    # 535 from the only server: deferred with the server's words.
    qid = send(inst, "u@fail.test")
    r = result(inst, qid, "u@fail.test")
    check(r and r[1] == "deferred" and r[0] == "4.7.8"
          and re.search(r"SASL authentication failed; server 127\.0\.0\.1\[127\.0\.0\.1\]:\d+ said: "
                        r"535 5\.7\.8 Error: authentication failed", r[2])
          and not peers["fail"].transactions,
          f"535 -> deferred 4.7.8 (soft bounce), nothing sent ({r})")
    check(wait_for(lambda: qid in inst.queue_files("deferred"), 10), "and the message waits in deferred/")

    # 535 from the first MX (host key, wrong password), the second MX
    # logs in with the next hop's key and delivers.
    qid = send(inst, "u@mx.test")
    r = result(inst, qid, "u@mx.test")
    check(mx1_auth.seen and mx1_auth.seen[0][1] == b"\0user7\0wrong-" + PASSWORD.encode(),
          f"the first MX got the host-name key's credentials ({mx1_auth.seen})")
    check(r and r[1] == "sent" and r[3].startswith("mx2.mx.test[127.0.0.3]")
          and mx2_auth.seen and mx2_auth.seen[0][1] == b"\0user7\0" + PASSWORD.encode()
          and len(mx2.transactions) == 1 and not mx1.transactions,
          f"535 at MX 1 -> MX 2 tried, logs in with the next hop's key, delivers ({r})")
    check(inst.wait_log(rf"{qid}: SASL authentication failed; server mx1\.mx\.test\[127\.0\.0\.2\]:\d+ "
                        r"said: 535", 5), "the first MX's refusal is logged")

    # A server that offers no AUTH: delivered without a login (Postfix).
    qid = send(inst, "u@noauth.test")
    r = result(inst, qid, "u@noauth.test")
    check(r and r[1] == "sent" and not any(c.upper().startswith("AUTH") for c in peers["noauth"].commands),
          f"no AUTH offered -> delivered without AUTH ({r})")

    # No password for this next hop: no AUTH sent, delivered.
    qid = send(inst, "u@nopass.test")
    r = result(inst, qid, "u@nopass.test")
    check(r and r[1] == "sent" and not auths["nopass"].seen
          and not any(c.upper().startswith("AUTH") for c in peers["nopass"].commands),
          f"no password in the map -> no AUTH, delivered ({r})")

    # smtp_sasl_mechanism_filter leaves none of the offered mechanisms.
    qid = send(inst, "u@filter.test")
    r = result(inst, qid, "u@filter.test")
    check(r and r[1] == "deferred" and r[0] == "4.7.0"
          and "offered no compatible authentication mechanisms" in r[2]
          and not auths["filter"].seen, f"mechanism filter leaves nothing -> deferred 4.7.0 ({r})")


if __name__ == "__main__":
    main()
