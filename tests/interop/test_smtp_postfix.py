"""Our smtp client (SMTP mode) delivers to Debian's Postfix.

A Dovetail instance (qmgr + "smtp unix ... smtp") sends a message injected
into its queue to a private Postfix instance (smtpd on a free loopback
port with STARTTLS offered, virtual_mailbox_domains example.test) through
transport_maps "example.test smtp:[127.0.0.1]:port". Postfix hands the
message on by LMTP to a fake LMTP peer (tests/lib/queue_tools.py), so the
test sees what landed: our log says status=sent with Postfix's "250 2.0.0
Ok: queued as ID", that ID is in Postfix's log with our envelope sender,
the hop used TLS (our "TLS connection established" line, Postfix's
"TLS connection established from"), and the content arrived intact
(dot-stuffing done by us, undone by Postfix) with Postfix's Received line.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import dovetail_test  # noqa: E402
from instance import Instance  # noqa: E402
from queue_tools import FakeLMTP, inject, wake_qmgr  # noqa: E402
import peers  # noqa: E402
from peers import free_port, read, wait_for  # noqa: E402

failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def main():
    dovetail_test.need_root()
    dovetail_test.need_program("postfix", "postfix")
    dovetail_test.need_program("openssl", "openssl")
    base = tempfile.mkdtemp(prefix="dovetail-smtp-postfix-")
    os.chmod(base, 0o755)
    fake = FakeLMTP(None, ["alice@example.test"], tcp=True)
    port = free_port()
    cert, key = os.path.join(base, "pf.crt"), os.path.join(base, "pf.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=postfix.example.test", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Postfix receives on port with STARTTLS and hands alice's mail to the
    # fake LMTP peer (its "mailbox").
    pf = peers.PrivatePostfix(
        os.path.join(base, "postfix"),
        "virtual_mailbox_domains = example.test\n"
        "virtual_mailbox_maps = static:ok\n"
        f"virtual_transport = lmtp:inet:127.0.0.1:{fake.port}\n"
        "smtpd_tls_security_level = may\n"
        f"smtpd_tls_cert_file = {cert}\n"
        f"smtpd_tls_key_file = {key}\n"
        "smtpd_tls_loglevel = 1\n",
        [f"127.0.0.1:{port} inet n - n - - smtpd",
         "tlsmgr unix - - n 1000? 1 tlsmgr"], [port])
    maillog = pf.maillog
    tmap = os.path.join(base, "transport")
    with open(tmap, "w") as f:
        f.write(f"example.test smtp:[127.0.0.1]:{port}\n")
    os.chmod(tmap, 0o644)
    inst = Instance(services=("qmgr",), queue_run_delay=1,
                    master_cf_extra="smtp unix - - n - - smtp\n")
    inst.need_daemons("qmgr", "smtp")
    inst.main_cf_extra = f"""
default_transport = smtp
transport_maps = texthash:{tmap}
smtp_helo_name = dovetail.example.test
smtp_tls_security_level = may
"""
    try:
        pf.start()
        with inst:
            inst.setup()
            inst.start()
            content = (b"From: Sender <sender@remote.test>\r\nTo: alice@example.test\r\n"
                       b"Subject: from Dovetail\r\nMessage-ID: <dt-1@remote.test>\r\n\r\n"
                       b"Hello Postfix.\r\n.leading dot\r\n..two\r\n")
            qid = inject(inst.queue, "sender@remote.test", ["alice@example.test"], content)
            wake_qmgr(inst.queue)
            ok = inst.wait_log(rf"{qid}: to=<alice@example\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{port}, "
                               r".*dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as (\w+)\)", 30)
            check(ok, "our smtp logs status=sent with Postfix's 'queued as' reply")
            m = re.search(rf"{qid}: to=<alice@example\.test>.*queued as (\w+)\)", inst.log())
            pfid = m.group(1) if m else "NONE"
            check(wait_for(lambda: re.search(rf"{pfid}: from=<sender@remote\.test>", read(maillog)), 20),
                  f"Postfix queued {pfid} with our envelope sender")
            check(re.search(r"TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: TLSv1\.[23] with cipher",
                            inst.log()), "our side logs the TLS connection to Postfix")
            check(re.search(r"TLS connection established from \S+: TLSv1\.[23]", read(maillog)),
                  "Postfix logs the TLS connection from us")
            got = wait_for(lambda: [x for x in fake.messages if x[0] == "sender@remote.test"], 30)
            msg = got[0] if got else None
            check(msg and msg[1] == ["alice@example.test"], "the message reached Postfix's LMTP delivery")
            check(msg and msg[2].endswith(b"\r\n\r\nHello Postfix.\r\n.leading dot\r\n..two\r\n")
                  and b"Received: from dovetail.example.test" in msg[2]
                  and b"Subject: from Dovetail\r\n" in msg[2],
                  "content intact, Postfix's Received names our HELO")
            check(wait_for(inst.queue_empty, 10), "our queue is empty afterwards")
            if failures:
                print("--- dovetail log\n" + inst.log()[-5000:])
    finally:
        pf.stop()
        fake.stop()
        if failures:
            print("--- maillog\n" + read(maillog)[-5000:])
        if os.environ.get("KEEP_TMP"):
            print("kept " + base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(f"{'FAILED' if failures else 'PASSED'}: {len(failures)} check(s) failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
