"""SigV4: who is calling (account), from which region, and whether the signature holds.

With no access keys configured (local development) any key is accepted: a 12-digit access
key id selects that account, anything else the default account. With keys configured,
every request must be signed by one of them. The string to sign is made from the request
as it arrived on the wire, as botocore's own signer makes it (`sigv4_canonical`), so it
matches the clients byte for byte (including the double-encoded path).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lamina.api.sigv4_canonical import string_to_sign
from lamina.config import Config
from lamina.credentials import SessionCredentials
from lamina.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

_ACCOUNT_ID = re.compile(r"\d{12}")
_CLOCK_SKEW = timedelta(minutes=15)
_AMZ_DATE = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z")
# An Authorization header ends with the signature, the one part that changes between requests.
_SIGNATURE = ", Signature="
_HEX = "0123456789abcdef"
# Derived signing keys and open-mode callers are kept; clients choose their scopes, so only so many.
_KEPT = 1024


@dataclass(frozen=True)
class Caller:
    account_id: str
    region: str
    access_key_id: str | None = None


@dataclass(frozen=True)
class Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(header: str) -> Authorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise IncompleteSignatureException(f"Unsupported authorization algorithm {algorithm!r}")
    fields = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if missing:
        raise IncompleteSignatureException(
            f"Authorization header requires '{missing[0]}' parameter. Authorization={header}")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise IncompleteSignatureException(
            f"Credential should be scoped to a valid region, not '{fields['Credential']}'.")
    return Authorization(scope[0], scope[1], scope[2], scope[3],
                         tuple(fields["SignedHeaders"].split(";")), fields["Signature"])


class Authenticator:
    def __init__(self, config: Config, sessions: SessionCredentials | None = None) -> None:
        self.default_account = config.default_account
        self.default_region = config.default_region
        self.keys = config.keys_by_id
        self.sessions = sessions
        self._default_caller = Caller(self.default_account, self.default_region)
        # (secret, date, region, service) -> the SigV4 signing key: the same for a whole day.
        self._signing_keys: dict[tuple[str, str, str, str], bytes] = {}
        # An Authorization header but its signature -> the caller it names (open mode).
        self._open_callers: dict[str, Caller] = {}

    def authenticate(self, method: str, raw_path: str, raw_query: str, headers: dict[str, str],
                     body: bytes, *, allow_sessions: bool = True) -> Caller:
        """The caller of a signed request. `allow_sessions=False` accepts only the configured
        keys, not the session credentials lamina hands to functions."""
        header = headers.get("authorization")
        if not self.keys:
            return self._unchecked(header, headers.get("x-amz-security-token"))
        if not header:
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        auth = parse_authorization(header)
        session_token = headers.get("x-amz-security-token") if allow_sessions else None
        account, secret = self._credentials(auth.access_key_id, session_token)
        self._check_date(headers.get("x-amz-date", ""), auth)
        expected = self._signature(auth, secret, method, raw_path, raw_query, headers, body)
        if not hmac.compare_digest(expected, auth.signature):
            raise InvalidSignatureException(
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. "
                "Consult the service documentation for details.")
        return Caller(account, auth.region, auth.access_key_id)

    def _credentials(self, key_id: str, session_token: str | None) -> tuple[str, str]:
        """(account, secret) of a configured key or of a session lamina issued to a function."""
        key = self.keys.get(key_id)
        if key is not None:
            return key.account_id, key.secret_access_key
        if session_token and self.sessions:
            account = self.sessions.account_of(key_id, session_token)
            if account is not None:
                return account, self.sessions.secret_for(key_id)
        raise UnrecognizedClientException("The security token included in the request is invalid.")

    def _unchecked(self, header: str | None, session_token: str | None) -> Caller:
        if not header:
            return self._default_caller
        if not session_token:
            # What open mode reads of a header does not depend on its signature when that is a
            # plain hex string: the caller is kept by the rest of the header.
            rest, marker, signature = header.rpartition(_SIGNATURE)
            if marker and signature and not signature.strip(_HEX):
                caller = self._open_callers.get(rest)
                if caller is None:
                    caller = self._open_caller(header, None)
                    if len(self._open_callers) >= _KEPT:
                        self._open_callers.clear()
                    self._open_callers[rest] = caller
                return caller
        return self._open_caller(header, session_token)

    def _open_caller(self, header: str, session_token: str | None) -> Caller:
        try:
            auth = parse_authorization(header)
        except IncompleteSignatureException:
            return self._default_caller
        account = auth.access_key_id if _ACCOUNT_ID.fullmatch(auth.access_key_id) else self.default_account
        if session_token and self.sessions:
            account = self.sessions.account_of(auth.access_key_id, session_token) or account
        return Caller(account, auth.region or self.default_region, auth.access_key_id)

    @staticmethod
    def _check_date(amz_date: str, auth: Authorization) -> None:
        try:
            signed_at = _parse_amz_date(amz_date)
        except ValueError:
            raise IncompleteSignatureException("Authorization header requires existence of either a "
                                               "'X-Amz-Date' or a 'Date' header.") from None
        if not amz_date.startswith(auth.date):
            raise InvalidSignatureException(
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{auth.date}' != '{amz_date[:8]}', from '{amz_date}'.")
        now = datetime.now(UTC)
        fmt = "%Y%m%dT%H%M%SZ"
        if signed_at < now - _CLOCK_SKEW:
            raise InvalidSignatureException(
                f"Signature expired: {amz_date} is now earlier than {(now - _CLOCK_SKEW).strftime(fmt)} "
                f"({now.strftime(fmt)} - 15 min.)")
        if signed_at > now + _CLOCK_SKEW:
            raise InvalidSignatureException(
                f"Signature not yet current: {amz_date} is still later than {(now + _CLOCK_SKEW).strftime(fmt)} "
                f"({now.strftime(fmt)} + 15 min.)")

    def _signature(self, auth: Authorization, secret: str, method: str, raw_path: str, raw_query: str,
                   headers: dict[str, str], body: bytes) -> str:
        signing = string_to_sign(method, raw_path, raw_query, headers, body, auth.signed_headers,
                                 auth.access_key_id, auth.region, auth.service)
        key = self._signing_key(secret, headers.get("x-amz-date", "")[:8], auth.region, auth.service)
        return hmac.new(key, signing.encode(), hashlib.sha256).hexdigest()

    def _signing_key(self, secret: str, date: str, region: str, service: str) -> bytes:
        """SigV4's kSigning, derived as botocore's `SigV4Auth.signature` does."""
        scope = (secret, date, region, service)
        key = self._signing_keys.get(scope)
        if key is None:
            key = f"AWS4{secret}".encode()
            for part in (date, region, service, "aws4_request"):
                key = hmac.digest(key, part.encode(), "sha256")
            if len(self._signing_keys) >= _KEPT:
                self._signing_keys.clear()
            self._signing_keys[scope] = key
        return key


def _parse_amz_date(amz_date: str) -> datetime:
    """`%Y%m%dT%H%M%SZ` as UTC; raises ValueError as strptime does."""
    fields = _AMZ_DATE.fullmatch(amz_date)
    if fields is None:  # not the plain form: strptime decides what it reads
        return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime(*map(int, fields.groups()), tzinfo=UTC)
