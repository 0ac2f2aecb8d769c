"""Radicale 3.1 auth plugin for the test peers: the OAuth token is the Basic password.

Radicale 3.1.8 only parses 'Authorization: Basic', so our CalDAV client sends the user's
email as the login and the OAuth token as the password. The token is checked at the same
introspection endpoint Dovecot uses (env Y360_INTROSPECT_URL, set by scripts/peers-up.sh);
the login must equal the username the endpoint returns (case-insensitive).
"""
import json
import os
import urllib.error
import urllib.parse
import urllib.request

from radicale import auth

URL = os.environ.get("Y360_INTROSPECT_URL", "http://127.0.0.1:8089/introspect")


class Auth(auth.BaseAuth):
    def login(self, login: str, password: str) -> str:
        if not login or not password:
            return ""
        data = urllib.parse.urlencode({"token": password}).encode()
        try:
            with urllib.request.urlopen(URL, data=data, timeout=5) as resp:
                info = json.load(resp)
        except (urllib.error.URLError, OSError, ValueError):
            return ""  # 401 from the endpoint, endpoint down or bad JSON: refuse
        if info.get("active") is True and str(info.get("username", "")).lower() == login.lower():
            return login
        return ""
