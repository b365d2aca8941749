#!/usr/bin/env python3
"""gen_refs - regenerates the golden .ref files of this corpus from Dovecot.

Starts a private Dovecot (Debian's dovecot-imapd: temporary base_dir and
config, a Maildir holding every *.eml of this directory byte for byte, a
passwd-file user, plaintext IMAP on a free loopback port) and, with
Python's imaplib, FETCHes BODYSTRUCTURE, BODY, ENVELOPE and RFC822.SIZE of
every message. Each value is written exactly as Dovecot sent it (literals
kept as {n}CRLF + data) to NAME.bodystructure.ref, NAME.body.ref,
NAME.envelope.ref and NAME.size.ref. A message listed in OVERRIDES keeps
the refs in the tree (see README: where we differ on purpose). Run as root
by hand when the corpus changes; the test itself never needs Dovecot.

usage: gen_refs.py [--check] [corpus-dir]

With --check nothing is written: every ref in the tree (OVERRIDES aside)
must equal what Dovecot answers now (the ctest test_mime_dovecot_refs). It
needs root and Debian's dovecot-imapd; without them it skips (exit 77)
locally and fails when CI=true.
"""
import glob
import imaplib
import os
import pwd
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(sys.argv[0]))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))
import dovetail_test  # noqa: E402
import peers  # noqa: E402

ARGS = [a for a in sys.argv[1:] if a != "--check"]
CHECK = "--check" in sys.argv[1:]
CORPUS = ARGS[0] if ARGS else HERE
# Messages whose refs were edited by hand on purpose (see README).
OVERRIDES = {
    # message/global is encapsulated like message/rfc822 (RFC 6532 3.5,
    # RFC 9051 7.5.2); Dovecot 2.3 shows it as an opaque leaf.
    "21-message-global",
}


def raw_value(data, item):
    """Joins imaplib's FETCH data back into the bytes Dovecot sent and
    returns the value of item."""
    out = b""
    for d in data:
        if isinstance(d, tuple):
            out += d[0] + b"\r\n" + d[1]
        elif d is not None:
            out += d
    key = b"(" + item + b" "
    i = out.index(key)
    v = out[i + len(key):]
    assert v.endswith(b")"), v
    return v[:-1]


def need_root():
    if os.geteuid() != 0:
        dovetail_test.missing("root privileges (dovecot drops to a mail user)")


def main():
    need_root()
    differences = 0
    emls = sorted(glob.glob(os.path.join(CORPUS, "*.eml")))
    tmp = tempfile.mkdtemp(prefix="dovetail-genrefs-")
    os.chmod(tmp, 0o755)
    nobody = pwd.getpwnam("nobody")
    maildir = os.path.join(tmp, "home", "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub))
    for i, path in enumerate(emls):
        name = "%d.M%dP1.dovetail:2," % (1700000000 + i, i)
        shutil.copyfile(path, os.path.join(maildir, "cur", name))
    for root, dirs, files in os.walk(os.path.join(tmp, "home")):
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        for f in files:
            os.chown(os.path.join(root, f), nobody.pw_uid, nobody.pw_gid)
    port = peers.free_port()
    dv = peers.PrivateDovecot(
        tmp, nobody, {"test": os.path.join(tmp, "home")}, "pass", "imap",
        """disable_plaintext_auth = no
auth_mechanisms = plain
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {p}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
""".format(p=port), "imap", "dovecot-imapd", ready_port=port)
    with dv:
        imap = imaplib.IMAP4("127.0.0.1", port)
        imap.login("test", "pass")
        typ, data = imap.select("INBOX", readonly=True)
        assert int(data[0]) == len(emls), data
        for i, path in enumerate(emls):
            seq = str(i + 1)
            base = path[:-4]
            typ, data = imap.fetch(seq, "(BODY.PEEK[])")
            # Dovecot sends LF-only files with CRLF, NULs as 0x80.
            got = raw_value(data, b"BODY[]").split(b"\r\n", 1)[1]
            want = open(path, "rb").read().replace(b"\0", b"\x80")
            assert got.replace(b"\r\n", b"\n") == \
                want.replace(b"\r\n", b"\n"), "uid order differs: " + path
            if os.path.basename(base) in OVERRIDES:
                continue
            for item, ext in ((b"BODYSTRUCTURE", "bodystructure"),
                              (b"BODY", "body"),
                              (b"ENVELOPE", "envelope"),
                              (b"RFC822.SIZE", "size")):
                typ, data = imap.fetch(seq, "(" + item.decode() + ")")
                assert typ == "OK", (path, item, data)
                value = raw_value(data, item) + b"\n"
                ref = base + "." + ext + ".ref"
                if not CHECK:
                    with open(ref, "wb") as f:
                        f.write(value)
                elif open(ref, "rb").read() != value:
                    print("DIFFERS from Dovecot: %s\n  dovecot: %r"
                          % (ref, value))
                    differences += 1
        imap.logout()
    shutil.rmtree(tmp)
    if CHECK:
        print("refs of %d messages checked against Dovecot: %d differ"
              % (len(emls), differences))
        sys.exit(1 if differences else 0)
    print("wrote refs for %d messages" % len(emls))


if __name__ == "__main__":
    main()
