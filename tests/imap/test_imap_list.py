#!/usr/bin/env python3
"""test_imap_list - the mailbox tree commands of imapd/cmd_list.c over imapd
-P, checked against the wire and the disk: special-use folders created and
subscribed at first login, LIST patterns (*, %, reference, several
patterns, INBOX in any case), CHILDREN attributes and \\Noselect parents,
LIST-EXTENDED (SUBSCRIBED, RECURSIVEMATCH with CHILDINFO, SPECIAL-USE
selection and return options, bad options), LIST-STATUS, non-ASCII names
in modified UTF-7 on the wire and on disk, CREATE/DELETE/RENAME (with
children, INBOX rename), SUBSCRIBE/LSUB and Dovecot's subscriptions file,
STATUS, GETQUOTAROOT/GETQUOTA/SETQUOTA.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from imap_harness import ImapEnv  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def cmd(raw, tag, text):
    """(untagged lines as str without CRLF, tagged line)."""
    untagged, tagged = raw.command(tag, text)
    return ([u.decode("utf-8", "replace").rstrip("\r\n") for u in untagged],
            tagged.decode("utf-8", "replace").rstrip("\r\n"))


def lists(lines, kind="LIST"):
    """{name: (attrs set, rest)} of LIST/LSUB lines."""
    out = {}
    for line in lines:
        m = re.match(r'\* %s \(([^)]*)\) "\." ("(?:[^"\\]|\\.)*"|\S+)(.*)$'
                     % kind, line)
        if m:
            name = m.group(2)
            if name.startswith('"'):
                name = name[1:-1]
            out[name] = (set(m.group(1).split()), m.group(3))
    return out


def test_autocreate_and_patterns(env):
    raw = env.raw()
    raw.expect(r"^\* PREAUTH")
    root = env.maildir("INBOX")
    for f in ("Drafts", "Sent", "Trash", "Junk", "Archive"):
        check(os.path.isdir(os.path.join(root, "." + f, "cur")),
              f"autocreated .{f}")
        check(os.path.exists(os.path.join(root, "." + f, "maildirfolder")),
              f".{f}/maildirfolder")
    with open(os.path.join(root, "subscriptions")) as fp:
        subs = fp.read().split("\n")
    check(set(subs) >= {"Drafts", "Sent", "Trash", "Junk", "Archive"},
          f"autocreate=subscribe: {subs}")

    u, t = cmd(raw, "a1", 'LIST "" ""')
    check(u == ['* LIST (\\Noselect) "." ""'] and " OK " in t,
          f'LIST "" "": {u} {t}')
    u, t = cmd(raw, "a2", 'LIST "" "*"')
    ls = lists(u)
    check(list(ls)[0] == "INBOX", f"INBOX first: {list(ls)}")
    check(ls.get("Sent", (set(),))[0] == {"\\HasNoChildren", "\\Sent"},
          f"Sent attrs: {ls.get('Sent')}")
    check(ls.get("Trash", (set(),))[0] == {"\\HasNoChildren", "\\Trash"},
          f"Trash attrs: {ls.get('Trash')}")

    for name in ("Work", "Work.Projects", "Work.Projects.Alpha",
                 "Deep.Only.Leaf"):
        u, t = cmd(raw, "c", f'CREATE "{name}"')
        check(" OK " in t, f"CREATE {name}: {t}")
    u, t = cmd(raw, "c2", 'CREATE "Work"')
    check("[ALREADYEXISTS]" in t, f"CREATE existing: {t}")
    u, t = cmd(raw, "c3", "CREATE inbox")
    check("[ALREADYEXISTS]" in t, f"CREATE inbox: {t}")
    u, t = cmd(raw, "c4", 'CREATE "Trailing."')
    check(" OK " in t and os.path.isdir(os.path.join(root, ".Trailing")),
          f"CREATE with a trailing separator: {t}")
    for bad in ('"a..b"', '".lead"', '"a/b"', '"x*"'):
        u, t = cmd(raw, "c5", f"CREATE {bad}")
        check(" NO " in t, f"CREATE {bad} refused: {t}")

    u, t = cmd(raw, "l1", 'LIST "" "%"')
    ls = lists(u)
    check("Work" in ls and "Work.Projects" not in ls, f"% one level: {ls}")
    check(ls.get("Work", (set(),))[0] == {"\\HasChildren"},
          f"Work has children: {ls.get('Work')}")
    check(ls.get("Deep", (set(),))[0] == {"\\Noselect", "\\HasChildren"},
          f"missing parent is \\Noselect: {ls.get('Deep')}")
    u, t = cmd(raw, "l2", 'LIST "Work." "%"')
    check(set(lists(u)) == {"Work.Projects"}, f"reference: {u}")
    u, t = cmd(raw, "l3", 'LIST "" "Work.*"')
    check(set(lists(u)) == {"Work.Projects", "Work.Projects.Alpha"},
          f"Work.*: {u}")
    u, t = cmd(raw, "l4", 'LIST "" "inBOX"')
    check(set(lists(u)) == {"INBOX"}, f"INBOX any case: {u}")
    u, t = cmd(raw, "l5", 'LIST "" ("Sent" "Trash" "nothing")')
    check(set(lists(u)) == {"Sent", "Trash"}, f"pattern list: {u}")
    u, t = cmd(raw, "l6", 'LIST "" "Deep.%.Leaf"')
    check(set(lists(u)) == {"Deep.Only.Leaf"}, f"% in the middle: {u}")


def test_listext(env):
    raw = env.raw()
    raw.expect(r"^\* PREAUTH")
    for name in ("Tofu", "Fruit", "Fruit.Apple", "Fruit.Banana", "Veg.Leek"):
        cmd(raw, "c", f'CREATE "{name}"')
    cmd(raw, "s1", "SUBSCRIBE Fruit.Banana")
    cmd(raw, "s2", "SUBSCRIBE Tofu")
    u, t = cmd(raw, "s3", "SUBSCRIBE NoSuchBox")
    check("[NONEXISTENT]" in t, f"SUBSCRIBE missing: {t}")

    u, t = cmd(raw, "x1", 'LIST (SUBSCRIBED) "" "*"')
    ls = lists(u)
    check("Tofu" in ls and "Fruit.Banana" in ls and "Fruit" not in ls,
          f"SUBSCRIBED selection: {ls}")
    check("\\Subscribed" in ls.get("Tofu", (set(),))[0],
          f"\\Subscribed attr: {ls.get('Tofu')}")
    u, t = cmd(raw, "x2", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    ls = lists(u)
    check("Fruit" in ls and 'CHILDINFO' in ls["Fruit"][1] and
          "\\Subscribed" not in ls["Fruit"][0],
          f"RECURSIVEMATCH CHILDINFO: {ls}")
    check("Veg" not in ls, f"RECURSIVEMATCH without subscribed child: {ls}")
    u, t = cmd(raw, "x3", 'LIST (RECURSIVEMATCH) "" "%"')
    check(" BAD " in t, f"RECURSIVEMATCH alone: {t}")
    u, t = cmd(raw, "x4", 'LIST (BOGUS) "" "%"')
    check(" BAD " in t, f"unknown selection option: {t}")
    u, t = cmd(raw, "x5", 'LIST "" "%" RETURN (BOGUS)')
    check(" BAD " in t, f"unknown return option: {t}")
    u, t = cmd(raw, "x6", 'LIST (SPECIAL-USE) "" "*"')
    check(set(lists(u)) == {"Drafts", "Sent", "Trash", "Junk", "Archive"},
          f"SPECIAL-USE selection: {u}")
    u, t = cmd(raw, "x7", 'LIST "" "Fruit" RETURN (SUBSCRIBED)')
    check(lists(u).get("Fruit", (None,))[0] == set(),
          f"extended LIST returns only what was asked: {u}")
    u, t = cmd(raw, "x8", 'LIST "" "F*" RETURN (CHILDREN)')
    ls = lists(u)
    check(ls.get("Fruit", (set(),))[0] == {"\\HasChildren"} and
          ls.get("Fruit.Apple", (set(),))[0] == {"\\HasNoChildren"},
          f"RETURN (CHILDREN): {ls}")
    u, t = cmd(raw, "x9", 'LIST "" "Veg" RETURN (CHILDREN)')
    check(lists(u).get("Veg", (set(),))[0] == {"\\NonExistent",
                                               "\\HasChildren"},
          f"\\NonExistent in extended LIST: {u}")

    env.deliver(b"Subject: a\r\n\r\nx\r\n", folder="Tofu")
    env.deliver(b"Subject: b\r\n\r\ny\r\n", folder="Tofu", flags="S")
    u, t = cmd(raw, "st1", 'LIST "" "Tofu" RETURN (STATUS (MESSAGES UNSEEN))')
    check(len(u) == 2 and u[0].startswith("* LIST") and
          u[1] == "* STATUS Tofu (MESSAGES 2 UNSEEN 1)",
          f"LIST-STATUS: {u}")
    u, t = cmd(raw, "st2", "STATUS Tofu (MESSAGES UIDNEXT UIDVALIDITY)")
    m = re.match(r"\* STATUS Tofu \(MESSAGES 2 UIDNEXT (\d+) UIDVALIDITY "
                 r"(\d+)\)", u[0] if u else "")
    check(m is not None and int(m.group(1)) == 3, f"STATUS: {u} {t}")
    with open(os.path.join(env.maildir("Tofu"), "dovecot-uidlist")) as fp:
        v = re.search(r"\bV(\d+)", fp.readline()).group(1)
    check(m is not None and m.group(2) == v, "STATUS UIDVALIDITY = uidlist")
    u, t = cmd(raw, "st3", "STATUS Nope (MESSAGES)")
    check("[NONEXISTENT]" in t, f"STATUS missing: {t}")
    u, t = cmd(raw, "st4", "STATUS Tofu (BOGUS)")
    check(" BAD " in t, f"STATUS bad item: {t}")

    u, t = cmd(raw, "ls1", 'LSUB "" "%"')
    ls = lists(u, "LSUB")
    check(ls.get("Fruit", (None,))[0] == {"\\Noselect"} and "Tofu" in ls,
          f"LSUB % shows unsubscribed parent \\Noselect: {ls}")
    u, t = cmd(raw, "ls2", 'LSUB "" "*"')
    ls = lists(u, "LSUB")
    check("Fruit" not in ls and "Fruit.Banana" in ls, f"LSUB *: {ls}")
    cmd(raw, "us", "UNSUBSCRIBE Tofu")
    u, t = cmd(raw, "ls3", 'LSUB "" "Tofu"')
    check(u == [], f"UNSUBSCRIBE: {u}")


def test_utf7_names(env):
    raw = env.raw()
    raw.expect(r"^\* PREAUTH")
    root = env.maildir("INBOX")
    u, t = cmd(raw, "u1", 'CREATE "Entw&APw-rfe.Gr&APwA3w-e"')
    check(" OK " in t and
          os.path.isdir(os.path.join(root, ".Entw&APw-rfe.Gr&APwA3w-e", "cur")),
          f"mUTF-7 on disk: {t} {os.listdir(root)}")
    u, t = cmd(raw, "u2", 'LIST "" "Entw&APw-rfe*"')
    check(set(lists(u)) == {"Entw&APw-rfe", "Entw&APw-rfe.Gr&APwA3w-e"},
          f"mUTF-7 on the wire: {u}")
    u, t = cmd(raw, "u3", 'CREATE "bad&AAA"')
    check(" BAD " in t, f"invalid mUTF-7 is BAD: {t}")
    cmd(raw, "u4", 'SUBSCRIBE "Entw&APw-rfe.Gr&APwA3w-e"')
    with open(os.path.join(root, "subscriptions")) as fp:
        check("Entw&APw-rfe.Gr&APwA3w-e\n" in fp.read(),
              "subscriptions hold the storage name")
    # RFC 6855 3: after ENABLE UTF8=ACCEPT names are UTF-8 both ways
    u, t = cmd(raw, "u5", "ENABLE UTF8=ACCEPT")
    check("* ENABLED UTF8=ACCEPT" in u, f"ENABLE UTF8=ACCEPT: {u}")
    u, t = cmd(raw, "u6", 'LIST "" "Entw*"')
    check(set(lists(u)) == {"Entwürfe", "Entwürfe.Grüße"},
          f"UTF-8 names after ENABLE: {u}")
    check(not any("&" in x for x in u), f"mUTF-7 sent after ENABLE: {u}")
    u, t = cmd(raw, "u7", 'CREATE "Ölfass"')
    check(" OK " in t and
          os.path.isdir(os.path.join(root, ".&ANY-lfass")),
          f"UTF-8 CREATE stored in mUTF-7: {t}")
    u, t = cmd(raw, "u8", 'STATUS "Ölfass" (MESSAGES)')
    check(u == ['* STATUS "Ölfass" (MESSAGES 0)'],
          f"STATUS of a UTF-8 name: {u}")


def test_delete_rename(env):
    raw = env.raw()
    raw.expect(r"^\* PREAUTH")
    root = env.maildir("INBOX")
    for name in ("A", "A.B", "A.B.C", "Keep"):
        cmd(raw, "c", f'CREATE "{name}"')
    cmd(raw, "s", "SUBSCRIBE A.B")
    env.deliver(b"Subject: x\r\n\r\nbody\r\n", folder="A.B")
    u, t = cmd(raw, "r1", "RENAME A Z")
    check(" OK " in t, f"RENAME: {t}")
    for d in (".Z", ".Z.B", ".Z.B.C"):
        check(os.path.isdir(os.path.join(root, d, "cur")), f"renamed {d}")
    check(not os.path.exists(os.path.join(root, ".A.B")), "old child gone")
    check(len(os.listdir(os.path.join(root, ".Z.B", "new"))) +
          len(os.listdir(os.path.join(root, ".Z.B", "cur"))) == 1,
          "message moved with its folder")
    u, t = cmd(raw, "r1s", 'LSUB "" "*"')
    check("Z.B" in lists(u, "LSUB") and "A.B" not in lists(u, "LSUB"),
          f"subscription follows the rename: {u}")
    u, t = cmd(raw, "r2", "RENAME Z Keep")
    check("[ALREADYEXISTS]" in t, f"RENAME onto existing: {t}")
    u, t = cmd(raw, "r3", "RENAME Nope Other")
    check("[NONEXISTENT]" in t, f"RENAME missing: {t}")

    u, t = cmd(raw, "d1", "DELETE Z")
    check(" OK " in t and not os.path.exists(os.path.join(root, ".Z")) and
          os.path.isdir(os.path.join(root, ".Z.B")),
          f"DELETE keeps children: {t}")
    u, t = cmd(raw, "d2", 'LIST "" "Z"')
    check(lists(u).get("Z", (set(),))[0] == {"\\Noselect", "\\HasChildren"},
          f"deleted parent is \\Noselect: {u}")
    u, t = cmd(raw, "d3", "DELETE Z")
    check("[NONEXISTENT]" in t, f"DELETE again: {t}")
    u, t = cmd(raw, "d4", "DELETE inbox")
    check(" NO " in t, f"DELETE INBOX refused: {t}")
    check(not os.path.exists(os.path.join(root, "..DOVECOT-TRASH")),
          "no trash left")

    # RENAME INBOX (RFC 3501 6.3.5): messages move, INBOX stays, empty
    env.deliver(b"Subject: 1\r\n\r\none\r\n")
    env.deliver(b"Subject: 2\r\n\r\ntwo\r\n", flags="S")
    cmd(raw, "c", 'CREATE "INBOX.Child"')
    u, t = cmd(raw, "r4", "RENAME INBOX Old")
    check(" OK " in t, f"RENAME INBOX: {t}")
    u, t = cmd(raw, "r5", "STATUS INBOX (MESSAGES)")
    check(u == ["* STATUS INBOX (MESSAGES 0)"], f"INBOX empty: {u}")
    u, t = cmd(raw, "r6", "STATUS Old (MESSAGES UNSEEN)")
    check(u == ["* STATUS Old (MESSAGES 2 UNSEEN 1)"], f"Old has them: {u}")
    check(os.path.isdir(os.path.join(root, ".INBOX.Child")),
          "INBOX's children stay")

    # deleting the selected mailbox ends the session, as Dovecot
    u, t = cmd(raw, "sel", "SELECT Keep")
    check(" OK " in t, f"SELECT Keep: {t}")
    u, t = cmd(raw, "d5", "DELETE Keep")
    check(" OK " in t, f"DELETE selected: {t}")
    bye = raw.readline().decode()
    check(bye.startswith("* BYE Selected mailbox was deleted"),
          f"BYE after deleting the selected mailbox: {bye!r}")
    check(not os.path.exists(os.path.join(root, ".Keep")), ".Keep removed")


def test_dovecot_subscriptions(env):
    root = env.maildir("INBOX")
    env.maildir("Archive.2024")
    env.maildir("Entwürfe")
    # a file Dovecot 2.3 wrote in its version 2 format
    with open(os.path.join(root, "subscriptions"), "w") as fp:
        fp.write("V\t2\n\nINBOX\nArchive\t2024\nEntw&APw-rfe\n")
    raw = env.raw()
    raw.expect(r"^\* PREAUTH")
    u, t = cmd(raw, "a", 'LSUB "" "*"')
    ls = lists(u, "LSUB")
    check({"INBOX", "Archive.2024", "Entw&APw-rfe"} <= set(ls),
          f"v2 subscriptions read: {ls}")
    cmd(raw, "b", "UNSUBSCRIBE Entw&APw-rfe")
    cmd(raw, "c", "SUBSCRIBE Archive")
    with open(os.path.join(root, "subscriptions")) as fp:
        data = fp.read()
    check(data.startswith("V\t2\n\nINBOX\nArchive\t2024\n") and
          "Entw" not in data and data.endswith("Archive\n"),
          f"v2 format kept: {data!r}")


def test_quota(env):
    raw = env.raw()
    raw.expect(r"^\* PREAUTH")
    env.deliver(b"Subject: q\r\n\r\n" + b"x" * 3000 + b"\r\n")
    u, t = cmd(raw, "q1", "GETQUOTAROOT INBOX")
    check(u[:1] == ['* QUOTAROOT INBOX ""'] and " OK " in t,
          f"GETQUOTAROOT: {u} {t}")
    check(any(x.startswith('* QUOTA "" (') for x in u), f"QUOTA line: {u}")
    u, t = cmd(raw, "q2", 'GETQUOTA ""')
    check(" OK " in t and u and u[0].startswith('* QUOTA ""'),
          f"GETQUOTA: {u} {t}")
    u, t = cmd(raw, "q3", 'GETQUOTA "other"')
    check(" NO " in t, f"GETQUOTA unknown root: {t}")
    u, t = cmd(raw, "q4", 'SETQUOTA "" (STORAGE 10)')
    check(" NO " in t, f"SETQUOTA refused: {t}")
    u, t = cmd(raw, "q5", "GETQUOTAROOT Nope")
    check("[NONEXISTENT]" in t, f"GETQUOTAROOT missing: {t}")


def test_closed_and_rename_selected(env):
    """[CLOSED] (RFC 7162 3.2.11, RFC 9051 7.1) only when a mailbox was
    selected before; renaming the selected mailbox (or its parent) closes
    it and ends the session, as DELETE does."""
    root = env.maildir("INBOX")
    env.maildir("Work.Sub")
    env.maildir("Other")
    raw = env.raw()
    raw.expect(r"^\* PREAUTH")

    def closed(u):
        return any("[CLOSED]" in x for x in u)
    u, t = cmd(raw, "c1", "SELECT INBOX")
    check(" OK " in t and not closed(u), f"first SELECT: {u}")
    u, t = cmd(raw, "c2", "EXAMINE Other")
    check(" OK " in t and closed(u) and "[CLOSED]" in u[0],
          f"reselect: [CLOSED] first: {u}")
    cmd(raw, "c3", "UNSELECT")
    u, t = cmd(raw, "c4", "SELECT INBOX")
    check(" OK " in t and not closed(u), f"SELECT after UNSELECT: {u}")
    u, t = cmd(raw, "c5", "SELECT Nope")
    check(" NO " in t and closed(u), f"failed SELECT closes INBOX: {u} {t}")
    u, t = cmd(raw, "c6", "SELECT INBOX")
    check(" OK " in t and not closed(u),
          f"SELECT after a failed SELECT: {u}")
    # renaming an unselected mailbox keeps the session
    u, t = cmd(raw, "r1", "RENAME Other Other2")
    check(" OK " in t, f"RENAME unselected: {t}")
    u, t = cmd(raw, "r2", "NOOP")
    check(" OK " in t, f"session goes on: {t}")
    u, t = cmd(raw, "s1", "SELECT Work.Sub")
    check(" OK " in t, f"SELECT Work.Sub: {t}")
    u, t = cmd(raw, "r3", "RENAME Work Done")
    check(" OK " in t, f"RENAME the selected mailbox's parent: {t}")
    bye = raw.readline().decode()
    check(bye.startswith("* BYE Selected mailbox was renamed"),
          f"BYE after renaming the selected mailbox: {bye!r}")
    check(os.path.isdir(os.path.join(root, ".Done.Sub", "cur")) and
          not os.path.exists(os.path.join(root, ".Work.Sub")),
          f"renamed on disk: {os.listdir(root)}")


def test_create_special_use(env):
    """RFC 6154 5.2 CREATE ... (USE (...)): special uses come from
    imap_special_use (as Dovecot's from its config): a configured one is
    accepted, any other is NO [USEATTR] and nothing is created."""
    root = env.maildir("INBOX")
    raw = env.raw()
    m = raw.expect(r"^\* PREAUTH")
    check(b"CREATE-SPECIAL-USE" in m.string.split(),
          f"CREATE-SPECIAL-USE advertised: {m.string}")
    cmd(raw, "p0", "DELETE Sent")
    u, t = cmd(raw, "p1", "CREATE Sent (USE (\\Sent))")
    check(" OK " in t and os.path.isdir(os.path.join(root, ".Sent", "cur")),
          f"CREATE with its configured use: {t}")
    u, t = cmd(raw, "p2", 'LIST "" "Sent" RETURN (SPECIAL-USE)')
    check(any("\\Sent" in x for x in u), f"LIST shows the use: {u}")
    u, t = cmd(raw, "p3", "CREATE Mine (USE (\\Sent))")
    check(" NO [USEATTR] " in t and
          not os.path.exists(os.path.join(root, ".Mine")),
          f"unconfigured use: {t}")
    u, t = cmd(raw, "p4", "CREATE Mine (USE (\\Bogus))")
    check(" NO [USEATTR] " in t, f"unknown use: {t}")
    u, t = cmd(raw, "p5", "CREATE Mine (USE ())")
    check(" OK " in t and os.path.isdir(os.path.join(root, ".Mine")),
          f"empty USE list: {t}")
    u, t = cmd(raw, "p6", "CREATE Other (FOO)")
    check(" BAD " in t, f"unknown CREATE parameter: {t}")


def main():
    tests = (test_create_special_use, test_autocreate_and_patterns, test_listext, test_utf7_names,
             test_delete_rename, test_dovecot_subscriptions, test_quota,
             test_closed_and_rename_selected)
    for t in tests:
        with ImapEnv() as env:
            try:
                t(env)
            except Exception as e:
                import traceback
                traceback.print_exc()
                check(False, f"{t.__name__}: {e!r}")
                print(env.log()[-2000:])
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
