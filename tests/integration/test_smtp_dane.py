#!/usr/bin/env python3
"""DANE for SMTP (RFC 7672) in the smtp client: smtp_tls_security_level =
dane and dane-only, as Postfix does them.

A zone "dane.test" signed here with ldns-signzone is served by a private
unbound (auth-zone); smtp validates with its KSK as dns_trust_anchor_file.
"plain.test" is unsigned (insecure). Scripted SMTP peers
(tests/lib/smtp_peer.py) on 127.0.0.1, each on its own port, with
certificates made here with openssl: a self-signed one for DANE-EE and one
issued by a tiny test CA (sent with the CA in the chain) for DANE-TA. The
next hop is "domain:port", so the TLSA records sit at _<port>._tcp.<mx>.
Checks:
  1. secure MX + TLSA 3 1 1 matching the key -> sent, "Verified TLS
     connection established" logged with the matching record;
  2. TLSA 3 1 1 not matching -> deferred 4.7.5 "Server certificate not
     trusted", nothing sent (no MAIL, no transaction);
  3. insecure (unsigned) zone with a wrong TLSA record -> the record is
     ignored, sent with opportunistic TLS;
  4. secure TLSA but the peer offers no STARTTLS -> deferred 4.7.4,
     nothing sent in plaintext;
  5. TLSA 2 0 1 (DANE-TA) naming the test CA, certificate for the MX name
     -> sent, Verified; the same CA but a certificate for another name ->
     deferred (DANE-TA checks the name);
  6. only unusable records (PKIX-EE 1) -> TLS without authentication
     ("Untrusted"), sent;
  7. secure zone without TLSA records -> "may": sent;
  8. dane-only (another service): the same destination without TLSA
     records -> deferred, nothing sent; with matching TLSA -> sent;
  9. a TLSA RRset whose signature is broken (bogus: the lookup fails) ->
     deferred 4.7.5, never plaintext;
 10. a next hop "[host]:port" (no MX lookup, as relayhost): its validated
     address and TLSA records apply -> Verified, sent.
"""
import os
import re
import ssl
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from dovetail_test import need_program, need_root  # noqa: E402
from dnssec_zone import Unbound, free_udp_tcp_port, sign_zone  # noqa: E402
from instance import Instance  # noqa: E402
from smtp_peer import SMTPPeer  # noqa: E402
from test_smtp_client import make_cert, result, send  # noqa: E402

FAILURES = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILURES.append(what)
    return cond


def openssl(*args, **kw):
    return subprocess.run(["openssl"] + list(args), check=True,
                          capture_output=True, **kw).stdout


def spki_sha256(cert):
    pub = openssl("x509", "-in", cert, "-pubkey", "-noout")
    der = openssl("pkey", "-pubin", "-outform", "DER", input=pub)
    return openssl("dgst", "-sha256", "-r", input=der).split()[0].decode()


def cert_sha256(cert):
    with open(cert) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return openssl("dgst", "-sha256", "-r", input=der).split()[0].decode()


def make_ca_and_leaf(d, names):
    """A test CA and, per name, a leaf certificate it issued; returns
    (ca.crt, {name: (chain file with leaf then CA, key)})."""
    ca, cakey = os.path.join(d, "ca.crt"), os.path.join(d, "ca.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=Dovetail DANE test CA", "-keyout", cakey,
            "-out", ca, "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    leaves = {}
    for name in names:
        crt, key = os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                "-addext", "basicConstraints=CA:FALSE",
                "-CA", ca, "-CAkey", cakey, "-keyout", key, "-out", crt)
        chain = os.path.join(d, f"{name}.chain")
        with open(chain, "w") as out:
            for p in (crt, ca):
                with open(p) as f:
                    out.write(f.read())
        leaves[name] = (chain, key)
    return ca, leaves


def break_signature(signed, owner, rtype):
    """Garbles the RRSIG over owner's rtype RRset in a signed zone file
    (same length, valid base64), so that RRset validates as bogus."""
    with open(signed) as f:
        lines = f.readlines()
    hit = 0
    for i, line in enumerate(lines):
        f = line.split()
        if len(f) > 5 and f[0] == owner and f[3] == "RRSIG" and f[4] == rtype:
            sig = f[-1].rstrip("=")
            bad = sig[:8] + ("B" * 16 if sig[8:24] == "A" * 16 else "A" * 16) + sig[24:]
            lines[i] = line.replace(sig, bad)
            hit += 1
    if hit != 1:
        raise RuntimeError(f"no RRSIG {rtype} for {owner} in {signed}")
    with open(signed, "w") as f:
        f.writelines(lines)


def no_mail(peer):
    return not peer.transactions and not any(
        c.upper().startswith("MAIL") for c in peer.commands)


def main():
    need_root()
    need_program("openssl", "openssl")
    tmp = tempfile.mkdtemp(prefix="dovetail-dane-")
    os.chmod(tmp, 0o755)
    ee = make_cert(tmp, "mx-ok.dane.test")
    other = make_cert(tmp, "other.test")
    ca, leaves = make_ca_and_leaf(tmp, ["mx-ta.dane.test", "wrong.dane.test"])

    peers = {
        "ok": SMTPPeer(name="mx-ok.dane.test", tls=ee),
        "bad": SMTPPeer(name="mx-bad.dane.test", tls=ee),
        "plain": SMTPPeer(name="mx.plain.test", tls=ee),
        "notls": SMTPPeer(name="mx-notls.dane.test"),
        "ta": SMTPPeer(name="mx-ta.dane.test", tls=leaves["mx-ta.dane.test"]),
        "taname": SMTPPeer(name="mx-taname.dane.test",
                           tls=leaves["wrong.dane.test"]),
        "unusable": SMTPPeer(name="mx-unusable.dane.test", tls=ee),
        "notlsa": SMTPPeer(name="mx-notlsa.dane.test", tls=ee),
        "bogus": SMTPPeer(name="mx-bogus.dane.test", tls=ee),
    }
    port = {k: p.port for k, p in peers.items()}
    good, wrong = spki_sha256(ee[0]), spki_sha256(other[0])
    ca_hash = cert_sha256(ca)
    zone = "\n".join([
        "$ORIGIN dane.test.", "$TTL 300",
        "@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 300",
        "@ IN NS ns.dane.test.", "ns IN A 127.0.0.1",
    ] + [f"{k} IN MX 10 mx-{k}.dane.test.\nmx-{k} IN A 127.0.0.1"
         for k in ("ok", "bad", "notls", "ta", "taname", "unusable", "notlsa",
                   "bogus")] + [
        f"_{port['ok']}._tcp.mx-ok IN TLSA 3 1 1 {good}",
        f"_{port['bad']}._tcp.mx-bad IN TLSA 3 1 1 {wrong}",
        f"_{port['notls']}._tcp.mx-notls IN TLSA 3 1 1 {good}",
        f"_{port['ta']}._tcp.mx-ta IN TLSA 2 0 1 {ca_hash}",
        f"_{port['taname']}._tcp.mx-taname IN TLSA 2 0 1 {ca_hash}",
        f"_{port['unusable']}._tcp.mx-unusable IN TLSA 1 1 1 {good}",
        f"_{port['bogus']}._tcp.mx-bogus IN TLSA 3 1 1 {good}",
    ]) + "\n"
    anchor = sign_zone(tmp, "dane.test", zone)
    break_signature(os.path.join(tmp, "dane.test.zone.signed"),
                    f"_{port['bogus']}._tcp.mx-bogus.dane.test.", "TLSA")
    ta_file = os.path.join(tmp, "trust-anchors")
    with open(ta_file, "w") as f:
        f.write(anchor)
    insecure = ["plain.test. 60 IN MX 10 mx.plain.test.",
                "mx.plain.test. 60 IN A 127.0.0.1",
                f"_{port['plain']}._tcp.mx.plain.test. 60 IN TLSA 3 1 1 {wrong}"]
    dns_port = free_udp_tcp_port()
    unbound = Unbound(tmp, dns_port, local_data=insecure,
                      auth_zones=["dane.test"])
    tmap = os.path.join(tmp, "transport")
    with open(tmap, "w") as f:
        for k in peers:
            dom = "plain.test" if k == "plain" else f"{k}.dane.test"
            f.write(f"{dom} smtp:{dom}:{port[k]}\n")
        # dane-only service: the same peers.
        f.write(f"only-notlsa.test smtpdo:notlsa.dane.test:{port['notlsa']}\n")
        f.write(f"only-ok.test smtpdo:ok.dane.test:{port['ok']}\n")
        f.write(f"brk.test smtp:[mx-ok.dane.test]:{port['ok']}\n")
    for p in os.listdir(tmp):
        os.chmod(os.path.join(tmp, p), 0o644)

    inst = Instance(services=("qmgr",), queue_run_delay=1,
                    master_cf_extra="smtp unix - - n - - smtp\n"
                    "smtpdo unix - - n - - smtp"
                    " -o smtp_tls_security_level=dane-only smtp\n")
    inst.need_daemons("qmgr", "smtp")
    inst.main_cf_extra = f"""
default_transport = smtp
transport_maps = texthash:{tmap}
minimal_backoff_time = 300s
maximal_backoff_time = 600s
smtp_helo_name = client.test
smtp_tls_security_level = dane
dns_resolver = 127.0.0.1@{dns_port}
dns_trust_anchor_file = {ta_file}
dns_timeout = 5s
inet_protocols = ipv4
"""
    try:
        with inst:
            inst.setup()
            inst.start()
            run_checks(inst, peers, port)
            if FAILURES:
                print("--- mail.log ---\n" + inst.log()[-20000:])
    finally:
        unbound.stop()
        for p in peers.values():
            p.stop()
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print("all DANE checks passed")


def run_checks(inst, peers, port):
    # 1. DANE-EE 3 1 1 matching.
    qid = send(inst, ["u@ok.dane.test"])
    r = result(inst, qid, "u@ok.dane.test")
    p = peers["ok"]
    check(r and r[1] == "sent" and p.transactions and p.transactions[-1]["tls"],
          f"1. TLSA 3 1 1 matching -> sent over TLS ({r})")
    check(inst.wait_log(rf"Verified TLS connection established to mx-ok\.dane\.test"
                        rf"\[127\.0\.0\.1\]:{port['ok']}: TLSv1\.[23] with cipher", 5),
          "1. 'Verified TLS connection established' logged")
    check(inst.wait_log(r"DANE TLSA 3 1 1 matched the server certificate at depth 0", 5),
          "1. the matching TLSA record is logged")

    # 2. DANE-EE not matching.
    qid = send(inst, ["u@bad.dane.test"])
    r = result(inst, qid, "u@bad.dane.test")
    check(r and r[1] == "deferred" and r[0] == "4.7.5"
          and "Server certificate not trusted" in r[2] and no_mail(peers["bad"]),
          f"2. TLSA 3 1 1 not matching -> deferred 4.7.5, nothing sent ({r})")
    check(inst.wait_log(r"Untrusted TLS connection established to mx-bad\.dane\.test", 5),
          "2. 'Untrusted TLS connection established' logged")
    check(peers["bad"].sessions >= 1 and any(c.upper() == "STARTTLS" for c in peers["bad"].commands),
          "2. the peer was reached and STARTTLS was used")

    # 3. Insecure zone: its TLSA record is not believed; opportunistic TLS.
    qid = send(inst, ["u@plain.test"])
    r = result(inst, qid, "u@plain.test")
    p = peers["plain"]
    check(r and r[1] == "sent" and p.transactions and p.transactions[-1]["tls"],
          f"3. insecure zone -> sent with opportunistic TLS, TLSA ignored ({r})")
    check(inst.wait_log(r"(Untrusted|Anonymous) TLS connection established to mx\.plain\.test", 5),
          "3. unauthenticated TLS logged")

    # 4. Secure TLSA, no STARTTLS.
    qid = send(inst, ["u@notls.dane.test"])
    r = result(inst, qid, "u@notls.dane.test")
    check(r and r[1] == "deferred" and r[0] == "4.7.4"
          and "TLS is required, but was not offered" in r[2] and no_mail(peers["notls"]),
          f"4. no STARTTLS with secure TLSA -> deferred, no plaintext ({r})")

    # 5. DANE-TA 2 0 1 with the test CA.
    qid = send(inst, ["u@ta.dane.test"])
    r = result(inst, qid, "u@ta.dane.test")
    p = peers["ta"]
    check(r and r[1] == "sent" and p.transactions and p.transactions[-1]["tls"],
          f"5. TLSA 2 0 1 (DANE-TA) -> sent ({r})")
    check(inst.wait_log(r"Verified TLS connection established to mx-ta\.dane\.test", 5)
          and inst.wait_log(r"DANE TLSA 2 0 1 matched the trust anchor at depth 1", 5),
          "5. DANE-TA: Verified, the trust anchor match logged")
    qid = send(inst, ["u@taname.dane.test"])
    r = result(inst, qid, "u@taname.dane.test")
    check(r and r[1] == "deferred" and r[0] == "4.7.5" and no_mail(peers["taname"]),
          f"5. DANE-TA with a certificate for another name -> deferred ({r})")

    # 6. Only unusable records (PKIX-EE): mandatory TLS, unauthenticated.
    qid = send(inst, ["u@unusable.dane.test"])
    r = result(inst, qid, "u@unusable.dane.test")
    p = peers["unusable"]
    check(r and r[1] == "sent" and p.transactions and p.transactions[-1]["tls"]
          and inst.wait_log(r"Untrusted TLS connection established to mx-unusable", 5),
          f"6. unusable TLSA only -> TLS without authentication, sent ({r})")

    # 7. Secure, no TLSA records: "may".
    qid = send(inst, ["u@notlsa.dane.test"])
    r = result(inst, qid, "u@notlsa.dane.test")
    p = peers["notlsa"]
    check(r and r[1] == "sent" and len(p.transactions) == 1,
          f"7. secure zone without TLSA -> sent (opportunistic) ({r})")

    # 8. dane-only.
    qid = send(inst, ["u@only-notlsa.test"])
    r = result(inst, qid, "u@only-notlsa.test")
    check(r and r[1] == "deferred" and r[0] == "4.7.5" and "no TLSA records" in r[2]
          and len(p.transactions) == 1,
          f"8. dane-only without TLSA records -> deferred, nothing sent ({r})")
    n = len(peers["ok"].transactions)
    qid = send(inst, ["u@only-ok.test"])
    r = result(inst, qid, "u@only-ok.test")
    check(r and r[1] == "sent" and len(peers["ok"].transactions) == n + 1,
          f"8. dane-only with matching TLSA -> sent ({r})")

    # 9. Bogus TLSA answer: the host is deferred, nothing in plaintext.
    qid = send(inst, ["u@bogus.dane.test"])
    r = result(inst, qid, "u@bogus.dane.test")
    check(r and r[1] == "deferred" and r[0] == "4.7.5" and "TLSA lookup error" in r[2]
          and no_mail(peers["bogus"]),
          f"9. bogus TLSA -> deferred 4.7.5, nothing sent ({r})")

    # 10. [host]:port next hop.
    n = len(peers["ok"].transactions)
    start = inst.log_size()
    qid = send(inst, ["u@brk.test"])
    r = result(inst, qid, "u@brk.test")
    check(r and r[1] == "sent" and len(peers["ok"].transactions) == n + 1
          and r[3] == f"mx-ok.dane.test[127.0.0.1]:{port['ok']}"
          and inst.wait_log(r"Verified TLS connection established to mx-ok\.dane\.test", 5,
                            start=start),
          f"10. [host]:port next hop with TLSA -> Verified, sent ({r})")


if __name__ == "__main__":
    main()
