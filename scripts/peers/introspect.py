#!/usr/bin/python3
"""Fallback OAuth2 token-introspection endpoint for the test peers.

Used by scripts/peers-up.sh only while the Go emulator (y360backup emulator) is not
buildable. Dovecot's oauth2 passdb and the Radicale auth plugin POST token=<tok> to
/introspect; the reply is 200 {"active": true, "username": ...} or 401 {"active": false}.

It validates tokens exactly as internal/y360emu does for users it does not know:
  "y0_emu." + base64url(JSON claims) + "." + base64url(HMAC-SHA256(key, the base64 text)),
key = the bytes of $Y360_TEST_EMU_KEY (default "y360emu-demo-key"), claims.exp_ms in the future;
the username is claims.email. So a token minted by an in-process emulator with the same key works.

  introspect.py ADDR          e.g. 127.0.0.1:8089
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "y0_emu."
KEY = os.environ.get("Y360_TEST_EMU_KEY", "y360emu-demo-key").encode()


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def lookup(tok):
    """The email a valid token belongs to, else None."""
    if not tok.startswith(PREFIX):
        return None
    payload, dot, sig = tok[len(PREFIX):].partition(".")
    if not dot:
        return None
    try:
        want = hmac.new(KEY, payload.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(b64url(sig), want):
            return None
        claims = json.loads(b64url(payload))
        if claims.get("exp_ms", 0) <= time.time() * 1000:
            return None
        return claims.get("email") or None
    except (ValueError, TypeError, AttributeError):
        return None


class Handler(BaseHTTPRequestHandler):
    wbufsize = 65536  # headers and body in one write (no Nagle/delayed-ACK stall)

    def log_message(self, fmt, *args):
        pass  # never log tokens

    def _token(self):
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        if "token" in query:
            return query["token"][0]
        n = int(self.headers.get("Content-Length") or 0)
        if not n:
            return ""
        return urllib.parse.parse_qs(self.rfile.read(n).decode()).get("token", [""])[0]

    def _handle(self):
        if urllib.parse.urlparse(self.path).path != "/introspect":
            code, obj = 404, {"error": "not found"}
        else:
            user = lookup(self._token())
            if user is None:
                code, obj = 401, {"active": False}
            else:
                code, obj = 200, {"active": True, "username": user, "email": user,
                                  "token_type": "Bearer", "exp": int(time.time()) + 3600}
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _handle


def main():
    host, _, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8089").rpartition(":")
    ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
