"""Standard Webhooks signing: the published test vector, tampering, staleness, rotation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from integrations.webhooks import WebhookVerificationError, sign, signature_headers, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _headers(signature=SIGNATURE, ts=TS, msg_id=MSG_ID):
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def test_published_vector_signs_and_verifies():
    # given the published vector / when signing / then the published signature comes out
    assert sign(SECRET, MSG_ID, TS, BODY) == SIGNATURE
    assert verify([SECRET], _headers(), BODY, now=TS) == MSG_ID


def test_reference_library_accepts_our_signature():
    # given our headers for a fresh message / when the reference package verifies them / then it accepts
    headers = signature_headers([SECRET], MSG_ID, BODY, timestamp=TS)
    # (the reference verify() checks against the wall clock, so compare with its signer)
    assert Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(TS, tz=UTC), BODY.decode()) == headers["webhook-signature"]


@pytest.mark.parametrize(
    ("headers", "body", "now", "code"),
    [
        (_headers(), b'{"test": 2432232315}', TS, "bad_signature"),
        (_headers(), BODY, TS + 301, "stale_timestamp"),
        (_headers(), BODY, TS - 301, "stale_timestamp"),
        (_headers(msg_id="msg_other"), BODY, TS, "bad_signature"),
        (_headers(signature="v2," + SIGNATURE[3:]), BODY, TS, "bad_signature"),
        (_headers(ts="abc"), BODY, TS, "invalid_timestamp"),
        ({"webhook-id": MSG_ID}, BODY, TS, "missing_headers"),
    ],
)
def test_refuses_tampered_stale_or_malformed(headers, body, now, code):
    # given a message altered in one way / when verifying / then it is refused with a stable code
    with pytest.raises(WebhookVerificationError) as info:
        verify([SECRET], headers, body, now=now)
    assert info.value.code == code


def test_several_signatures_and_secrets_for_rotation():
    # given a message signed with an old and a new secret
    new = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    headers = signature_headers([new, SECRET], MSG_ID, BODY, timestamp=TS)
    # when a receiver knows only one of them / then it verifies
    assert verify([SECRET], headers, BODY, now=TS) == MSG_ID
    assert verify([new], headers, BODY, now=TS) == MSG_ID
    # and a receiver knowing neither refuses
    with pytest.raises(WebhookVerificationError):
        verify(["whsec_" + "WFlaQUJDREVGR0hJSktMTU5PUFFSU1RV"], headers, BODY, now=TS)
