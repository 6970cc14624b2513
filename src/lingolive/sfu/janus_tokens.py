"""Janus signed tokens (``token_auth`` with ``token_auth_secret``): how a browser gets into
Janus without the API secret.

Browsers talk to Janus directly in SFU mode, and a page cannot keep a secret, so Janus's
``api_secret`` is the node's alone and every listener gets a token of its own in
``sfu_ready``. Janus verifies it without asking anyone (signed mode, ``auth.c``): the token
is ``<expiry>,janus,<plugin>…:<signature>``, the signature the base64 HMAC-SHA1 of the part
before the colon under ``token_auth_secret``; Janus checks it on every request (keepalives
included, so it must outlive the listener's session) and lets it attach only to the plugins
it names. Only a holder of a room invite gets one (``sfu_listen`` checks the invite), and a
token opens VideoRoom only: rooms are private and made with the VideoRoom ``admin_key``,
which stays with the node.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

#: The realm Janus checks core requests against (``janus_auth_check_token``).
REALM = "janus"
#: The plugin a listener's page uses.
VIDEOROOM = "janus.plugin.videoroom"
#: A listener gets its next token this long before the last one expires, at most.
RENEW_MARGIN_S = 300.0


def sign(
    secret: str, ttl_s: float, plugins: tuple[str, ...] = (VIDEOROOM,), now: float | None = None
) -> str:
    """A token Janus accepts until ``now + ttl_s`` (whole seconds, rounded up) for the core
    API and ``plugins``."""
    if not secret:
        raise ValueError("a Janus token needs the token_auth_secret")
    if any("," in p or ":" in p for p in plugins):
        raise ValueError(f"plugin names cannot hold ',' or ':': {plugins}")
    expiry = int((time.time() if now is None else now) + ttl_s + 0.999)
    data = ",".join([str(expiry), REALM, *plugins])
    digest = hmac.new(secret.encode(), data.encode(), hashlib.sha1).digest()
    return f"{data}:{base64.b64encode(digest).decode()}"


def renew_after(ttl_s: float) -> float:
    """When (seconds after a token was signed) its holder gets a fresh one: the last
    tenth of its life, at most ``RENEW_MARGIN_S`` before it expires, so a page has time
    to join again (and to try again if Janus is slow) before Janus refuses it."""
    return ttl_s - min(RENEW_MARGIN_S, ttl_s / 10)
