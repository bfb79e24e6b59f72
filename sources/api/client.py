"""One HTTP client for every platform: retries with backoff and jitter, errors sorted by what a human must do, and no
secret in any message.

Errors fall in three kinds, because each needs a different reaction:
- transient (429, 5xx, a dropped connection): retried with exponential backoff and jitter, honouring Retry-After;
- AccessError (an expired or revoked token, a missing permission): retrying cannot help; the pull stops for that one
  account with a message saying what to renew, and the other accounts go on;
- QuotaExhausted (a daily budget is spent): the pull stops for the whole source until the budget resets.
"""
from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx
import stamina
import stamina.instrumentation

log = logging.getLogger("influence_pipeline.pull")

#: Query parameters and JSON keys that carry a credential: dropped from any URL or body we echo.
SECRET_NAMES = ("access_token", "refresh_token", "client_secret", "app_secret", "secret", "key", "token", "password",
                "code", "input_token", "fb_exchange_token")
_SECRET_PARAM = re.compile(r"(?i)\b(" + "|".join(SECRET_NAMES) + r")=([^&\s\"']+)")
_BEARER = re.compile(r"(?i)\b(bearer|oauth)\s+[A-Za-z0-9._~+/=-]{8,}")


class PullError(RuntimeError):
    """A pull could not finish a request; the message names the platform, endpoint and account, never a secret."""


class TransientError(PullError):
    """Worth another try: HTTP 429 or 5xx, a platform's own throttle signal, a network error."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class AccessError(PullError):
    """The credential cannot read this account (expired, revoked, missing permission): a human must act. Ends the pull
    for that account only."""


class QuotaExhausted(PullError):
    """A daily or hourly budget is spent: the source stops for this run; nothing retried can succeed before reset."""


#: What reading one account can raise besides a PullError: an answer in a shape we did not expect (a missing key, a
#: list where an object was documented, a timestamp we cannot parse). Caught per account, so one odd record costs that
#: account, never the accounts already read.
MALFORMED = (KeyError, IndexError, TypeError, ValueError, AttributeError)


def malformed_message(platform: str, exc: BaseException) -> str:
    """A message for an answer we could not read; the exception's type and key only (its text could quote a value)."""
    detail = f" {exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else ""
    return f"{platform}: unexpected answer ({type(exc).__name__}{detail}): the next pull tries again"


def expect_object(body: object, where: str) -> dict:
    """`body` when it is a JSON object; else a PullError naming the endpoint (an HTML error page, a bare list)."""
    if not isinstance(body, dict):
        raise PullError(f"{where}: expected a JSON object, got {type(body).__name__}")
    return body


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret value, credential-named query parameter and bearer token replaced by `***`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} ***", text)


def strip_secret_params(url: str) -> str:
    """A paging URL a platform hands back (Graph API `paging.next` embeds the access token) without its credential
    parameters; the client adds the credential again as a header."""
    parsed = httpx.URL(url)
    params = [(k, v) for k, v in parsed.params.multi_items() if k.lower() not in SECRET_NAMES]
    return str(parsed.copy_with(params=params))


@dataclass
class RetryPolicy:
    attempts: int = 6
    wait_initial: float = 1.0
    wait_max: float = 60.0
    wait_jitter: float = 1.0
    timeout: float = 600.0  # all attempts of one request together

    @classmethod
    def fast(cls) -> RetryPolicy:
        """For tests and the demo's local server: same logic, millisecond waits."""
        return cls(attempts=6, wait_initial=0.01, wait_max=0.05, wait_jitter=0.01, timeout=30.0)


#: Decides what an answer means: None when it is a success, else the PullError to raise. Platforms report errors in
#: their own ways (Graph API codes in a 400, TikTok's `code` inside a 200, Shopify's THROTTLED inside a 200).
Classifier = Callable[[httpx.Response, object], "PullError | None"]


def transient_status(response: httpx.Response, what: str | None = None) -> TransientError | None:
    """HTTP 429 and 5xx, whatever the platform: worth another try, after the platform's `Retry-After` when it sends
    one. Every classifier asks this first (a proxy's 502 carries no platform envelope)."""
    status = response.status_code
    if status == 429 or status >= 500:
        return TransientError(what or f"HTTP {status}", retry_after_seconds(response))
    return None


def default_classifier(response: httpx.Response, body: object) -> PullError | None:
    status = response.status_code
    if (transient := transient_status(response)) is not None:
        return transient
    if status in (401, 403):
        return AccessError(f"HTTP {status}")
    if status >= 400:
        return PullError(f"HTTP {status}")
    return None


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None


@dataclass
class CallStats:
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def _quiet_libraries() -> None:
    """stamina's own hook logs a bare "stamina.retry_scheduled" per retry (ApiClient._backoff logs one line saying
    what failed and when the next try is); httpx logs every URL at INFO, and a Shopify bulk result URL is signed."""
    if stamina.instrumentation.get_on_retry_hooks():
        stamina.instrumentation.set_on_retry_hooks([])
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))


class ApiClient:
    """A platform's HTTP client. Credentials travel in headers only, so no URL that httpx or a proxy logs holds one;
    every error message is redacted of the secrets the client was given."""

    def __init__(self, platform: str, base_url: str, *, headers: dict[str, str] | None = None,
                 secrets: Iterable[str] = (), classifier: Classifier = default_classifier,
                 policy: RetryPolicy | None = None, timeout: float = 60.0):
        self.platform = platform
        self.secrets = [s for s in secrets if s]
        self.classifier = classifier
        self.policy = policy or RetryPolicy()
        self.stats = CallStats()
        _quiet_libraries()
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers or {}, timeout=timeout,
                                  follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _backoff(self, exc: Exception) -> bool | float:
        if not isinstance(exc, TransientError):
            return False
        self.stats.retries += 1
        if exc.retry_after is not None:
            # The platform said how long; a little jitter keeps parallel pulls from returning in lockstep.
            wait = min(self.policy.wait_max, exc.retry_after) + random.uniform(0, self.policy.wait_jitter)
            log.info("%s; retrying in %.1f s (the platform's wait)", exc, wait)
            return wait
        log.info("%s; retrying with backoff", exc)
        return True

    def request(self, method: str, path: str, *, params: dict | None = None, json: object = None,
                data: dict | None = None, headers: dict[str, str] | None = None,
                classifier: Classifier | None = None) -> tuple[object, httpx.Response]:
        """One request with retries on transient errors; returns (decoded JSON body, response)."""
        classify = classifier or self.classifier
        policy = self.policy
        for attempt in stamina.retry_context(on=self._backoff, attempts=policy.attempts, timeout=policy.timeout,
                                             wait_initial=policy.wait_initial, wait_max=policy.wait_max,
                                             wait_jitter=policy.wait_jitter):
            with attempt:
                return self._once(method, path, params, json, data, headers, classify)
        raise AssertionError("unreachable: retry_context raises after its last attempt")

    def get(self, path: str, **kwargs) -> tuple[object, httpx.Response]:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> tuple[object, httpx.Response]:
        return self.request("POST", path, **kwargs)

    def _once(self, method, path, params, json, data, headers, classify) -> tuple[object, httpx.Response]:
        self.stats.requests += 1
        where = f"{self.platform} {method} {redact(path.split('?')[0], self.secrets)}"
        try:
            response = self._http.request(method, path, params=params, json=json, data=data, headers=headers)
        except httpx.TransportError as exc:
            raise TransientError(f"{where}: {type(exc).__name__}: {redact(str(exc), self.secrets)}") from None
        self.stats.statuses[response.status_code] = self.stats.statuses.get(response.status_code, 0) + 1
        try:
            body: object = response.json() if response.content else None
        except ValueError:
            body = None
        error = classify(response, body)
        if error is None:
            return body, response
        if isinstance(error, TransientError):
            self.stats.throttled += 1
        message = redact(f"{where}: {error}", self.secrets)
        log.debug(message)
        error.args = (message,)
        raise error
