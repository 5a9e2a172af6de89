"""IAM roles in front of any ASGI app: SigV4 on every request, decided by IAM policy.

::

    from iamroles.middleware import IamAuthMiddleware, LocalAuthorizer, RemoteAuthorizer, Target

    def mapping(request):                       # RequestInfo -> what the request means
        bucket, _, key = request.path.lstrip("/").partition("/")
        if request.method == "GET":
            return Target("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")
        return None                             # anything unmapped is refused

    app = IamAuthMiddleware(app, mapping=mapping, services=["s3"],
                            authorizer=LocalAuthorizer.open("~/.iamroles"))      # in process
    #                       authorizer=RemoteAuthorizer("http://127.0.0.1:4566"))  # or over HTTP

Per request the middleware reads the body (up to ``max_body_size``), computes
its SHA-256, asks ``mapping`` what the request means (an action, a resource
ARN and optional condition keys), then has the authorizer verify the SigV4
signature and decide with the signer's policies and the service's resource
policy. Allowed: the wrapped app runs with the authenticated principal in
``scope["iamroles"]`` (an :class:`IamIdentity`) and the body replayed to it.
Otherwise the app never runs and the client gets the authorizer's status (403
for a denial or a bad signature) and an S3-style XML error document::

    <?xml version="1.0" encoding="UTF-8"?>
    <Error><Code>AccessDenied</Code><Message>User: arn:... is not authorized ...</Message><RequestId>...</RequestId></Error>

(``error_format="json"`` answers ``{"Error": {"Code", "Message"}, "RequestId"}``
instead, iamroles' own API shape). The request id is also in the
``x-amz-request-id`` header (and in ``IamIdentity.request_id`` for the app's
logs); for the remote authorizer it is the id of the authorisation call, so a
denial can be found in ``iamroles audit``.

The mapping: ``mapping(request: RequestInfo)`` (plain or async) returns a
:class:`Target`, an ``(action, resource)`` or ``(action, resource, context)``
tuple, ``None`` (refused: 403 AccessDenied, the default for anything the
service did not think of), or :data:`PUBLIC` (no authentication at all, for
health checks and the like; ``scope["iamroles"]`` is then ``None``).

aws:SourceIp is the ASGI scope's ``client`` address. Run the ASGI server so
that a client cannot choose it: uvicorn believes X-Forwarded-For from
127.0.0.1 by default, so pass ``proxy_headers=False``, or name only your real
proxies in ``forwarded_allow_ips`` (as ``iamroles serve --trusted-proxy`` does).

Resource policies: ``resource_policy`` is a policy document (JSON text, a dict,
or a compiled :class:`iamroles.policy.Policy` for the in-process backend), or
a callable ``(request, target) -> document | None`` (plain or async), for
per-resource policies such as an S3 bucket policy. As on AWS, a principal of
another account is allowed only if both its identity policies and the
resource policy allow. Resources belong to the service's account (see the
backends), and only to it: a target whose ``resource_account``, or the account
(or partition) in its ARN, is another's is refused as the service's mistake
(500 InternalError, the reason in the log), as the authorisation API answers
only about its caller's own account.
``resource_policy_must_grant=True`` makes the resource policy decide as a KMS
key policy or a role trust policy does: it must allow the principal itself
(by its ARN, its role, or its account, which then delegates to the
principal's identity policies); an identity policy's Allow alone no longer
suffices within the account, and a resource with no policy allows no one.

Two backends behind one small protocol (:class:`Backend`: ``async decide(Check)
-> Verdict`` and ``async aclose()``):

* :class:`LocalAuthorizer`: in process, over an :class:`iamroles.runtime.Service` (``iamroles.server.Service``)
  or opened on the server's data directory / database URL (sharing its store
  and master key: session tokens verify without a database read, and policy
  changes made through the server apply within ``cache_ttl``). Decisions take
  microseconds and run on the event loop (``in_thread=True`` moves them to a
  thread, e.g. on a remote PostgreSQL where a cache miss is a network read).
  A refusal is a call of the runtime's wrapper (:class:`iamroles.runtime.Call`),
  as every call of the server is: written by the same code, and recorded in the
  audit trail (``iamroles audit``): the signer, the action as event source and
  name (``s3:GetObject``: ``s3.amazonaws.com``, ``GetObject``), the resource,
  the decision and the error code; never a secret. ``audit="all"`` records
  allowed decisions too (CloudTrail's data events), ``audit="none"`` nothing.
* :class:`RemoteAuthorizer`: ``POST /iamroles/v1/authorize`` on an ``iamroles
  serve`` endpoint with :mod:`httpx` (async), signed with botocore's SigV4 for
  the service name ``iamroles``; the service's own credentials must be allowed
  ``iamroles:AuthorizeRequest``. If the endpoint cannot be reached the request
  is refused (503 ServiceUnavailable): the middleware fails closed.

Signing details (:mod:`iamroles.middleware.s3`): ``services`` limits the SigV4
service names accepted in the credential scope (``["s3"]`` for an S3-like
service: strongly recommended). A signature scoped to ``s3`` is checked with
S3's rules (SigV4's S3 mode): the path as sent, encoded once and never
normalised, so keys with ``//``, ``.`` and ``..`` segments work as on S3;
``x-amz-content-sha256`` required (400 InvalidRequest), the body checked
against it (400 XAmzContentSHA256Mismatch); presigned URLs sign
``UNSIGNED-PAYLOAD``. ``UNSIGNED-PAYLOAD`` with a body is refused unless
``allow_unsigned_payload``; ``STREAMING-*`` (aws-chunked) payloads are not
supported (501 NotImplemented). For any other service, paths with empty, ``.``
or ``..`` segments are refused (400 InvalidURI): SigV4 signs them normalised,
so the app would see a different path from the one signed.

The package: :mod:`~iamroles.middleware.types` (what the middleware, the
mapping and the backends exchange), :mod:`~iamroles.middleware.local` and
:mod:`~iamroles.middleware.remote` (the backends), :mod:`~iamroles.middleware.s3`
(what a signature covers), :mod:`~iamroles.middleware.asgi` (the middleware);
the ASGI plumbing it shares with the server is :mod:`iamroles.runtime.asgi`.
"""
from .asgi import IamAuthMiddleware
from .local import LocalAuthorizer
from .remote import RemoteAuthorizer
from .types import PUBLIC, Backend, Check, IamIdentity, RequestInfo, Target, Verdict, identity_of, new_request_id

__all__ = [
    "PUBLIC",
    "Backend",
    "Check",
    "IamAuthMiddleware",
    "IamIdentity",
    "LocalAuthorizer",
    "RemoteAuthorizer",
    "RequestInfo",
    "Target",
    "Verdict",
    "identity_of",
    "new_request_id",
]
