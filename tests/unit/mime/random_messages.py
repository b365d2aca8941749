#!/usr/bin/env python3
"""random_messages - writes random, often broken, MIME messages for a
differential test against Dovecot (see README): nested multiparts with
reused and prefixing boundaries, message/rfc822, digests, broken
Content-Type and parameter syntax, odd address lists, LF and CRLF.

usage: random_messages.py SEED OUTDIR [COUNT]
"""
import os
import random
import sys

random.seed(int(sys.argv[1]))
D = sys.argv[2]
COUNT = int(sys.argv[3]) if len(sys.argv) > 3 else 250
os.makedirs(D, exist_ok=True)
frag_addr = ['a@b.c', '"Q, x" <q@x.y>', 'Name <n@m>', '(c) u@v', 'u@v (cmt)', '<@r1,@r2:x@y>', 'grp: a@b, c@d;', 'grp2:;',
             '<>', 'bare', '@dom', 'loc@', '"quoted local"@d', '=?utf-8?q?E=C3=A9?= <e@w>', 'J\xfcrgen <j@d>', ',', ' ', '"unterminated <x@y>',
             'a@[1.2.3.4]', 'x.y@z', 'x . y @ z', '<a@b', 'Name <a@b> extra', 'a@b;', ':', ';', '"\\"" <e@s>', '(unclosed', 'a@b.c.', '..@x']
def addr():
    return ", ".join(random.choice(frag_addr) for _ in range(random.randint(0, 4)))
params = ['charset=utf-8', 'charset="iso-8859-1"', 'name="a b.txt"', 'name*0=a; name*1=b', 'name*=utf-8\'\'%41', 'x*1=y',
          'format=flowed', '=bad', 'novalue', 'a="unterminated', 'n*0*=%41; n*2=c', 'title*0="t"; title*1*=%42', ' (c) ', 'q="a\\"b"']
def ctype_params():
    return "".join("; " + random.choice(params) for _ in range(random.randint(0, 3)))
def eol():
    return random.choice(["\r\n"] * 6 + ["\n"])
def header(ct, extra=True):
    h = []
    if extra:
        for name in ["From", "To", "Cc", "Sender", "Reply-To", "Bcc"]:
            if random.random() < 0.3: h.append("%s: %s" % (name, addr()))
        if random.random() < 0.5: h.append("Subject: " + random.choice(["hi", "  sp  ", "=?utf-8?b?w6k=?= x", "a\r\n b", "t\tab", "\xe9t\xe9", "", "q\"q"]))
        if random.random() < 0.3: h.append("Date: " + random.choice(["Mon, 1 Jan 2024 00:00:00 +0000", "", "junk"]))
        if random.random() < 0.3: h.append("Message-ID: " + random.choice(["<a@b>", "  <c@d> ", "x"]))
    if ct is not None: h.append("Content-Type: " + ct)
    for name, vals in [("Content-Transfer-Encoding", ["base64", "7BIT", "quoted-printable", "x y", "(c) 8bit"]),
                       ("Content-Disposition", ["inline", "attachment; filename=f.txt", "attachment; filename*0=a; filename*1=b", "; x=y", "INLINE (c)"]),
                       ("Content-Language", ["en", "en, de", "(c) fr", ",", "en-US,"]),
                       ("Content-ID", ["<id@x>", " id "]), ("Content-Description", ["desc", "d\"q\"", "caf\xe9"]),
                       ("Content-Location", ["http://x/", "a\r\n b"]), ("Content-MD5", ["abc="])]:
        if random.random() < 0.15: h.append("%s: %s" % (name, random.choice(vals)))
    random.shuffle(h)
    return h
def body_lines():
    return [random.choice(["text", "", "--", "---x", "more text here", "=41=42", "SGVsbG8=", " ", "\xe9"]) for _ in range(random.randint(0, 4))]
def part(depth, bounds, digest=False):
    out = []
    r = random.random()
    if depth < 4 and r < 0.35:
        b = random.choice(["b%d" % depth, (bounds[-1] + "x") if bounds else "pre", bounds[-1] if bounds else "same", "B" + str(random.randint(0, 3))])
        sub = random.choice(["mixed", "alternative", "digest", "related"])
        ct = "multipart/%s; boundary=%s%s" % (sub, '"%s"' % b if random.random() < 0.5 else b, ctype_params() if random.random() < 0.3 else "")
        if random.random() < 0.1: ct = "multipart/mixed"
        out += header(ct, depth == 0)
        out.append("")
        out += body_lines() if random.random() < 0.3 else []
        for i in range(random.randint(0, 3)):
            out.append("--" + b + random.choice(["", "", " ", "  x"]))
            out += part(depth + 1, bounds + [b], sub == "digest")
        if random.random() < 0.8: out.append("--" + b + "--")
        out += body_lines() if random.random() < 0.3 else []
    elif depth < 4 and r < 0.5:
        out += header(random.choice(["message/rfc822", "message/RFC822; x=y", "message/global"]) if not digest or random.random() < 0.5 else None, depth == 0)
        out.append("")
        out += part(depth + 1, bounds)
    else:
        ct = random.choice([None, "text/plain", "text/html" + ctype_params(), "TEXT/Plain" + ctype_params(), "application/octet-stream" + ctype_params(),
                            "text/", "text", ";;", "image/png; name=x.png", "text/plain (c)" + ctype_params(), "multipart/", "message/partial"])
        out += header(ct, depth == 0)
        if random.random() < 0.9: out.append("")
        out += body_lines()
    return out
for n in range(COUNT):
    lines = part(0, [])
    e = eol()
    data = e.join(lines) + (e if random.random() < 0.8 else "")
    with open(os.path.join(D, "r%03d.eml" % n), "wb") as f:
        f.write(data.encode("latin-1"))
