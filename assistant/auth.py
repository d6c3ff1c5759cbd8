"""Staff accounts: scrypt-hashed passwords, server-side sessions, login throttling.

Why each piece:

- Passwords are stored as ``scrypt$N$r$p$<salt>$<hash>`` (16-byte random salt,
  so two users with the same password get different rows). scrypt is in the
  standard library and is slow on purpose; ``verify_password`` compares with
  ``hmac.compare_digest`` and answers False, never raises, on a damaged row.
- A session token is 32 random bytes given to the browser; only its SHA-256
  is stored, so a copy of the database does not let anyone log in. A session
  ends ``session_ttl_s`` after login, however active it is (absolute expiry).
- Guessing is slowed down: failures are counted per user name and per client
  (an IP address) over ``lockout_s``; at ``max_failures`` either one is locked
  until ``lockout_s`` after its last failure, even for the right password.
  The counters live in memory: a restart forgets them, which is acceptable for
  a staff login behind a rate-limited server.
- Messages never say whether a user exists, and an unknown user costs the
  same scrypt run as a known one, so timing does not tell either.

The tables (``users``, ``sessions``) may sit in the same SQLite file as
``records.py``'s; this class keeps its own connection and lock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Callable

from assistant.records import open_db

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
SALT_BYTES = 16
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_TOKEN = 256  # a longer "token" is not one of ours; do not even hash it

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
INITIAL_ADMIN = "admin"

WRONG_CREDENTIALS = "Wrong user name or password. / Sai tên đăng nhập hoặc mật khẩu."

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, pw_hash TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user);
"""

_SWEEP_AT = 1024  # throttle entries kept before stale ones are swept out


class LoginError(Exception):
    """Message is safe to show on the login page (never says whether the user exists).

    ``throttled`` is True when sign-in is paused after too many failures (HTTP 429, not 401).
    """

    def __init__(self, message: str, throttled: bool = False):
        super().__init__(message)
        self.throttled = throttled


class AccountError(ValueError):
    """Bad user name or password when creating an account; names the field."""


# ---------------------------------------------------------------------- passwords


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    maxmem = 128 * r * (n + p + 2) + (1 << 20)
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=maxmem)


def hash_password(password: str) -> str:
    """``scrypt$16384$8$1$<salt b64>$<hash b64>`` for this password, with a fresh salt."""
    if not isinstance(password, str):
        raise AccountError(f"password: expected text, got {type(password).__name__}.")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; False, never an exception, otherwise."""
    if not isinstance(password, str) or not isinstance(stored, str):
        return False
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return False
    # Bounds keep a tampered row from asking for gigabytes or minutes of work.
    if not (2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        return False
    # scrypt output is prefix-stable, so a cut-down hash would still "match": insist on the full length.
    if not salt or len(expected) != SCRYPT_DKLEN:
        return False
    try:
        actual = _scrypt(password, salt, n, r, p, SCRYPT_DKLEN)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise AccountError(
            f"name: {name!r} is not allowed. Use 2 to 32 characters: lower-case letters a-z, digits, "
            "'.', '_' or '-', starting with a letter or a digit."
        )
    return name


def _check_password(password: object) -> str:
    if not isinstance(password, str):
        raise AccountError(f"password: expected text, got {type(password).__name__}.")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: {len(password)} characters; use at least {MIN_PASSWORD}.")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password: {len(password)} characters; use at most {MAX_PASSWORD}.")
    if not password.strip():
        raise AccountError("password: it is only spaces; choose one with letters or digits.")
    return password


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- accounts


class Accounts:
    """Users and sessions in SQLite; failed-login counters in memory. Thread-safe."""

    def __init__(
        self,
        path: Path,
        session_ttl_s: float = 8 * 3600,
        max_failures: int = 5,
        lockout_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ):
        if not session_ttl_s > 0:
            raise ValueError(f"session_ttl_s: {session_ttl_s!r}; use a number of seconds above 0.")
        if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 1:
            raise ValueError(f"max_failures: {max_failures!r}; use a whole number of at least 1.")
        if not lockout_s >= 0:
            raise ValueError(f"lockout_s: {lockout_s!r}; use a number of seconds, 0 or more.")
        self.path = Path(path)
        self.session_ttl_s = float(session_ttl_s)
        self.max_failures = max_failures
        self.lockout_s = float(lockout_s)
        self.clock = clock
        self._lock = threading.Lock()  # the connection
        self._throttle_lock = threading.Lock()  # the failure counters
        self._failures: dict[tuple[str, str], list[float]] = {}  # recent failure times per key
        self._locked_until: dict[tuple[str, str], float] = {}  # keys that reached max_failures
        self._dummy_hash: str | None = None
        self._db = open_db(self.path, _SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ users

    def add_user(self, name: str, password: str) -> None:
        """Create an account; an existing name is refused (use ``set_password``)."""
        name = _check_name(name)
        pw_hash = hash_password(_check_password(password))
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO users (name, pw_hash, created) VALUES (?, ?, ?)", (name, pw_hash, self.clock())
            )
            if cur.rowcount != 1:
                raise AccountError(f"name: user {name!r} already exists; use set_password to change the password.")

    def set_password(self, name: str, password: str) -> None:
        """Change a password. The user's open sessions end, so a leaked session dies with the old password."""
        if not isinstance(name, str):
            raise AccountError(f"name: expected text, got {type(name).__name__}.")
        pw_hash = hash_password(_check_password(password))
        with self._lock, self._db:
            cur = self._db.execute("UPDATE users SET pw_hash = ? WHERE name = ?", (pw_hash, name))
            if cur.rowcount != 1:
                raise AccountError(f"name: there is no user {name!r}; create it with add_user.")
            self._db.execute("DELETE FROM sessions WHERE user = ?", (name,))

    def remove_user(self, name: str) -> bool:
        """Delete an account and its sessions; False when there was no such user."""
        with self._lock, self._db:
            cur = self._db.execute("DELETE FROM users WHERE name = ?", (name,))
            self._db.execute("DELETE FROM sessions WHERE user = ?", (name,))
            return cur.rowcount == 1

    def users(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM users ORDER BY name")]

    def has_users(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def ensure_initial_admin(self) -> str | None:
        """On a fresh install, create ``admin`` with a random password and return it; else None."""
        password = secrets.token_urlsafe(12)
        pw_hash = hash_password(password)
        with self._lock, self._db:
            if self._db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None:
                return None
            self._db.execute(
                "INSERT INTO users (name, pw_hash, created) VALUES (?, ?, ?)", (INITIAL_ADMIN, pw_hash, self.clock())
            )
        return password

    # ------------------------------------------------------------------ login

    def login(self, name: str, password: str, client: str = "") -> str:
        """A new session token for the right name and password; ``LoginError`` otherwise.

        ``client`` identifies where the attempt comes from (an IP address);
        an empty one is not throttled per client, only per user name.
        """
        user = name.strip().lower() if isinstance(name, str) else ""
        keys = [("user", user)] + ([("client", client)] if client else [])
        now = self.clock()
        wait = self._locked_for(keys, now)
        if wait > 0:
            minutes = max(1, math.ceil(wait / 60))
            raise LoginError(
                f"Too many failed attempts. Try again in {minutes} minutes. / "
                f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút.",
                throttled=True,
            )
        with self._lock:
            row = self._db.execute("SELECT pw_hash FROM users WHERE name = ?", (user,)).fetchone()
        # An unknown user still costs one scrypt run, so timing does not reveal who exists.
        good = verify_password(password, row[0] if row else self._dummy())
        if not (row and good):
            self._record_failure(keys, self.clock())
            raise LoginError(WRONG_CREDENTIALS)
        self._clear_failures(keys)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock, self._db:
            self._db.execute("DELETE FROM sessions WHERE expires <= ?", (now,))
            self._db.execute(
                "INSERT INTO sessions (token_hash, user, created, expires) VALUES (?, ?, ?, ?)",
                (_token_hash(token), user, now, now + self.session_ttl_s),
            )
        return token

    def session_user(self, token: str | None) -> str | None:
        """The user a session token belongs to; None when missing, unknown or expired."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
            return None
        key = _token_hash(token)
        with self._lock:
            row = self._db.execute("SELECT user, created FROM sessions WHERE token_hash = ?", (key,)).fetchone()
            if row is None:
                return None
            if self.clock() >= row[1] + self.session_ttl_s:
                with self._db:
                    self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (key,))
                return None
        return row[0]

    def logout(self, token: str | None) -> None:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
            return
        with self._lock, self._db:
            self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))

    # ------------------------------------------------------------------ throttling

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(secrets.token_urlsafe(16))
        return self._dummy_hash

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        """Failures of ``key`` inside the window; drops the key when none are."""
        times = [t for t in self._failures.get(key, ()) if t > now - self.lockout_s]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def _locked_for(self, keys: list[tuple[str, str]], now: float) -> float:
        """Seconds until every key may try again; 0 when none is locked."""
        wait = 0.0
        with self._throttle_lock:
            for key in keys:
                until = self._locked_until.get(key, 0.0)
                if until > now:
                    wait = max(wait, until - now)
                else:
                    self._locked_until.pop(key, None)
        return wait

    def _record_failure(self, keys: list[tuple[str, str]], now: float) -> None:
        with self._throttle_lock:
            for key in keys:
                times = self._recent(key, now) + [now]
                if len(times) >= self.max_failures:
                    # Locked until lockout_s after this, the last, failure; afterwards a fresh count.
                    self._locked_until[key] = now + self.lockout_s
                    self._failures.pop(key, None)
                else:
                    self._failures[key] = times
            if len(self._failures) + len(self._locked_until) > _SWEEP_AT:  # bounded under a spray of names
                for key in list(self._failures):
                    self._recent(key, now)
                for key, until in list(self._locked_until.items()):
                    if until <= now:
                        del self._locked_until[key]

    def _clear_failures(self, keys: list[tuple[str, str]]) -> None:
        with self._throttle_lock:
            for key in keys:
                self._failures.pop(key, None)
                self._locked_until.pop(key, None)
