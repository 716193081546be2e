"""Standard Webhooks (https://www.standardwebhooks.com/) signing and verification, pure Python."""

from integrations.webhooks.signing import (
    WebhookVerificationError,
    sign,
    signature_headers,
    verify,
)

__all__ = ["WebhookVerificationError", "sign", "signature_headers", "verify"]
