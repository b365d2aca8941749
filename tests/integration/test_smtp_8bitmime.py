#!/usr/bin/env python3
"""qmgr + smtp delivering an 8-bit MIME message (BODY=8BITMIME) to scripted
SMTP peers (tests/lib/smtp_peer.py) on loopback, as Postfix does:
- to a peer without 8BITMIME the 8bit/binary parts arrive converted to
  quoted-printable (no 8-bit octet on the wire, no BODY=, no line over 76
  in a converted part), the multipart and message/rfc822 containers
  relabelled 7bit, base64 and 7bit parts byte for byte, and Python's email
  package decodes every part to the original bytes;
- to a peer with 8BITMIME the message arrives unchanged with BODY=8BITMIME;
- with disable_mime_output_conversion = yes it goes to the peer without
  8BITMIME unchanged (and the log says so);
- a message nested deeper than the converter's limit (100 multiparts) is
  bounced 5.6.0 "MIME nesting exceeds safety limit" and the peer never
  accepts it.
Queue files are injected with the independent writer (tests/lib/queue_tools.py).
"""
import email
import email.policy
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from dovetail_test import need_root  # noqa: E402
from instance import Instance, wait_for  # noqa: E402
from queue_tools import inject, wake_qmgr  # noqa: E402
from smtp_peer import SMTPPeer  # noqa: E402

FAILURES = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILURES.append(what)
    return cond


TEXT = ("Grüße aus Köln = Größe\r\n"
        ".a line starting with a dot\r\n"
        "=a line starting with equals\r\n"
        "trailing blank \r\n"
        "trailing tab\t\r\n"
        "From the start of a line\r\n"
        + "lång " * 60 + "\r\n"
        "end\r\n").encode()
INNER = "Inner 8-bit part: naïve café\r\n".encode()
BINARY = bytes(range(1, 256)).replace(b"\r", b"").replace(b"\n", b"") + b"\r\n"
B64 = b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n"

MESSAGE = (b"From: sender@example.org\r\n"
           b"To: u@example.net\r\n"
           b"Subject: 8-bit test\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"=_outer\"\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n"
           b"\r\n"
           b"This is a MIME message.\r\n"
           b"--=_outer\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n"
           b"\r\n" + TEXT +
           b"--=_outer\r\n"
           b"Content-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: base64\r\n"
           b"\r\n" + B64 +
           b"--=_outer\r\n"
           b"Content-Type: application/x-raw\r\n"
           b"Content-Transfer-Encoding: binary\r\n"
           b"\r\n" + BINARY +
           b"--=_outer\r\n"
           b"Content-Type: message/rfc822\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n"
           b"\r\n"
           b"Subject: inner\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n"
           b"\r\n" + INNER +
           b"--=_outer--\r\n")


def result(inst, qid, rcpt, timeout=20):
    """(dsn, status, text) of the smtp log line for rcpt, or None."""
    pat = re.compile(rf"{qid}: to=<{re.escape(rcpt)}>, relay=\S+, delay=\S+, delays=\S+, "
                     rf"dsn=(\S+), status=(\w+) \((.*)\)")
    wait_for(lambda: pat.search(inst.log()), timeout)
    m = pat.search(inst.log())
    return (m.group(1), m.group(2), m.group(3)) if m else None


def send(inst, rcpt, content):
    qid = inject(inst.queue, "", [rcpt], content, attrs={"body_type": "8BITMIME"})
    wake_qmgr(inst.queue)
    return qid


def decoded_parts(data):
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    return msg, [p for p in msg.walk() if not p.is_multipart()]


def same(decoded, original):
    """Equal but for the form of hard line breaks (CRLF on the wire; the
    decoder may give LF)."""
    return decoded.replace(b"\r\n", b"\n") == original.replace(b"\r\n", b"\n")


def converted_checks(t):
    data = t["data"]
    check("BODY=" not in t["mail"], f"no BODY= to the peer without 8BITMIME ({t['mail']})")
    check(all(b < 0x80 for b in data), "no 8-bit octet on the wire")
    msg, parts = decoded_parts(data)
    check(msg["Content-Transfer-Encoding"] == "7bit",
          f"the multipart relabelled 7bit ({msg['Content-Transfer-Encoding']})")
    types = [p.get_content_type() for p in parts]
    check(types == ["text/plain", "application/octet-stream", "application/x-raw",
                    "text/plain"], f"the structure is kept ({types})")
    if len(parts) != 4:
        return
    text, b64, raw, inner = parts
    # The line break before a boundary is the boundary's (RFC 2046 5.1.1).
    check(text["Content-Transfer-Encoding"] == "quoted-printable"
          and same(text.get_payload(decode=True), TEXT[:-2]),
          "the 8bit text part: quoted-printable, decodes to the original")
    check(b64["Content-Transfer-Encoding"] == "base64"
          and b64.get_payload() == B64[:-2].decode(),
          "the base64 part byte for byte")
    check(raw["Content-Transfer-Encoding"] == "quoted-printable"
          and same(raw.get_payload(decode=True), BINARY[:-2]),
          "the binary part: quoted-printable, decodes to the original")
    rfc822 = [p for p in msg.walk() if p.get_content_type() == "message/rfc822"]
    check(rfc822 and rfc822[0]["Content-Transfer-Encoding"] == "7bit",
          "message/rfc822 relabelled 7bit")
    check(inner["Content-Transfer-Encoding"] == "quoted-printable"
          and same(inner.get_payload(decode=True), INNER[:-2]),
          "the part inside message/rfc822: quoted-printable, decodes to the original")
    # Converted lines stay within 76 characters (RFC 2045 6.7 (5)).
    body = data.split(b"\r\n\r\n", 1)[1]
    qp_lines = [l for l in body.split(b"\r\n") if l.endswith(b"=") or b"=C3" in l]
    check(qp_lines and max(len(l) for l in qp_lines) <= 76,
          f"quoted-printable lines <= 76 ({max(len(l) for l in qp_lines) if qp_lines else 0})")
    check(b"\r\n.a line starting with a dot\r\n" in data
          and b"\r\n=3Da line starting with equals\r\n" in data
          and b"trailing blank=20\r\n" in data and b"trailing tab=09\r\n" in data,
          "dot and '=' at line starts, trailing white space encoded")
    check(b"Subject: 8-bit test\r\n" in data and b"This is a MIME message.\r\n" in data,
          "header and preamble unchanged")


def nested(depth):
    out = b""
    for i in range(depth):
        out += b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
    return out + b"Content-Transfer-Encoding: 8bit\r\n\r\n\xe9\r\n"


def main():
    need_root()
    tmp = tempfile.mkdtemp(prefix="dovetail-8bit-")
    no8 = SMTPPeer(name="no8.test", ext=("PIPELINING", "DSN"))
    yes8 = SMTPPeer(name="yes8.test")
    tmap = os.path.join(tmp, "transport")
    with open(tmap, "w") as f:
        f.write(f"no8.test smtp:[127.0.0.1]:{no8.port}\n")
        f.write(f"yes8.test smtp:[127.0.0.1]:{yes8.port}\n")
        f.write(f"raw.test smtpraw:[127.0.0.1]:{no8.port}\n")
    os.chmod(tmap, 0o644)
    os.chmod(tmp, 0o755)
    inst = Instance(services=("qmgr",), queue_run_delay=1,
                    master_cf_extra="smtp unix - - n - - smtp\n"
                    "smtpraw unix - - n - - smtp -o disable_mime_output_conversion=yes\n")
    inst.need_daemons("qmgr", "smtp")
    inst.main_cf_extra = f"""
default_transport = smtp
transport_maps = texthash:{tmap}
minimal_backoff_time = 300s
maximal_backoff_time = 600s
smtp_helo_name = client.test
smtp_tls_security_level = none
inet_protocols = ipv4
"""
    try:
        with inst:
            inst.setup()
            inst.start()
            qid = send(inst, "u@no8.test", MESSAGE)
            r = result(inst, qid, "u@no8.test")
            check(r and r[1] == "sent", f"to the peer without 8BITMIME: sent ({r})")
            if check(len(no8.transactions) == 1, "the peer without 8BITMIME got it"):
                converted_checks(no8.transactions[-1])

            qid = send(inst, "u@yes8.test", MESSAGE)
            r = result(inst, qid, "u@yes8.test")
            t = yes8.transactions[-1] if yes8.transactions else None
            check(r and r[1] == "sent" and t and t["data"] == MESSAGE
                  and "BODY=8BITMIME" in t["mail"],
                  f"to the peer with 8BITMIME: unchanged, BODY=8BITMIME ({r})")

            qid = send(inst, "u@raw.test", MESSAGE)
            r = result(inst, qid, "u@raw.test")
            t = no8.transactions[-1] if len(no8.transactions) == 2 else None
            check(r and r[1] == "sent" and t and t["data"] == MESSAGE
                  and "BODY=" not in t["mail"],
                  f"disable_mime_output_conversion = yes: sent unchanged ({r})")
            check(inst.wait_log(rf"{qid}: 8-bit message to .* does not announce 8BITMIME: "
                                r"sent without MIME conversion", 5),
                  "and the log says it went without conversion")

            # Within the limit: converted; one level more: bounced, and the
            # peer (which sees the connection drop in DATA) keeps nothing.
            qid = send(inst, "ok@no8.test", nested(100))
            r = result(inst, qid, "ok@no8.test")
            check(r and r[1] == "sent" and len(no8.transactions) == 3
                  and no8.transactions[-1]["data"].endswith(
                      b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n"),
                  f"100 nested multiparts: converted ({r})")
            qid = send(inst, "deep@no8.test", nested(101))
            r = result(inst, qid, "deep@no8.test")
            check(r and r[0] == "5.6.0" and r[1] == "bounced"
                  and "MIME nesting exceeds safety limit" in r[2],
                  f"101 nested multiparts: bounced 5.6.0 ({r})")
            check(len(no8.transactions) == 3, "and the peer accepted nothing")
            if FAILURES:
                print("--- mail.log ---\n" + inst.log()[-20000:])
    finally:
        no8.stop()
        yes8.stop()
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print("all 8BITMIME checks passed")


if __name__ == "__main__":
    main()
