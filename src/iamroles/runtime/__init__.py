"""iamroles.runtime: what the entry points run calls over, between the operations and the entry points.

``service``: one process's state (store, keys, caches, clock, the :class:`~iamroles.auth.authenticate.Authenticator`);
``call``: the one wrapper every endpoint's call goes through (errors to the wire, one audit record);
``trail``: that record (:class:`CallRecord`), typed, and the audit trail's writer as the runtime sees it;
``authorizer``: deciding requests other services received, in process or for the authorisation API;
``audit``: the audit trail's writer (:class:`~iamroles.runtime.audit.AuditLog`), a thread writing records in batches;
``asgi``: what the ASGI entry points share (the peer, the raw path, the body read under a cap, an answer sent).
"""
from .authorizer import AUTHORIZE_ACTION, Authorization, Authorizer, authorize_api, foreign_resource
from .call import Call, Reply, Wire
from .service import Service, UsageLog, database_url, default_data_dir
from .trail import AuditUnavailable, CallRecord, Trail, new_id, unaudited

__all__ = ["AUTHORIZE_ACTION", "AuditUnavailable", "Authorization", "Authorizer", "Call", "CallRecord", "Reply", "Service",
           "Trail", "UsageLog", "Wire", "authorize_api", "database_url", "default_data_dir", "foreign_resource", "new_id",
           "unaudited"]
