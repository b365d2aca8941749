#!/usr/bin/env python3
"""test_twohost - the two-host test of issue 5 (part 5), with
tests/twohost/twohost.py: namespaces dt-dns, dt-mail1, dt-mail2, unbound
serving the "test." zone, a test CA, a full Dovetail on each host.

  1. DNS from inside the host namespaces: MX, A, PTR, SPF TXT;
  2. user1@mail1.test submits on mail1:587 (STARTTLS verified against
     the test CA, then AUTH; no AUTH offered before STARTTLS) to
     user1@mail2.test;
  3. mail1 delivers over port 25 with verified TLS (mail1's log) and the
     message lands in user1's Maildir on mail2 with a Received header
     that shows TLS (ESMTPS);
  4. user1 on mail2 replies with `echo Reply | mail -s "Re: Test"
     user1@mail1.test` (bsd-mailx through the instance's sendmail); the
     reply lands on mail1;
  5. mail2 with a self-signed certificate: mail1 defers (verify), never
     delivers; with the CA's certificate back the message is delivered;
  6. with tc netem delay 100ms loss 5% on both links a message still
     arrives;
  7. mail2 stopped: a message to it is deferred, retried, and after the
     shortened maximal_queue_lifetime bounced to user1@mail1.test with an
     RFC 3464 report (checked with Python's email package).
Needs root, iproute2, unbound, ldnsutils (drill), openssl, bsd-mailx and
iptables (for the netem stand-in on kernels without sch_netem); skips
locally, fails in CI when one is missing. Runs every step and lists each failure.
"""
import email
import email.policy
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from dovetail_test import bin_path, missing, need_program, need_root  # noqa: E402
from instance import wait_for  # noqa: E402
import twohost  # noqa: E402
from twohost import DNS_ADDR, HOSTS, PASSWORD, TwoHost, dns_query  # noqa: E402

FAILURES = []
MISSING = []
LIFETIME = 25  # seconds: maximal_queue_lifetime on both hosts


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def submit(th, sender_host, rcpt, subject, token):
    h = HOSTS[sender_host]
    fqdn = f"{sender_host}.test"
    p = subprocess.run(["ip", "netns", "exec", h["ns"], sys.executable,
                        os.path.join(HERE, "submit_client.py"), fqdn, h["addr"], "587",
                        th.ca, f"user1@{fqdn}", PASSWORD, f"user1@{fqdn}", rcpt,
                        subject, token],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=90)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"ok": False, "error": p.stdout}


def mailbox(inst, host):
    return inst.maildir_new(inst.maildir("user1", f"{host}.test"))


def wait_token(inst, host, token, timeout):
    def found():
        return [m for m in mailbox(inst, host).values() if token.encode() in m]
    return wait_for(found, timeout, 0.2) or []


def test_dns():
    for host in HOSTS:
        ns = HOSTS[host]["ns"]
        other = "mail2" if host == "mail1" else "mail1"
        mx = dns_query(ns, f"{other}.test", "MX")
        check(any(re.search(rf"\b10\s+{other}\.test\.", ln) for ln in mx),
              f"{host} resolves MX {other}.test ({mx})")
        a = dns_query(ns, f"{other}.test", "A")
        check(any(HOSTS[other]["addr"] in ln for ln in a), f"{host} resolves A {other}.test")
        rev = ".".join(reversed(HOSTS[other]["addr"].split("."))) + ".in-addr.arpa"
        ptr = dns_query(ns, rev, "PTR")
        check(any(f"{other}.test" in ln for ln in ptr), f"{host} resolves PTR of {other}")
        txt = dns_query(ns, f"{other}.test", "TXT")
        check(any("v=spf1 ip4:" + HOSTS[other]["addr"] in ln for ln in txt),
              f"{host} resolves the SPF TXT of {other}.test")


def test_forward(th):
    m1, m2 = th.hosts["mail1"], th.hosts["mail2"]
    start = m1.log_size()
    r = submit(th, "mail1", "user1@mail2.test", "Test", "twohost-fwd-1")
    check(r.get("ok"), f"user1@mail1.test submits on 587 with STARTTLS and AUTH ({r})")
    check(r.get("auth_before_tls") is False, "no AUTH offered on 587 before STARTTLS")
    got = wait_token(m2, "mail2", "twohost-fwd-1", 40)
    check(len(got) == 1, "the message lands in user1's Maildir on mail2")
    log1 = m1.log()[start:]
    check(re.search(r"(?i)verified TLS connection established to mail2\.test\[10\.231\.0\.12\]",
                    log1) is not None,
          "mail1 logs a verified TLS connection to mail2.test[10.231.0.12]")
    check(re.search(r"to=<user1@mail2\.test>, relay=mail2\.test\[10\.231\.0\.12\]:25.*"
                    r"status=sent", log1) is not None,
          "mail1 logs status=sent via mail2.test[10.231.0.12]:25")
    if got:
        msg = email.message_from_bytes(got[0], policy=email.policy.compat32)
        rcvd = [r_ for r_ in msg.get_all("Received") or []
                if re.search(r"from mail1\.test.*10\.231\.0\.11", r_, re.S)]
        check(len(rcvd) == 1 and "by mail2.test" in rcvd[0] and "with ESMTPS" in rcvd[0]
              and "TLS" in rcvd[0],
              f"mail2's Received header shows mail1 over TLS (ESMTPS, TLS details): {rcvd}")


def test_reply(th):
    m1, m2 = th.hosts["mail1"], th.hosts["mail2"]
    mailx = need_program("bsd-mailx", "bsd-mailx")
    rc = os.path.join(m2.top, "mailrc")
    with open(rc, "w") as f:
        f.write(f"set sendmail={bin_path('sendmail')}\n")
    env = dict(os.environ, MAIL_CONFIG=m2.conf, MAILRC=rc)
    start2 = m2.log_size()
    p = subprocess.run(["ip", "netns", "exec", HOSTS["mail2"]["ns"], mailx, "-s", "Re: Test",
                        "-r", "user1@mail2.test", "user1@mail1.test"],
                       input=b"Reply\nX twohost-reply-1\n", env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    check(p.returncode == 0, f"echo Reply | mail -s 'Re: Test' user1@mail1.test exits 0 "
                             f"({p.stdout!r})")
    got = wait_token(m1, "mail1", "twohost-reply-1", 40)
    check(len(got) == 1, "the reply lands in user1's Maildir on mail1")
    check(m2.wait_log(r"Verified TLS connection established to mail1\.test\[10\.231\.0\.11\]",
                      5, start2) is not None,
          "mail2 logs a verified TLS connection to mail1.test[10.231.0.11]")
    if got:
        msg = email.message_from_bytes(got[0], policy=email.policy.compat32)
        check(msg["Subject"] == "Re: Test", f"the reply's subject is kept ({msg['Subject']})")
        check("user1@mail2.test" in (msg["Return-Path"] or ""),
              f"the reply's envelope sender is user1@mail2.test ({msg['Return-Path']})")


def test_untrusted(th):
    """mail2 with a self-signed certificate: mail1 (verify) must not
    deliver, not even in plaintext; once mail2 has its CA-issued
    certificate again, the deferred message is retried and delivered."""
    m1, m2 = th.hosts["mail1"], th.hosts["mail2"]
    ca = os.path.dirname(th.ca)
    crt, key = os.path.join(ca, "mail2.pem"), os.path.join(ca, "mail2.key")
    for f in (crt, key):
        os.rename(f, f + ".good")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "1", "-subj", "/CN=mail2.test",
                        "-addext", "subjectAltName=DNS:mail2.test"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(crt, 0o644)
        os.chown(key, 0, os.stat(key + ".good").st_gid)
        os.chmod(key, 0o640)
        m2.stop()
        m2.start()
        start = m1.log_size()
        r = submit(th, "mail1", "user1@mail2.test", "Untrusted", "twohost-untrusted-1")
        check(r.get("ok"), f"submission for the untrusted peer ({r.get('error')})")
        check(m1.wait_log(r"to=<user1@mail2\.test>.*status=deferred.*(?i:certificate|verif)",
                          30, start) is not None,
              "a peer certificate not from the CA: deferred (verification failure logged)")
        check(not wait_token(m2, "mail2", "twohost-untrusted-1", 3),
              "nothing reaches mail2 while its certificate is not trusted")
    finally:
        m2.stop()
        for f in (crt, key):
            os.replace(f + ".good", f)
        m2.start()
    got = wait_token(m2, "mail2", "twohost-untrusted-1", 40)
    check(len(got) == 1, "with the CA-issued certificate back the message is retried "
                         "and delivered")


def test_netem(th):
    ok, why = th.netem(["delay", "100ms", "loss", "5%"])
    print(why)
    if not ok:
        print(f"MISSING: {why}")
        MISSING.append(why)
        return
    try:
        r = submit(th, "mail1", "user1@mail2.test", "Under netem", "twohost-netem-1")
        check(r.get("ok"), f"submission under netem delay 100ms loss 5% ({r.get('error')})")
        got = wait_token(th.hosts["mail2"], "mail2", "twohost-netem-1", 90)
        check(len(got) == 1, "with delay 100ms and loss 5% the message still arrives on mail2")
    finally:
        th.netem(["off"])


def test_bounce(th):
    m1, m2 = th.hosts["mail1"], th.hosts["mail2"]
    m2.stop()
    start = m1.log_size()
    r = submit(th, "mail1", "user1@mail2.test", "To a stopped host", "twohost-bounce-1")
    check(r.get("ok"), f"submission while mail2 is down ({r.get('error')})")
    check(m1.wait_log(r"to=<user1@mail2\.test>.*status=deferred", 30, start) is not None,
          "with mail2 stopped the message is deferred")

    def deferrals():
        return len(re.findall(r"to=<user1@mail2\.test>.*status=deferred", m1.log()[start:]))
    wait_for(lambda: deferrals() >= 2, 30)
    check(deferrals() >= 2, f"the deferred message is retried ({deferrals()} attempts)")

    def bounce():
        for data in mailbox(m1, "mail1").values():
            if b"multipart/report" in data and b"twohost-bounce-1" in data:
                return data
        return None
    data = wait_for(bounce, LIFETIME + 60, 0.5)
    check(data is not None, f"after maximal_queue_lifetime ({LIFETIME}s) a bounce reaches "
                            "user1@mail1.test")
    check(m1.wait_log(r"to=<user1@mail2\.test>.*status=expired, returned to sender",
                      5, start) is not None,
          "mail1 logs status=expired, returned to sender (Postfix's wording)")
    if data is None:
        return
    msg = email.message_from_bytes(data, policy=email.policy.default)
    check(msg.get_content_type() == "multipart/report"
          and msg.get_param("report-type") == "delivery-status",
          "the bounce is multipart/report; report-type=delivery-status")
    check((msg["Return-Path"] or "").strip() in ("<>", ""),
          f"the bounce has the null sender ({msg['Return-Path']})")
    parts = list(msg.iter_parts())
    check(len(parts) >= 2 and parts[0].get_content_type() == "text/plain",
          "the first part is the human-readable text")
    ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    check(len(ds) == 1, "there is one message/delivery-status part")
    if ds:
        blocks = ds[0].get_payload()
        fields = {}
        for b in blocks:
            for k, v in b.items():
                fields.setdefault(k.lower(), str(v))
        check(fields.get("reporting-mta", "").lower().startswith("dns;")
              and "mail1.test" in fields.get("reporting-mta", ""),
              f"Reporting-MTA: dns; mail1.test ({fields.get('reporting-mta')})")
        check(re.match(r"(?i)rfc822;\s*user1@mail2\.test", fields.get("final-recipient", ""))
              is not None, f"Final-Recipient: rfc822; user1@mail2.test "
                           f"({fields.get('final-recipient')})")
        check(fields.get("action", "").lower() == "failed",
              f"Action: failed ({fields.get('action')})")
        check(re.match(r"[45]\.\d{1,3}\.\d{1,3}$", fields.get("status", "")) is not None,
              f"Status is a DSN code ({fields.get('status')})")
    orig = [p for p in parts if p.get_content_type() in ("message/rfc822",
                                                         "text/rfc822-headers")]
    check(orig and "twohost-bounce-1" in orig[0].as_string(),
          "the original message (or its headers) is returned")


def main():
    need_root()
    for prog, pkg in (("ip", "iproute2"), ("tc", "iproute2"), ("unbound", "unbound"),
                      ("openssl", "openssl"), ("bsd-mailx", "bsd-mailx"),
                      ("drill", "ldnsutils"), ("iptables", "iptables")):
        need_program(prog, pkg)
    for prog in ("master", "dovetail", "smtpd", "qmgr", "smtp", "lmtpd", "auth",
                 "sendmail"):
        if not os.access(bin_path(prog), os.X_OK):
            missing(bin_path(prog))
    top = os.environ.get("DOVETAIL_TWOHOST_DIR") or f"/tmp/dovetail-twohost-test-{os.getpid()}"
    for ns in twohost.namespaces():
        if twohost.ns_exists(ns):
            check(False, f"namespace {ns} is free (left over? sh scripts/twohost.sh down)")
            sys.exit(1)
    th = TwoHost(top=top, keep=os.environ.get("DOVETAIL_KEEP_TEST_DIR") == "1",
                 lifetime=f"{LIFETIME}s", foreground=True)
    try:
        t0 = time.time()
        th.up()
        check(True, f"namespaces, DNS ({DNS_ADDR}), CA and both instances up "
                    f"({time.time() - t0:.1f}s)")
        test_dns()
        test_forward(th)
        test_reply(th)
        test_untrusted(th)
        test_netem(th)
        test_bounce(th)
    except Exception as e:  # setup failure: report with the logs
        check(False, f"setup or step raised {type(e).__name__}: {e}")
    finally:
        if FAILURES:
            for name, inst in th.hosts.items():
                print(f"--- {name} mail.log ---\n" + inst.log()[-15000:])
        th.down()
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    if MISSING:
        missing("; ".join(MISSING))
    print("all two-host checks passed")


if __name__ == "__main__":
    main()
