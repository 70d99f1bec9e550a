"""The AWS engines: AWS KMS (Lamassu ``AWS_KMS``) and AWS Secrets Manager (``AWS_SECRETS_MANAGER``).

``kms`` holds ``AwsKmsEngine`` (keys that never leave KMS; ``kms_keys`` maps key specs and
requests, ``kms_import`` wraps key material for import), ``secrets_manager`` holds
``AwsSecretsEngine`` (a PEM private key per secret). Both reach AWS through ``common``'s
connection and ``errors``' translation of botocore exceptions. boto3 is imported only
inside functions; a driver is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .kms import AwsKmsEngine
    from .secrets_manager import AwsSecretsEngine

__all__ = ["AwsKmsEngine", "AwsSecretsEngine"]
__getattr__ = lazy_exports(__name__, {"AwsKmsEngine": "kms", "AwsSecretsEngine": "secrets_manager"})
