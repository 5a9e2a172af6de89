"""Virtual MFA devices (TOTP), for the MFA conditions of AssumeRole and GetSessionToken.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateVirtualMFADevice.html,
API_EnableMFADevice.html (two consecutive codes), API_DeactivateMFADevice.html,
API_DeleteVirtualMFADevice.html, API_ListMFADevices.html, API_ListVirtualMFADevices.html,
API_ResyncMFADevice.html (two consecutive codes, the device's clock may have drifted), API_GetMFADevice.html,
API_TagMFADevice.html.
"""
from __future__ import annotations

import re
import threading
from typing import Any

from iamroles.errors import (
    AccessDenied,
    DeleteConflict,
    EntityAlreadyExists,
    InvalidAuthenticationCode,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
    ValidationError,
)
from iamroles.store import MfaDevice, Store, Tx
from iamroles.tokens import totp

from .common import account_quota, already_exists, entity_resource, get_entity, lock_account, page, paged, tag_keys, tags_in
from .context import CallContext
from .registry import Input, Output, operation
from .shared import register_tagging

__all__ = ["verify_mfa", "MfaReplay"]

_SERIAL = re.compile(r"[\w+=/:,.@-]{9,256}", re.ASCII)  # serialNumberType, as every call naming a device takes it


class MfaReplay:
    """Codes already used, per device: a TOTP code is accepted once, by whichever process sees it first.

    A step this process took already is refused from memory; otherwise the device's ``last_step`` in the database
    is taken with one conditional UPDATE, so the workers of ``serve --workers`` and the nodes sharing a database
    cannot each accept the same code. In a read transaction (AssumeRole, GetSessionToken) the claim commits in a
    short write transaction of its own; a write operation (ResyncMFADevice) claims in its own transaction."""

    def __init__(self, store: Store | None = None) -> None:
        self._store = store
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def claim(self, serial: str, step: int, tx: Tx | None = None) -> bool:
        with self._lock:
            if self._used.get(serial, -1) >= step:
                return False
            self._used[serial] = step
        if tx is not None and tx.write:
            return tx.claim_mfa_step(serial, step)
        if self._store is not None:
            with self._store.write() as own:
                return own.claim_mfa_step(serial, step)
        return True


def _seed(ctx: CallContext, device: MfaDevice) -> bytes:
    return ctx.master_key.open(device.seed_sealed, device.serial.encode())


def _device_time(ctx: CallContext, device: MfaDevice) -> float:
    """Now, on the device's clock: ResyncMFADevice records how many 30-second steps the device runs ahead (or behind)."""
    return ctx.now.timestamp() + (device.drift or 0) * totp.STEP


def _serial_resource(ctx: CallContext, inp: Input) -> str:
    return str(inp.get("SerialNumber") or ctx.arn(f"mfa{inp.get('Path') or '/'}{inp.get('VirtualMFADeviceName', '')}"))


@operation("CreateVirtualMFADevice", resource=_serial_resource, keys=lambda ctx, inp: tag_keys(inp), write=True)
def create_virtual_mfa_device(ctx: CallContext, inp: Input) -> Output:
    path = inp.get("Path") or "/"
    name = inp["VirtualMFADeviceName"]
    serial = ctx.arn(f"mfa{path}{name}")
    if not _SERIAL.fullmatch(serial):
        # the model bounds neither the name's length nor the path's characters by the serial number's: a device
        # whose serial no call could name (SerialNumber: 9 to 256 characters of [\w+=/:,.@-]) is not created
        raise InvalidInput(f"The serial number {serial} of the virtual MFA device would not be a valid SerialNumber "
                           "(at most 256 characters of [\\w+=/:,.@-]): use a shorter name or path, of those characters.")
    lock_account(ctx)
    if ctx.tx.mfa_device(serial) is not None:
        raise already_exists("mfa", name)
    account_quota(ctx, "VirtualMFADevicesPerAccount")
    tags = tags_in(inp, "TagsPerMFADevice")
    seed = totp.new_seed()
    ctx.tx.insert_mfa_device(MfaDevice(serial, ctx.account_id, name, path, ctx.master_key.seal(seed, serial.encode()), None, None, ctx.now))
    if tags:
        ctx.tx.set_tags(ctx.account_id, "mfa", serial, tags)
    return {"VirtualMFADevice": {"SerialNumber": serial, "Base32StringSeed": totp.base32(seed).encode()}}


@operation("EnableMFADevice", resource=entity_resource("user", "UserName"), write=True)
def enable_mfa_device(ctx: CallContext, inp: Input) -> Output:
    # the user (the owner of the quota), then the device (assigned once), locked before checking
    user = get_entity(ctx, "user", inp["UserName"], for_update=True)
    device = ctx.tx.mfa_device(inp["SerialNumber"], for_update=True)
    if device is None or device.account_id != ctx.account_id:
        raise NoSuchEntity(f"VirtualMFADevice with serial number {inp['SerialNumber']} doesn't exist.")
    if device.user_key is not None:
        raise EntityAlreadyExists("MFA Device is already in use.")
    if len(ctx.tx.mfa_devices(ctx.account_id, user.key)) >= 8:
        raise LimitExceeded("Cannot exceed quota for MFADevicesPerUser: 8")
    seed = _seed(ctx, device)
    first = totp.verify(seed, inp["AuthenticationCode1"], ctx.now.timestamp(), window=2)
    second = totp.verify(seed, inp["AuthenticationCode2"], ctx.now.timestamp(), window=2)
    if first is None or second is None or second != first + 1:
        raise InvalidAuthenticationCode("Authentication code for device is not valid.")
    ctx.tx.assign_mfa_device(device.serial, user.key, ctx.now)
    return None


def _device_user(ctx: CallContext, inp: Input) -> str:
    """The user named, or the caller when it is a user (DeactivateMFADevice's UserName is optional: "If no user
    name is included, it defaults to the principal making the request",
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeactivateMFADevice.html); a caller that is not a user
    must name one, as for IAM's other calls on "the caller's own user"."""
    if inp.get("UserName"):
        return str(inp["UserName"])
    if ctx.caller.user_key:
        return ctx.caller.user_key
    raise ValidationError("Must specify userName when calling with non-User credentials")


def _deactivate_resource(ctx: CallContext, inp: Input) -> str:
    if not inp.get("UserName") and ctx.caller.is_root:
        return ctx.arn("root")  # the root's own devices (none here: the root user has no MFA device)
    return entity_resource("user", "UserName")(ctx, {**inp, "UserName": _device_user(ctx, inp)})


def _no_device(inp: Input) -> NoSuchEntity:
    return NoSuchEntity(f"MFA Device with serial number {inp['SerialNumber']} does not exist.")


@operation("DeactivateMFADevice", resource=_deactivate_resource, write=True)
def deactivate_mfa_device(ctx: CallContext, inp: Input) -> Output:
    if not inp.get("UserName") and ctx.caller.is_root:
        raise _no_device(inp)
    user = get_entity(ctx, "user", _device_user(ctx, inp))
    device = ctx.tx.mfa_device(inp["SerialNumber"])
    if device is None or device.account_id != ctx.account_id or device.user_key != user.key:
        raise NoSuchEntity(f"MFA Device with serial number {inp['SerialNumber']} does not exist.")
    ctx.tx.assign_mfa_device(device.serial, None, None)
    return None


@operation("DeleteVirtualMFADevice", resource=_serial_resource, write=True)
def delete_virtual_mfa_device(ctx: CallContext, inp: Input) -> Output:
    device = ctx.tx.mfa_device(inp["SerialNumber"], for_update=True)  # not enabled meanwhile
    if device is None or device.account_id != ctx.account_id:
        raise NoSuchEntity(f"VirtualMFADevice with serial number {inp['SerialNumber']} doesn't exist.")
    if device.user_key is not None:
        raise DeleteConflict("MFA Device is still in use.")
    ctx.tx.delete_mfa_device(device.serial)
    return None


def _user_of(ctx: CallContext, inp: Input) -> str:
    if inp.get("UserName"):
        return entity_resource("user", "UserName")(ctx, inp)
    return ctx.caller.principal.arn or ctx.arn("user/")


@operation("ListMFADevices", resource=_user_of)
def list_mfa_devices(ctx: CallContext, inp: Input) -> Output:
    if inp.get("UserName"):
        user = get_entity(ctx, "user", inp["UserName"])
    elif ctx.caller.user_key:
        user = get_entity(ctx, "user", ctx.caller.user_key)
    else:
        return {"MFADevices": [], "IsTruncated": False}
    devices = ctx.tx.mfa_devices(ctx.account_id, user.key)  # at most 8 (MFADevicesPerUser)
    chunk, meta = page("ListMFADevices", devices, inp, key=lambda d: d.serial)
    return {"MFADevices": [{"UserName": user.name, "SerialNumber": d.serial, "EnableDate": d.enabled_at} for d in chunk], **meta}


@operation("ListVirtualMFADevices", resource=lambda ctx, inp: ctx.arn("mfa/"))
def list_virtual_mfa_devices(ctx: CallContext, inp: Input) -> Output:
    status = inp.get("AssignmentStatus") or "Any"
    assigned = {"Assigned": True, "Unassigned": False, "Any": None}[status]
    prefix = ctx.arn("mfa")  # every serial of the account starts so: the Marker holds the rest (320 characters at most)
    chunk, meta = paged("ListVirtualMFADevices", inp,
                        lambda after, limit: ctx.tx.mfa_devices(ctx.account_id, assigned=assigned, after=None if after is None else prefix + after[0], limit=limit),
                        key=lambda d: [d.serial[len(prefix):]])
    out = []
    for d in chunk:
        item: dict[str, Any] = {"SerialNumber": d.serial}
        if d.user_key:
            user = ctx.tx.entity("user", ctx.account_id, d.user_key)
            if user is not None:
                item["User"] = {"Path": user.path, "UserName": user.name, "UserId": user.id, "Arn": user.arn, "CreateDate": user.created_at}
            item["EnableDate"] = d.enabled_at
        out.append(item)
    return {"VirtualMFADevices": out, **meta}


def verify_mfa(ctx: CallContext, serial: str, code: str) -> int:
    """Check the caller's MFA code; the time it was presented (epoch seconds)."""
    device = ctx.tx.mfa_device(serial)
    caller = ctx.caller
    owner_ok = device is not None and device.user_key is not None and (
        caller.user_key is not None and device.user_key == caller.user_key and device.account_id == caller.account_id
    )
    denied = AccessDenied("MultiFactorAuthentication failed with invalid MFA one time pass code. ")
    if not owner_ok:
        raise denied
    assert device is not None
    step = totp.verify(_seed(ctx, device), code, _device_time(ctx, device))
    replay = ctx.mfa_replay
    if step is None or (replay is not None and not replay.claim(serial, step, ctx.tx)):
        raise denied
    return int(ctx.now.timestamp())


# ResyncMFADevice looks this many 30-second steps either side of now for the device's two codes (AWS documents
# no window; ten minutes covers a device clock that has drifted as far as a phone's does between syncs).
RESYNC_WINDOW = 20


@operation("ResyncMFADevice", resource=entity_resource("user", "UserName"), write=True)
def resync_mfa_device(ctx: CallContext, inp: Input) -> Output:
    user = get_entity(ctx, "user", inp["UserName"], for_update=True)
    device = ctx.tx.mfa_device(inp["SerialNumber"], for_update=True)
    if device is None or device.account_id != ctx.account_id or device.user_key != user.key:
        raise NoSuchEntity(f"MFA Device with serial number {inp['SerialNumber']} does not exist.")
    seed, now = _seed(ctx, device), ctx.now.timestamp()
    first = totp.verify(seed, inp["AuthenticationCode1"], now, window=RESYNC_WINDOW)
    second = totp.verify(seed, inp["AuthenticationCode2"], now, window=RESYNC_WINDOW)
    if first is None or second is None or second != first + 1:
        raise InvalidAuthenticationCode("Authentication code for device is not valid.")
    replay = ctx.mfa_replay
    if replay is not None and not replay.claim(device.serial, second, ctx.tx):
        raise InvalidAuthenticationCode("Authentication code for device is not valid.")
    ctx.tx.set_mfa_drift(device.serial, second - int(now // totp.STEP))
    return None


@operation("GetMFADevice", resource=_deactivate_resource)
def get_mfa_device(ctx: CallContext, inp: Input) -> Output:
    if not inp.get("UserName") and ctx.caller.is_root:
        raise _no_device(inp)
    user = get_entity(ctx, "user", _device_user(ctx, inp))
    device = ctx.tx.mfa_device(inp["SerialNumber"])
    if device is None or device.account_id != ctx.account_id or device.user_key != user.key:
        raise NoSuchEntity(f"MFA Device with serial number {inp['SerialNumber']} does not exist.")
    return {"UserName": user.name, "SerialNumber": device.serial, "EnableDate": device.enabled_at}


def _tagged_device(ctx: CallContext, inp: Input, lock: bool) -> str:
    device = ctx.tx.mfa_device(inp["SerialNumber"], for_update=lock)
    if device is None or device.account_id != ctx.account_id:
        raise NoSuchEntity(f"VirtualMFADevice with serial number {inp['SerialNumber']} doesn't exist.")
    return str(device.serial)


def _device_tag_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    serial = inp.get("SerialNumber")
    return {f"aws:ResourceTag/{t.key}": t.value for t in ctx.tx.tags(ctx.account_id, "mfa", serial)} if serial else {}


register_tagging("MFADevice", "mfa", _serial_resource, _tagged_device, _device_tag_keys)
