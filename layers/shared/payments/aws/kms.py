"""Envelope-free KMS encryption of small secrets (callback signing secrets) with our key."""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

from payments.config import get_settings


@cache
def _client() -> Any:
    import boto3

    return boto3.client("kms")


def encrypt(plaintext: str, context: dict[str, str]) -> str:
    """Base64 ciphertext; ``context`` binds it to its owner (it must match on decrypt)."""
    response = _client().encrypt(
        KeyId=get_settings().kms_key_id,
        Plaintext=plaintext.encode(),
        EncryptionContext=context,
    )
    return base64.b64encode(response["CiphertextBlob"]).decode()


def decrypt(ciphertext: str, context: dict[str, str]) -> str:
    response = _client().decrypt(
        CiphertextBlob=base64.b64decode(ciphertext), EncryptionContext=context
    )
    return bytes(response["Plaintext"]).decode()
