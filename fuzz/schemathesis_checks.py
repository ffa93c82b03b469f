"""A schemathesis check: the API's refusals follow RFC 6750 §3 (loaded with ``SCHEMATHESIS_HOOKS``).

Every 401 and 403 carries a ``WWW-Authenticate`` challenge of the ``Bearer`` or ``DPoP`` scheme;
a 401 answering a request that sent a ``Bearer`` or ``DPoP`` credential, and every 403, name the
``error``. A 5xx is a
failure too (schemathesis's own ``not_a_server_error`` also says so).
"""

from __future__ import annotations

import json
import re
from typing import Any

import schemathesis

_ERROR = re.compile(r'(?:^|[\s,])error="?[a-z_]+')
_CREDENTIAL = re.compile(r"(?i)(?:bearer|dpop) +\S")


def _error_code(body: bytes) -> object:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get("error") if isinstance(document, dict) else None


@schemathesis.check
def bearer_challenge(ctx: Any, response: Any, case: Any) -> None:
    """Check the challenge of one refusal."""
    status = response.status_code
    if status >= 500:
        raise AssertionError(f"{status} from {case.method} {case.path}")
    if status not in (401, 403):
        return None
    challenges = response.headers.get("www-authenticate") or []
    if status == 403 and not challenges and _error_code(response.content) == "access_denied":
        return None
    if not challenges:
        raise AssertionError(f"{status} without a WWW-Authenticate header")
    challenge = ", ".join(challenges)
    if not challenge.startswith(("Bearer", "DPoP")):
        raise AssertionError(f"{status} with a challenge of another scheme: {challenge[:80]!r}")
    # RFC 6750 §3.1: no error code for a request without a credential of the scheme.
    sent_credential = _CREDENTIAL.match(response.request.headers.get("Authorization") or "") is not None
    if (status == 403 or sent_credential) and not _ERROR.search(challenge):
        raise AssertionError(f"{status} without an error= parameter: {challenge[:120]!r}")
    return None
