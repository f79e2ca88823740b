"""Sign up and log in: derive keys on the client, prove the password to the server with the
login key, and keep the master key in this client home's state DB."""

from __future__ import annotations

import contextlib
import dataclasses

from photoark.client.api import ApiClient
from photoark.client.errors import AuthFailed, ClientError
from photoark.client.home import ClientHome
from photoark.client.session import hinted
from photoark.client.state import StateDB
from photoark.client.state.account import Account, AccountStore
from photoark.crypto.boxes import unwrap_key
from photoark.crypto.errors import WrongKeyError
from photoark.crypto.keys import (
    ARGON2_MODERATE,
    Argon2Limits,
    KeyAttributes,
    create_account_keys,
    derive_kek,
    derive_login_key,
)
from photoark.protocol.models import KeyAttributesModel, LoginRequest, SignupRequest

__all__ = ["check_kdf_limits", "login", "logout", "signup"]


def _attrs_model(attrs: KeyAttributes) -> KeyAttributesModel:
    return KeyAttributesModel(**dataclasses.asdict(attrs))


def _save(home: ClientHome, account: Account) -> None:
    db = StateDB(home.ensure().state_db)
    try:
        AccountStore(db).save(account)
    finally:
        db.close()


def signup(
    home: ClientHome,
    server: str,
    email: str,
    password: str,
    limits: Argon2Limits = ARGON2_MODERATE,
) -> tuple[Account, bytes]:
    """Create an account; returns it and the recovery key (show it to the user once).

    A wrong address or a server that is down fails before the keys are made (a second)."""
    with hinted(home), ApiClient(server) as api:
        api.health()
        keys = create_account_keys(password, limits)
        response = api.signup(
            SignupRequest(
                email=email, login_key=keys.login_key, key_attributes=_attrs_model(keys.attributes)
            )
        )
    account = Account(
        server=api.base_url,
        email=email,
        user_id=response.user_id,
        token=response.token,
        master_key=keys.master_key,
        key_attributes=response.key_attributes,
    )
    _save(home, account)
    return account, keys.recovery_key


MAX_KDF_MEM = 4 * 1024**3
MAX_KDF_OPS = 64


def check_kdf_limits(limits: Argon2Limits, floor: Argon2Limits) -> None:
    """Refuse Argon2 costs below ``floor`` (a malicious server could ask for a cheap KEK and then
    brute-force the password from the login key) or absurdly high (a denial of service)."""
    if limits.ops < floor.ops or limits.mem < floor.mem:
        raise ClientError(
            f"the server asks for a weak password hash (ops {limits.ops}, memory {limits.mem} B)",
            "refusing to log in: this server may be trying to weaken your encryption",
        )
    if limits.ops > MAX_KDF_OPS or limits.mem > MAX_KDF_MEM:
        raise ClientError(
            f"the server asks for an unreasonably costly password hash "
            f"(ops {limits.ops}, memory {limits.mem} B)",
            "refusing to log in: check the server URL",
        )


def login(
    home: ClientHome,
    server: str,
    email: str,
    password: str,
    kdf_floor: Argon2Limits = ARGON2_MODERATE,
) -> Account:
    """Log in on this client home. A wrong password and an unknown email fail the same way."""
    with hinted(home), ApiClient(server) as api:
        params = api.key_params(email)
        limits = Argon2Limits(params.ops_limit, params.mem_limit)
        check_kdf_limits(limits, kdf_floor)
        kek = derive_kek(password, params.kek_salt, limits)
        response = api.login(LoginRequest(email=email, login_key=derive_login_key(kek)))
    try:
        master_key = unwrap_key(kek, response.key_attributes.master_key_wrapped)
    except WrongKeyError as err:
        raise AuthFailed(
            "invalid_credentials", "the server's key attributes do not match this password", 401
        ) from err
    account = Account(
        server=api.base_url,
        email=email,
        user_id=response.user_id,
        token=response.token,
        master_key=master_key,
        key_attributes=response.key_attributes,
    )
    _save(home, account)
    return account


def logout(home: ClientHome) -> bool:
    """Revoke this client's token and forget the account; keeps the mirror for a re-login."""
    db = StateDB(home.ensure().state_db)
    try:
        store = AccountStore(db)
        account = store.load()
        if account is None:
            return False
        # an already revoked token is fine
        with ApiClient(account.server, account.token) as api, contextlib.suppress(AuthFailed):
            api.logout()
        store.clear()
        return True
    finally:
        db.close()
