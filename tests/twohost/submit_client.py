#!/usr/bin/env python3
"""submit_client - one message submitted over port 587 with STARTTLS
(certificate verified against the test CA, host name checked) and AUTH,
run inside a host's network namespace by test_twohost.py:

    ip netns exec dt-mail1 python3 submit_client.py HOSTNAME ADDR PORT \
        CAFILE LOGIN PASSWORD FROM TO SUBJECT TOKEN

Prints one JSON object: ok, the steps passed, the TLS version, the
server's certificate subject, the error if any. Uses smtplib only; input
is the test's own command line.
"""
import json
import smtplib
import ssl
import sys
from email.message import EmailMessage


def main(argv):
    host, addr, port, cafile, login, password, sender, rcpt, subject, token = argv[1:11]
    res = {"ok": False, "steps": []}
    try:
        s = smtplib.SMTP(timeout=30)
        s.connect(addr, int(port))
        s._host = host  # the name the certificate is checked against
        s.ehlo("client.test")
        res["auth_before_tls"] = s.has_extn("auth")
        ctx = ssl.create_default_context(cafile=cafile)
        s.starttls(context=ctx)
        res["steps"].append("starttls")
        res["tls_version"] = s.sock.version()
        res["peer_subject"] = dict(x[0] for x in s.sock.getpeercert()["subject"])
        s.ehlo("client.test")
        s.login(login, password)
        res["steps"].append("auth")
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = rcpt
        msg["Subject"] = subject
        msg["X-Token"] = token
        msg.set_content(f"Hello from the two-host test.\n{token}\n")
        refused = s.send_message(msg, sender, [rcpt])
        res["refused"] = {k: list(v) for k, v in refused.items()}
        res["steps"].append("sent")
        s.quit()
        res["ok"] = not refused
    except (OSError, smtplib.SMTPException, ssl.SSLError) as e:
        res["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(res))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
