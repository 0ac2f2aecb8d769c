#!/usr/bin/python3
"""Smoke check of the peers started by scripts/peers-up.sh, with raw protocol sessions.

  . ROOT/env.sh && scripts/peers/smoke.py

Tokens are minted here in internal/y360emu's format with the key $Y360_TEST_EMU_KEY, so the
checks work against the Go emulator and the python fallback alike.
Checks: XOAUTH2 with a valid token succeeds on Dovecot A and B (plain, STARTTLS and implicit TLS),
a wrong token fails; B's CAPABILITY is exactly Yandex's list (no CONDSTORE/QRESYNC) and B's
hierarchy separator is '|'; APPEND/SELECT/FETCH work on B; Radicale answers PROPFIND with 207 for
a valid token as Basic password and 401 for a wrong one; versitygw answers signed requests and refuses a wrong secret. Exits 1 on the first failed check.
"""
import base64
import hashlib
import hmac
import json
import http.client
import imaplib
import os
import socket
import ssl
import sys
import time
import uuid

YANDEX = "IMAP4rev1 CHILDREN UNSELECT LITERAL+ NAMESPACE XLIST UIDPLUS ENABLE ID IDLE MOVE".split()


def ok(msg):
    print("ok   " + msg)


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def hostport(addr):
    host, _, port = addr.rpartition(":")
    return host, int(port)


def xoauth2(user, token):
    return "user=%s\x01auth=Bearer %s\x01\x01" % (user, token)


def raw_auth(addr, user, token, tls_ctx=None, starttls=False):
    """One raw socket session: greeting, [STARTTLS], AUTHENTICATE XOAUTH2 with SASL-IR.
    Returns (tagged reply line, post-auth CAPABILITY line or None, seconds for AUTHENTICATE)."""
    host, port = hostport(addr)
    sock = socket.create_connection((host, port), timeout=10)
    if tls_ctx is not None and not starttls:
        sock = tls_ctx.wrap_socket(sock, server_hostname="localhost")
    f = sock.makefile("rb")
    f.readline()  # greeting
    if starttls:
        sock.sendall(b"s STARTTLS\r\n")
        line = f.readline()
        if not line.startswith(b"s OK"):
            fail("%s STARTTLS: %r" % (addr, line))
        sock = tls_ctx.wrap_socket(sock, server_hostname="localhost")
        f = sock.makefile("rb")
    ir = base64.b64encode(xoauth2(user, token).encode()).decode()
    t0 = time.time()
    sock.sendall(("a AUTHENTICATE XOAUTH2 %s\r\n" % ir).encode())
    caps = None
    while True:
        line = f.readline().decode().rstrip("\r\n")
        if line.startswith("+"):  # failure challenge with the JSON error: answer an empty line
            sock.sendall(b"\r\n")
            continue
        if line.startswith("* CAPABILITY"):
            caps = line
        if line.startswith("a "):
            break
    dt = time.time() - t0
    if line.startswith("a OK"):
        sock.sendall(b"c CAPABILITY\r\n")
        while True:
            l2 = f.readline().decode().rstrip("\r\n")
            if l2.startswith("* CAPABILITY"):
                caps = l2
            if l2.startswith("c "):
                break
        sock.sendall(b"z LOGOUT\r\n")
    sock.close()
    return line, caps, dt


def check_imap(name, addr, tls_addr, ca, token_for, yandex):
    user = "smoke-%s-%s@example.org" % (name, uuid.uuid4().hex[:8])
    tok = token_for(user)
    ctx = ssl.create_default_context(cafile=ca)
    for how, a, tls, st in (("plain", addr, None, False), ("STARTTLS", addr, ctx, True),
                            ("TLS", tls_addr, ctx, False)):
        line, caps, dt = raw_auth(a, user, tok, tls, st)
        if not line.startswith("a OK"):
            fail("%s %s XOAUTH2 valid token: %s" % (name, how, line))
        ok("%s %s XOAUTH2 valid token -> %s (%.1f ms)" % (name, how, line, dt * 1000))
    for what, bad in (("signed with another key", "key"), ("expired", "expired")):
        line, _, dt = raw_auth(addr, user, token_for(user, bad))
        if not line.startswith("a NO"):
            fail("%s XOAUTH2 token %s accepted: %s" % (name, what, line))
        ok("%s XOAUTH2 token %s -> %s (%.1f ms)" % (name, what, line, dt * 1000))
    line, _, _ = raw_auth(addr, "other-" + user, tok)
    if not line.startswith("a NO"):
        fail("%s XOAUTH2 token of another user accepted: %s" % (name, line))
    ok("%s XOAUTH2 token of another user -> %s" % (name, line))

    line, caps, _ = raw_auth(addr, user, tok)
    got = caps.split()[2:]
    if yandex:
        if got != YANDEX:
            fail("%s post-login CAPABILITY is not Yandex's list: %s" % (name, caps))
        ok("%s post-login CAPABILITY == Yandex's list (no CONDSTORE/QRESYNC): %s" % (name, " ".join(got)))
    else:
        if "CONDSTORE" not in got or "QRESYNC" not in got:
            fail("%s lacks CONDSTORE/QRESYNC: %s" % (name, caps))
        ok("%s post-login CAPABILITY has CONDSTORE QRESYNC (%d capabilities)" % (name, len(got)))

    # imaplib session: LIST separator, APPEND, SELECT, FETCH.
    host, port = hostport(addr)
    m = imaplib.IMAP4(host, port)
    m.authenticate("XOAUTH2", lambda _: xoauth2(user, tok).encode())
    sep = "|" if yandex else "/"
    typ, _ = m.create("Projects%sSub" % sep)
    if typ != "OK":
        fail("%s CREATE Projects%sSub: %s" % (name, sep, typ))
    typ, data = m.list()
    lines = [d.decode() for d in data]
    if not any(('"%s" Projects%sSub' % (sep, sep)) in l or ('"%s" "Projects%sSub"' % (sep, sep)) in l for l in lines):
        fail("%s LIST does not show Projects%sSub with separator %r: %s" % (name, sep, sep, lines))
    ok("%s LIST separator %r: %s" % (name, sep, "; ".join(lines)))
    msg = b"From: a@example.org\r\nTo: %s\r\nSubject: smoke\r\n\r\nhello\r\n" % user.encode()
    typ, data = m.append("Projects%sSub" % sep, r"(\Seen)", None, msg)
    if typ != "OK":
        fail("%s APPEND: %s %s" % (name, typ, data))
    typ, data = m.select("Projects%sSub" % sep, readonly=True)
    if typ != "OK" or data[0] != b"1":
        fail("%s SELECT: %s %s" % (name, typ, data))
    typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    if typ != "OK" or not data or data[0][1] != msg:
        fail("%s UID FETCH round trip: %s %s" % (name, typ, data))
    ok("%s APPEND + SELECT + UID FETCH round trip (%s)" % (name, data[0][0].decode()))
    m.logout()


def check_radicale(url, token_for):
    host, port = hostport(url.split("/")[2])
    user = "smoke-dav-%s@example.org" % uuid.uuid4().hex[:8]
    body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/>'
            '</d:prop></d:propfind>')
    for tok, want in ((token_for(user), 207), (token_for(user, "key"), 401), (token_for("x" + user), 401)):
        c = http.client.HTTPConnection(host, port, timeout=10)
        auth = base64.b64encode(("%s:%s" % (user, tok)).encode()).decode()
        c.request("PROPFIND", "/", body=body, headers={"Authorization": "Basic " + auth, "Depth": "0",
                                                      "Content-Type": "application/xml"})
        r = c.getresponse()
        r.read()
        if r.status != want:
            fail("radicale PROPFIND: got %d, want %d" % (r.status, want))
        ok("radicale PROPFIND -> %d (want %d)" % (r.status, want))


def s3_request(endpoint, access, secret, method, path, query=""):
    """One AWS SigV4-signed request (region us-east-1, unsigned payload); returns the HTTP status."""
    host = endpoint.split("/")[2]
    now = time.gmtime()
    amz_date, day = time.strftime("%Y%m%dT%H%M%SZ", now), time.strftime("%Y%m%d", now)
    headers = {"host": host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join([method, path, query] + ["%s:%s" % (k, headers[k]) for k in sorted(headers)] +
                          ["", signed, "UNSIGNED-PAYLOAD"])
    scope = "%s/us-east-1/s3/aws4_request" % day
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access, scope, signed, sig)
    h, port = hostport(host)
    c = http.client.HTTPConnection(h, port, timeout=10)
    c.request(method, path + ("?" + query if query else ""), headers=headers)
    r = c.getresponse()
    r.read()
    return r.status


def check_s3(endpoint, access, secret):
    bucket = "/smoke-%s" % uuid.uuid4().hex[:8]
    for what, sec, method, query, want in (
            ("create bucket", secret, "PUT", "", 200),
            ("list bucket", secret, "GET", "list-type=2", 200),
            ("wrong secret", "wrong", "GET", "list-type=2", 403),
            ("delete bucket", secret, "DELETE", "", 204)):
        got = s3_request(endpoint, access, sec, method, bucket, query)
        if got != want:
            fail("s3 %s: got %d, want %d" % (what, got, want))
        ok("s3 %s -> %d (signed request)" % (what, got))


def main():
    env = os.environ
    key = env["Y360_TEST_EMU_KEY"].encode()

    def token_for(user, bad=None):
        """A valid token for user; bad="key" signs it with another key, bad="expired" makes it expired."""
        now = int(time.time() * 1000)
        exp = now - 1000 if bad == "expired" else now + 3600 * 1000
        claims = {"sub": user, "email": user, "scp": ["mail:imap_full", "calendar:all"], "iat_ms": now - 5000,
                  "exp_ms": exp, "gen": 0, "jti": uuid.uuid4().hex[:16]}
        k = b"not-" + key if bad == "key" else key
        p = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        sig = base64.urlsafe_b64encode(hmac.new(k, p.encode(), hashlib.sha256).digest()).decode().rstrip("=")
        return "y0_emu." + p + "." + sig

    ca = env["Y360_TEST_DOVECOT_CA"]
    check_imap("dovecot-a", env["Y360_TEST_DOVECOT_ADDR"], env["Y360_TEST_DOVECOT_TLS_ADDR"], ca, token_for, False)
    check_imap("dovecot-b", env["Y360_TEST_DOVECOT_YANDEX_ADDR"], env["Y360_TEST_DOVECOT_YANDEX_TLS_ADDR"], ca,
               token_for, True)
    check_radicale(env["Y360_TEST_RADICALE_URL"], token_for)
    check_s3(env["Y360_TEST_S3_ENDPOINT"], env["Y360_TEST_S3_ACCESS_KEY"], env["Y360_TEST_S3_SECRET_KEY"])
    print("smoke: all checks passed")


if __name__ == "__main__":
    main()
