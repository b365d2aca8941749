"""A private Dovetail instance serving IMAP (issue 6) for end-to-end
tests and bench/imap_bench.py: auth (SQLite passdb, static userdb giving
the test vmail user), imap-login on a plain and an implicit TLS port,
imapd as vmail, and optionally the delivery path (smtpd -> qmgr -> LMTP
-> lmtpd). Maildirs are at inst.mail/DOMAIN/LOCAL/Maildir.

    from imap_instance import imap_instance, tls_context
    inst, acc = imap_instance(users={"alice@example.org": "pw"})
    with inst:
        inst.start()
        imaplib.IMAP4_SSL("127.0.0.1", inst.imaps_port,
                          ssl_context=tls_context())

Note: instance.py's "auth" service is a public socket (private=n), so
auth_client_path points at public/auth; the userdb socket is private/
auth-userdb (group mail_owner, which imapd and lmtpd run in).
Uses only the Python standard library. Needs root.
"""
import os
import ssl

from instance import VMAIL_USER, Instance

IMAP_SERVICES = ("auth", "auth-userdb", "imap-login", "imaps-login", "imapd")
DELIVERY_SERVICES = ("smtpd", "qmgr", "lmtp", "lmtpd")


def tls_context():
    """A client TLS context that accepts the instance's self-signed
    certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def user_maildir(inst, email):
    local, domain = email.rsplit("@", 1)
    return os.path.join(inst.mail, domain, local, "Maildir")


def imap_instance(users, delivery=False, main_cf_extra="", master_cf_extra="",
                  cert_cn="mx.test.example", userdb_extra="", **kw):
    """(Instance, Accounts) configured for IMAP; users: {email: password}
    (stored as {PLAIN}); cert_cn: the self-signed certificate's CN (mbsync
    checks it against the host it connects to, "127.0.0.1");
    userdb_extra: more static userdb fields ("quota_rule=*:storage=1G").
    Call inst.start() (in a with block)."""
    # userdb without gid: imapd and lmtpd run as vmail in mail_owner's
    # group (instance.py), and a userdb gid other than the process's own
    # draws a warning on every session.
    services = IMAP_SERVICES + (DELIVERY_SERVICES if delivery else ())
    inst = Instance(services=services, queue_run_delay=kw.pop("queue_run_delay", 1),
                    **kw)
    inst.need_daemons("imapd", "imap-login", "auth",
                      *(("smtpd", "qmgr", "smtp", "lmtpd") if delivery else ()))
    acc = inst.accounts()
    for email, pw in users.items():
        acc.add_user(email, "{PLAIN}" + pw)
    cert, key = inst.make_cert(cn=cert_cn)
    inst.cert = cert
    # max_use far below the logins a test makes, for imap-login and imapd
    # only (both read imapd.cf): they must ignore it, as sessions and TLS
    # proxies outlive it and master could start no second process at
    # maxproc 1.
    inst.files["imapd.cf"] = "max_use = 2\n"
    inst.master_cf_extra = master_cf_extra
    inst.main_cf_extra = acc.main_cf() + f"""passdb = sqlite:{acc.maps['passdb']}
userdb = static:uid={VMAIL_USER} home={inst.mail}/%d/%n{(" " + userdb_extra) if userdb_extra else ""}
auth_client_path = $queue_directory/public/auth
auth_socket_path = $queue_directory/private/auth-userdb
auth_failure_delay = 0s
mail_location = maildir:~/Maildir
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
smtpd_peername_lookup = no
mydestination = localhost
myorigin = test.example
minimal_backoff_time = 1s
maximal_backoff_time = 2s
""" + main_cf_extra
    return inst, acc


def make_maildir(path, owner):
    """path/{cur,new,tmp} (and the parents below the instance's mail
    directory) owned by owner (a pwd entry)."""
    created = []
    p = path
    while not os.path.exists(p):
        created.append(p)
        p = os.path.dirname(p)
    for d in reversed(created):
        os.mkdir(d, 0o700)
        os.chown(d, owner.pw_uid, owner.pw_gid)
    for sub in ("cur", "new", "tmp"):
        d = os.path.join(path, sub)
        if not os.path.isdir(d):
            os.mkdir(d, 0o700)
            os.chown(d, owner.pw_uid, owner.pw_gid)
    return path


def chown_tree(path, owner):
    for root, dirs, files in os.walk(path):
        os.chown(root, owner.pw_uid, owner.pw_gid)
        for n in files:
            os.chown(os.path.join(root, n), owner.pw_uid, owner.pw_gid)
