"""Signing our requests to NEO Bank: RSASSA-PKCS1-v1_5 with SHA-256 by an RSA-2048 (or larger)
key, behind one :class:`Signer` protocol with two implementations chosen by the tenant's
credentials (docs/providers/neobank.md, "Every request we send is signed"):

- :class:`PemSigner`: a PEM private key stored in the tenant's secret, signing with pycryptodome;
- :class:`KmsSigner`: an asymmetric KMS key (``RSA_2048``, ``SIGN_VERIFY``) that signs with
  ``kms:Sign``, so the private key never leaves KMS.

Both make the same signature for the same message (PKCS#1 v1.5 is deterministic), which the
tests verify with an independent library (``cryptography``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from typing import Any, Protocol

from payments.providers.base import Credentials, ProviderUnavailableError

KMS_SIGNING_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
# kms:Sign takes a message of at most 4096 bytes; a longer one is signed as its SHA-256 digest,
# which gives the same signature.
KMS_RAW_MESSAGE_LIMIT = 4096
MIN_KEY_BITS = 2048
PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:RSA )?PRIVATE KEY-----[\s\S]+-----END (?:RSA )?PRIVATE KEY-----\s*"
)
KMS_KEY_ID = re.compile(
    r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key/[A-Za-z0-9-]{1,64}|alias/[A-Za-z0-9/_-]{1,250})"
    r"|[A-Za-z0-9-]{36}|mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]{1,250}"
)


class Signer(Protocol):
    """Signs a message's bytes; the signature is raw bytes (the caller base64-encodes it)."""

    def sign(self, message: bytes) -> bytes: ...


class PemSigner:
    def __init__(self, pem: str) -> None:
        from Crypto.PublicKey import RSA

        try:
            key = RSA.import_key(pem)
        except (ValueError, IndexError, TypeError):
            raise ProviderUnavailableError(
                "the NEO Bank signing key is not a PEM RSA key"
            ) from None
        if not key.has_private():
            raise ProviderUnavailableError("the NEO Bank signing key is a public key")
        if key.size_in_bits() < MIN_KEY_BITS:
            raise ProviderUnavailableError(
                f"the NEO Bank signing key has under {MIN_KEY_BITS} bits"
            )
        self._key = key

    def sign(self, message: bytes) -> bytes:
        from Crypto.Hash import SHA256
        from Crypto.Signature import pkcs1_15

        return bytes(pkcs1_15.new(self._key).sign(SHA256.new(message)))

    def __repr__(self) -> str:  # never the key
        return "PemSigner(<redacted>)"


class KmsSigner:
    def __init__(self, key_id: str, client: Any | None = None) -> None:
        self.key_id = key_id
        self._client = client

    def sign(self, message: bytes) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client or _kms()
        if len(message) <= KMS_RAW_MESSAGE_LIMIT:
            arguments = {"Message": message, "MessageType": "RAW"}
        else:
            arguments = {"Message": hashlib.sha256(message).digest(), "MessageType": "DIGEST"}
        try:
            response = client.sign(
                KeyId=self.key_id, SigningAlgorithm=KMS_SIGNING_ALGORITHM, **arguments
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            raise ProviderUnavailableError(
                f"KMS could not sign with the tenant's key ({code})"
            ) from None
        except BotoCoreError as error:
            raise ProviderUnavailableError(
                f"KMS could not sign with the tenant's key ({type(error).__name__})"
            ) from None
        return bytes(response["Signature"])


@cache
def _kms() -> Any:
    import boto3

    return boto3.client("kms")


def signer_for(credentials: Credentials) -> Signer:
    """The tenant's signer: its KMS key when one is named, else its PEM key."""
    key_id = credentials.values.get("kms_key_id")
    if key_id:
        return KmsSigner(key_id)
    pem = credentials.values.get("signing_key_pem")
    if pem:
        return PemSigner(pem)
    raise ProviderUnavailableError("NEO Bank needs signing_key_pem or kms_key_id")


def signature_header(signer: Signer, message: bytes) -> str:
    return base64.b64encode(signer.sign(message)).decode("ascii")
