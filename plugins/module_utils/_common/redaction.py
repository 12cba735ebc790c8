# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values as they may be shown (results, reports, diffs): nothing under a key that looks like a
credential, at any depth, whatever its type.

A key is secret-looking when one of its words (camelCase, snake_case, kebab-case and dotted names
split) is a credential word (password, token, secret, credentials, ...) or when it ends in the word
key (privateKey, apiKeys, ca.key; not keySize). A {name: ..., value: ...} pair (a container's env)
whose name is secret-looking has its value redacted too.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"
# A key given as text where a path was expected, as it is shown instead.
KEY_TEXT = "(key text, not shown)"
CREDENTIAL_WORDS = frozenset((
    "password", "passwd", "pwd", "passphrase", "token", "tokens", "secret", "secrets", "credential", "credentials",
    "creds", "apikey", "apikeys", "private", "privatekey", "authorization", "bearer", "cookie", "dsn",
    "connectionstring"))
KEY_WORDS = frozenset(("key", "keys"))
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def words(name) -> list[str]:
    """The words of a key name, lower case: apiKeys -> [api, keys], TLS_PRIVATE_KEY -> [tls, private, key]."""
    return [w.lower() for w in _WORDS.findall(str(name))]


def is_secret_key(name) -> bool:
    parts = words(name)
    joined = "".join(parts)
    return bool(parts) and (parts[-1] in KEY_WORDS or joined in CREDENTIAL_WORDS
                            or any(w in CREDENTIAL_WORDS for w in parts))


def redact(value):
    """value with everything under a secret-looking key replaced by REDACTED (dicts and lists walked)."""
    if isinstance(value, dict):
        named_secret = isinstance(value.get("name"), str) and is_secret_key(value["name"])
        return {k: REDACTED if is_secret_key(k) or (named_secret and k != "name") else redact(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def is_pem_text(item):
    """Whether an option's value is PEM text rather than a path: a path holds no line break and no
    PEM armour. Text may start with headers (openssl pkcs12 writes 'Bag Attributes' first)."""
    return any(mark in item for mark in ("\n", "\r", "-----BEGIN", "PRIVATE KEY"))
