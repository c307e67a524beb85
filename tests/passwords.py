"""The cabinet's stored password in tests: a scrypt hash at 2**10 × 8 × 1 instead of production's 2**15 × 8 × 1.

Production's cost — a tenth of a second of a core for the hash and again for every sign-in — was paid by every
cabinet fixture and every test that signs in. ``check_password`` reads the parameters from the stored hash, so the
cabinet checks these cheaper ones through the same code; what ``web set-password`` stores (``hash_password``) keeps
production's parameters, which test_web_pages' ``test_set_password_then_sign_in`` asserts."""

from __future__ import annotations

import base64
import hashlib
import secrets
from functools import cache

from asurso_sync.web.auth import check_password

N, R, P = 2**10, 8, 1  # production: asurso_sync.web.auth._N, _R, _P


@cache
def stored_hash(password: str) -> str:
    """A hash of ``password`` in the stored format that ``check_password`` accepts (made once per test process)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    hashed = "$".join(
        ("scrypt", str(N), str(R), str(P), base64.b64encode(salt).decode(), base64.b64encode(digest).decode())
    )
    assert check_password(password, hashed) and not check_password(password + "!", hashed)
    return hashed
