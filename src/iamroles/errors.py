"""Every error iamroles answers with, one class per AWS error code.

::

    AwsError                      code, HTTP status, fault ("Sender"/"Receiver")
    ├── ValidationError           400  a parameter breaks the model's constraints
    ├── InvalidAction             400  unknown Action
    ├── MissingAction             400  no Action parameter
    ├── InvalidParameterValue     400
    ├── InvalidParameterCombination 400
    ├── MissingParameter          400
    ├── InvalidQueryParameter     400  a signed query string naming a parameter twice
    ├── InvalidInput              400  IAM's semantic input errors
    ├── MalformedPolicyDocument   400  (from iamroles.policy.PolicyError)
    ├── PackedPolicyTooLarge      400
    ├── NoSuchEntity              404
    ├── EntityAlreadyExists       409
    ├── DeleteConflict            409
    ├── LimitExceeded             409
    ├── UnmodifiableEntity        400
    ├── PasswordPolicyViolation   400  a password the account's password policy refuses
    ├── InvalidUserType           400  ChangePassword by anyone but an IAM user
    ├── EntityTemporarilyUnmodifiable 409
    ├── InvalidPublicKey          400  an SSH public key that is not one, or too weak
    ├── DuplicateSSHPublicKey     400
    ├── UnrecognizedPublicKeyEncoding 400
    ├── MalformedCertificate      400  a certificate, chain or private key that does not parse, or has expired
    ├── InvalidCertificate        400
    ├── DuplicateCertificate      409
    ├── KeyPairMismatch           400  a server certificate's private key is not its public key's
    ├── NotSupportedService       404  a service-specific credential for a service that has none
    ├── ReportNotPresent          410  GetCredentialReport before any GenerateCredentialReport
    ├── ReportExpired             410  GetCredentialReport of a report past its four hours
    ├── ConcurrentModification    409
    ├── FeatureEnabled            409  EnableOutboundWebIdentityFederation when it is enabled
    ├── FeatureDisabled           404  Disable/GetOutboundWebIdentityFederation(Info) when it is not
    ├── OutboundWebIdentityFederationDisabled 403  GetWebIdentityToken in an account that has not enabled it
    ├── SessionDurationEscalation 403  a web identity token that would outlive the caller's session
    ├── JWTPayloadSizeExceeded    400  a web identity token's claims over the size cap
    │   centralized root access (IAM's Organizations features; codes are the model's shape names):
    ├── OrganizationNotFound      400  the caller's account is in no organization
    ├── OrganizationNotInAllFeaturesMode 400
    ├── AccountNotManagementOrDelegatedAdministrator 400
    ├── CallerIsNotManagementAccount 400
    ├── ServiceAccessNotEnabled   400  trusted access for iam.amazonaws.com is not enabled in Organizations
    ├── AccessDenied              403  the policy decision said no
    ├── IncompleteSignature       400  SigV4: malformed Authorization
    ├── MissingAuthenticationToken 403 no credentials at all
    ├── InvalidClientTokenId      403  unknown or unusable access key / token
    ├── SignatureDoesNotMatch     403  wrong signature, or the request's time is off
    ├── ExpiredToken              400  temporary credentials past their expiry
    ├── RegionDisabled            403
    ├── InvalidAuthenticationCode 403  an MFA code that does not verify
    ├── InvalidIdentityToken      400
    ├── IDPRejectedClaim          403
    ├── ExpiredTokenException     400  (the web-identity flavour)
    ├── InvalidAuthorizationMessage 400 DecodeAuthorizationMessage: not ours, or expired
    ├── RequestEntityTooLarge     413  a body or query string over iamroles' size cap
    ├── ExpiredTradeInToken       400  (ExpiredTradeInTokenException) a delegation's trade-in token, used or past
    ├── InsufficientSessionLifetime 400 GetScopedCredentials past the calling session's expiry
    ├── InvalidSubjectCredentials 400  GetScopedCredentials called without a session to scope down
    ├── NameConflict              409  AcquireRole: the role's name is taken
    ├── RoleModified              409  AcquireRole: the template changed meanwhile
    ├── RoleTemplateDisabled      400  AcquireRole: a disabled role template
    │   S3's codes (SigV4's S3 mode, and what the middleware answers in S3's words):
    ├── InvalidRequest            400  a header S3 requires is missing (x-amz-content-sha256)
    ├── InvalidArgument           400  an x-amz-content-sha256 that is no hash and no S3 keyword
    ├── XAmzContentSHA256Mismatch 400  the body is not the one x-amz-content-sha256 declared
    ├── InvalidURI                400  a path the signature cannot cover as the app sees it
    ├── EntityTooLarge            413  a body over the middleware's max_body_size
    ├── FunctionalityNotImplemented 501 (NotImplemented) aws-chunked STREAMING-* payloads
    ├── InternalError             500  the service's own mistake (its mapping, its resource policy)
    ├── ServiceFailure            500
    ├── PolicyEvaluation          500  the simulator could not evaluate a policy
    ├── ServiceUnavailable        503  the audit trail cannot take the call's event (nothing was done)
    └── InternalFailure           500  anything unexpected

Messages are given at the raise site, in AWS's words. ``protocol.envelope``
turns any of these into the AWS XML error envelope, in one place.
"""
from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AwsError",
    "AccessDenied",
    "AccountNotManagementOrDelegatedAdministrator",
    "CallerIsNotManagementAccount",
    "ConcurrentModification",
    "FeatureDisabled",
    "FeatureEnabled",
    "JWTPayloadSizeExceeded",
    "OutboundWebIdentityFederationDisabled",
    "SessionDurationEscalation",
    "DeleteConflict",
    "EntityAlreadyExists",
    "ExpiredToken",
    "ExpiredTokenException",
    "IDPRejectedClaim",
    "IncompleteSignature",
    "InternalFailure",
    "InvalidAction",
    "InvalidAuthenticationCode",
    "InvalidAuthorizationMessage",
    "InvalidClientTokenId",
    "InvalidIdentityToken",
    "InvalidInput",
    "InvalidParameterCombination",
    "InvalidParameterValue",
    "InvalidQueryParameter",
    "LimitExceeded",
    "MalformedPolicyDocument",
    "NotSupportedService",
    "KeyPairMismatch",
    "DuplicateCertificate",
    "InvalidCertificate",
    "MalformedCertificate",
    "UnrecognizedPublicKeyEncoding",
    "DuplicateSSHPublicKey",
    "InvalidPublicKey",
    "EntityTemporarilyUnmodifiable",
    "InvalidUserType",
    "PasswordPolicyViolation",
    "MissingAction",
    "MissingAuthenticationToken",
    "MissingParameter",
    "NoSuchEntity",
    "OrganizationNotFound",
    "OrganizationNotInAllFeaturesMode",
    "PackedPolicyTooLarge",
    "PolicyEvaluation",
    "RegionDisabled",
    "ReportExpired",
    "ReportNotPresent",
    "RequestEntityTooLarge",
    "ServiceAccessNotEnabled",
    "ServiceFailure",
    "ServiceUnavailable",
    "SignatureDoesNotMatch",
    "UnmodifiableEntity",
    "ValidationError",
    "EntityTooLarge",
    "FunctionalityNotImplemented",
    "InternalError",
    "InvalidArgument",
    "InvalidRequest",
    "InvalidURI",
    "XAmzContentSHA256Mismatch",
    "ExpiredTradeInToken",
    "InsufficientSessionLifetime",
    "InvalidSubjectCredentials",
    "NameConflict",
    "RoleModified",
    "RoleTemplateDisabled",
]


class AwsError(Exception):
    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500
    fault: ClassVar[str] = "Receiver"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Sender(AwsError):
    status = 400
    fault = "Sender"


class ValidationError(_Sender):
    code = "ValidationError"


class InvalidAction(_Sender):
    code = "InvalidAction"


class MissingAction(_Sender):
    code = "MissingAction"


class InvalidParameterValue(_Sender):
    code = "InvalidParameterValue"


class InvalidParameterCombination(_Sender):
    code = "InvalidParameterCombination"


class MissingParameter(_Sender):
    code = "MissingParameter"


class InvalidQueryParameter(_Sender):
    code = "InvalidQueryParameter"


class InvalidInput(_Sender):
    code = "InvalidInput"


class MalformedPolicyDocument(_Sender):
    code = "MalformedPolicyDocument"


class PackedPolicyTooLarge(_Sender):
    code = "PackedPolicyTooLarge"


class UnmodifiableEntity(_Sender):
    code = "UnmodifiableEntity"


class PasswordPolicyViolation(_Sender):
    code = "PasswordPolicyViolation"


class InvalidUserType(_Sender):
    code = "InvalidUserType"


class EntityTemporarilyUnmodifiable(_Sender):
    code = "EntityTemporarilyUnmodifiable"
    status = 409


class InvalidPublicKey(_Sender):
    code = "InvalidPublicKey"


class DuplicateSSHPublicKey(_Sender):
    code = "DuplicateSSHPublicKey"


class UnrecognizedPublicKeyEncoding(_Sender):
    code = "UnrecognizedPublicKeyEncoding"


class MalformedCertificate(_Sender):
    code = "MalformedCertificate"


class InvalidCertificate(_Sender):
    code = "InvalidCertificate"


class DuplicateCertificate(_Sender):
    code = "DuplicateCertificate"
    status = 409


class KeyPairMismatch(_Sender):
    code = "KeyPairMismatch"


class NotSupportedService(_Sender):
    code = "NotSupportedService"
    status = 404


class ReportNotPresent(_Sender):
    """GetCredentialReport: the account has no credential report (the model's CredentialReportNotPresentException)."""

    code = "ReportNotPresent"
    status = 410


class ReportExpired(_Sender):
    """GetCredentialReport: the account's credential report is older than four hours (CredentialReportExpiredException)."""

    code = "ReportExpired"
    status = 410


class NoSuchEntity(_Sender):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExists(_Sender):
    code = "EntityAlreadyExists"
    status = 409


class DeleteConflict(_Sender):
    code = "DeleteConflict"
    status = 409


class LimitExceeded(_Sender):
    code = "LimitExceeded"
    status = 409


class ConcurrentModification(_Sender):
    code = "ConcurrentModification"
    status = 409


# Outbound identity federation (IAM's and STS's models: FeatureEnabledException, FeatureDisabledException,
# OutboundWebIdentityFederationDisabledException, SessionDurationEscalationException, JWTPayloadSizeExceededException)
class FeatureEnabled(_Sender):
    code = "FeatureEnabled"
    status = 409


class FeatureDisabled(_Sender):
    code = "FeatureDisabled"
    status = 404


class OutboundWebIdentityFederationDisabled(_Sender):
    code = "OutboundWebIdentityFederationDisabledException"
    status = 403


class SessionDurationEscalation(_Sender):
    code = "SessionDurationEscalationException"
    status = 403


class JWTPayloadSizeExceeded(_Sender):
    code = "JWTPayloadSizeExceededException"


# centralized root access: IAM's Organizations features (the model's error shapes carry no code of their own, so
# the code on the wire is the shape's name; https://docs.aws.amazon.com/IAM/latest/APIReference/
# API_EnableOrganizationsRootSessions.html#API_EnableOrganizationsRootSessions_Errors)


class OrganizationNotFound(_Sender):
    code = "OrganizationNotFoundException"


class OrganizationNotInAllFeaturesMode(_Sender):
    code = "OrganizationNotInAllFeaturesModeException"


class AccountNotManagementOrDelegatedAdministrator(_Sender):
    code = "AccountNotManagementOrDelegatedAdministratorException"


class CallerIsNotManagementAccount(_Sender):
    code = "CallerIsNotManagementAccountException"


class ServiceAccessNotEnabled(_Sender):
    code = "ServiceAccessNotEnabledException"


class AccessDenied(_Sender):
    code = "AccessDenied"
    status = 403


class IncompleteSignature(_Sender):
    code = "IncompleteSignature"


class MissingAuthenticationToken(_Sender):
    code = "MissingAuthenticationToken"
    status = 403


class InvalidClientTokenId(_Sender):
    code = "InvalidClientTokenId"
    status = 403


class SignatureDoesNotMatch(_Sender):
    code = "SignatureDoesNotMatch"
    status = 403


class ExpiredToken(_Sender):
    code = "ExpiredToken"


class InvalidAuthenticationCode(_Sender):
    code = "InvalidAuthenticationCode"
    status = 403


class RegionDisabled(_Sender):
    code = "RegionDisabledException"
    status = 403


class InvalidIdentityToken(_Sender):
    code = "InvalidIdentityToken"


class IDPRejectedClaim(_Sender):
    code = "IDPRejectedClaim"
    status = 403


class ExpiredTokenException(_Sender):
    code = "ExpiredTokenException"


class PolicyEvaluation(AwsError):
    """API_SimulatePrincipalPolicy: "a provided policy could not be successfully evaluated"."""

    code = "PolicyEvaluation"


class ServiceFailure(AwsError):
    code = "ServiceFailure"


class ServiceUnavailable(AwsError):
    """AWS's common error for "a temporary failure of the server"
    (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html); SDKs retry it."""

    code = "ServiceUnavailable"
    status = 503


class InternalFailure(AwsError):
    code = "InternalFailure"


class InvalidAuthorizationMessage(_Sender):
    """DecodeAuthorizationMessage: the message is not one this server encoded, or it has expired."""

    code = "InvalidAuthorizationMessageException"
    status = 400


class RequestEntityTooLarge(_Sender):
    """The request's body or query string is larger than any IAM or STS call needs (refused before it is read)."""

    code = "RequestEntityTooLarge"
    status = 413


# --- S3's codes (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html) ---------------------


class InvalidRequest(_Sender):
    code = "InvalidRequest"


class InvalidArgument(_Sender):
    code = "InvalidArgument"


class XAmzContentSHA256Mismatch(_Sender):
    """S3: the body received is not the one whose SHA-256 the signed x-amz-content-sha256 header declared."""

    code = "XAmzContentSHA256Mismatch"


class InvalidURI(_Sender):
    code = "InvalidURI"


class EntityTooLarge(_Sender):
    """The middleware's own body cap (``max_body_size``), answered before the body is read past it."""

    code = "EntityTooLarge"
    status = 413


class FunctionalityNotImplemented(AwsError):
    """S3's NotImplemented ("A header you provided implies functionality that is not implemented"), named so as
    not to shadow Python's ``NotImplemented``."""

    code = "NotImplemented"
    status = 501
    fault = "Sender"


class InternalError(AwsError):
    """S3's name for an internal failure: what the middleware answers for the service's own mistakes."""

    code = "InternalError"


class ExpiredTradeInToken(_Sender):
    """GetDelegatedAccessToken: the trade-in token's delegation period is over, or it was already exchanged."""

    code = "ExpiredTradeInTokenException"


class InsufficientSessionLifetime(_Sender):
    """GetScopedCredentials: DurationSeconds past the calling session's own expiration."""

    code = "InsufficientSessionLifetime"


class InvalidSubjectCredentials(_Sender):
    """GetScopedCredentials: the caller's credentials are not a session that can be scoped down."""

    code = "InvalidSubjectCredentials"


class NameConflict(_Sender):
    """AcquireRole: the role a template would make clashes with one the account has."""

    code = "NameConflict"
    status = 409


class RoleModified(_Sender):
    """AcquireRole: the role template changed while the role was being made."""

    code = "RoleModified"
    status = 409


class RoleTemplateDisabled(_Sender):
    """AcquireRole: the role template (or that version of it) is disabled."""

    code = "RoleTemplateDisabled"
