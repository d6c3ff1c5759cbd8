"""Staff login as people rely on it: passwords are never stored, sessions end,
guessing is slowed down per user and per client, and the public rate limit
holds. Real SQLite files; time is an injected clock, never a sleep."""

from __future__ import annotations

import sqlite3

import pytest

from assistant.auth import (
    AccountError, Accounts, LoginError, WRONG_CREDENTIALS, hash_password, verify_password,
)
from assistant.ratelimit import RateLimiter

PASSWORD = "đúng-mật-khẩu-1"


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def clock():
    return Clock()


@pytest.fixture()
def db_path(tmp_path):
    return tmp_path / "state" / "records.sqlite3"


@pytest.fixture()
def accounts(db_path, clock):
    a = Accounts(db_path, session_ttl_s=3600, max_failures=3, lockout_s=300, clock=clock)
    a.add_user("lan.nt", PASSWORD)
    yield a
    a.close()


def raw(path, sql: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def expect_login_error(accounts: Accounts, name: str, password: str, client: str = "") -> str:
    with pytest.raises(LoginError) as info:
        accounts.login(name, password, client=client)
    return str(info.value)


# ---------------------------------------------------------------------- passwords


def test_stored_hash_is_not_the_password_and_is_salted(db_path, accounts):
    accounts.add_user("minh.pv", PASSWORD)
    rows = dict(raw(db_path, "SELECT name, pw_hash FROM users"))
    assert set(rows) == {"lan.nt", "minh.pv"}
    assert all(PASSWORD not in h for h in rows.values())
    assert rows["lan.nt"] != rows["minh.pv"]  # same password, different salt
    assert all(h.startswith("scrypt$16384$8$1$") and len(h.split("$")) == 6 for h in rows.values())


def test_verify_password_good_bad_and_malformed():
    stored = hash_password(PASSWORD)
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "x", stored)
    assert not verify_password("", stored)
    salt_and_hash = stored.split("$", 4)[4]
    for broken in (
        "", "plain-text", "scrypt$16384$8$1$abc", "bcrypt$16384$8$1$" + salt_and_hash,
        "scrypt$x$8$1$" + salt_and_hash, "scrypt$16384$8$1$!!!$###",
        "scrypt$1000$8$1$" + salt_and_hash,  # N not a power of two
        "scrypt$1073741824$8$1$" + salt_and_hash,  # N absurdly large: refused, not computed
        stored[:-8],
    ):
        assert verify_password(PASSWORD, broken) is False
    assert verify_password(None, stored) is False  # type: ignore[arg-type]
    assert verify_password(PASSWORD, None) is False  # type: ignore[arg-type]


# ---------------------------------------------------------------------- accounts


@pytest.mark.parametrize("name", ["", "a", "Admin", "lan nt", "-lan", "x" * 33, "lan@nt", "lân"])
def test_bad_user_names_are_refused_naming_the_field(accounts, name):
    with pytest.raises(AccountError) as info:
        accounts.add_user(name, PASSWORD)
    assert str(info.value).startswith("name:") and "lower-case" in str(info.value)


@pytest.mark.parametrize("password", ["", "short", "1234567", " " * 10])
def test_weak_passwords_are_refused_naming_the_field(accounts, password):
    with pytest.raises(AccountError, match="^password:"):
        accounts.add_user("minh.pv", password)
    assert "minh.pv" not in accounts.users()


def test_duplicate_user_and_missing_user(accounts):
    with pytest.raises(AccountError, match="already exists.*set_password"):
        accounts.add_user("lan.nt", "another-password")
    with pytest.raises(AccountError, match="^name:.*no user"):
        accounts.set_password("ghost", "another-password")


def test_set_password_changes_login_and_ends_sessions(accounts):
    token = accounts.login("lan.nt", PASSWORD)
    accounts.set_password("lan.nt", "mật-khẩu-mới-2")
    assert accounts.session_user(token) is None
    expect_login_error(accounts, "lan.nt", PASSWORD)
    assert accounts.session_user(accounts.login("lan.nt", "mật-khẩu-mới-2")) == "lan.nt"


def test_remove_user_deletes_account_and_sessions(accounts, db_path):
    token = accounts.login("lan.nt", PASSWORD)
    assert accounts.remove_user("lan.nt") is True
    assert accounts.remove_user("lan.nt") is False
    assert accounts.session_user(token) is None
    assert raw(db_path, "SELECT * FROM sessions") == []
    assert accounts.users() == [] and not accounts.has_users()


def test_ensure_initial_admin_only_once(db_path, clock):
    accounts = Accounts(db_path, clock=clock)
    try:
        assert not accounts.has_users()
        password = accounts.ensure_initial_admin()
        assert password and len(password) >= 8
        assert accounts.users() == ["admin"]
        assert accounts.ensure_initial_admin() is None
        assert accounts.session_user(accounts.login("admin", password)) == "admin"
    finally:
        accounts.close()
    again = Accounts(db_path, clock=clock)
    try:
        assert again.ensure_initial_admin() is None  # also after a restart
    finally:
        again.close()


def test_ensure_initial_admin_does_nothing_when_users_exist(accounts):
    assert accounts.ensure_initial_admin() is None
    assert accounts.users() == ["lan.nt"]


# ---------------------------------------------------------------------- sessions


def test_login_gives_a_token_that_maps_to_the_user_and_is_not_stored(accounts, db_path):
    token = accounts.login("lan.nt", PASSWORD, client="10.0.0.1")
    assert isinstance(token, str) and len(token) >= 40
    assert accounts.session_user(token) == "lan.nt"
    stored = raw(db_path, "SELECT token_hash, user FROM sessions")
    assert len(stored) == 1 and stored[0][1] == "lan.nt"
    assert token not in repr(stored)
    assert accounts.login("lan.nt", PASSWORD) != token  # every login is a new session


def test_unknown_missing_and_garbage_tokens(accounts):
    for token in (None, "", "not-a-token", "x" * 10_000):
        assert accounts.session_user(token) is None
        accounts.logout(token)  # harmless


def test_session_expires_absolutely(accounts, clock, db_path):
    token = accounts.login("lan.nt", PASSWORD)
    clock.advance(3599)
    assert accounts.session_user(token) == "lan.nt"
    clock.advance(1)
    assert accounts.session_user(token) is None
    assert raw(db_path, "SELECT * FROM sessions") == []  # expired row deleted


def test_logout_ends_only_that_session(accounts):
    first, second = accounts.login("lan.nt", PASSWORD), accounts.login("lan.nt", PASSWORD)
    accounts.logout(first)
    assert accounts.session_user(first) is None
    assert accounts.session_user(second) == "lan.nt"


def test_sessions_survive_reopening(db_path, clock, accounts):
    token = accounts.login("lan.nt", PASSWORD)
    again = Accounts(db_path, session_ttl_s=3600, clock=clock)
    try:
        assert again.session_user(token) == "lan.nt"
    finally:
        again.close()


# ---------------------------------------------------------------------- login throttling


def test_wrong_password_and_unknown_user_get_the_same_message(accounts):
    assert expect_login_error(accounts, "lan.nt", "wrong-password") == WRONG_CREDENTIALS
    assert expect_login_error(accounts, "ghost", PASSWORD) == WRONG_CREDENTIALS
    assert "Sai tên đăng nhập" in WRONG_CREDENTIALS


def test_lockout_blocks_even_the_right_password_then_releases(accounts, clock):
    for _ in range(3):
        assert expect_login_error(accounts, "lan.nt", "wrong-password") == WRONG_CREDENTIALS
        clock.advance(10)
    message = expect_login_error(accounts, "lan.nt", PASSWORD)
    assert "Too many failed attempts" in message and "5 minutes" in message and "5 phút" in message
    clock.advance(300 - 10 - 1)  # one second before lockout_s after the last failure
    assert "Too many" in expect_login_error(accounts, "lan.nt", PASSWORD)
    clock.advance(1)
    assert accounts.session_user(accounts.login("lan.nt", PASSWORD)) == "lan.nt"


def test_lockout_counts_unknown_users_too(accounts):
    for _ in range(3):
        expect_login_error(accounts, "ghost", "guess-1234")
    assert "Too many" in expect_login_error(accounts, "ghost", "guess-1234")


def test_lockout_per_client_across_user_names(accounts, clock):
    accounts.add_user("minh.pv", PASSWORD)
    for name in ("a.one", "b.two", "c.three"):
        expect_login_error(accounts, name, "guess-1234", client="203.0.113.9")
    # The same client is locked out even for a real user with the right password ...
    assert "Too many" in expect_login_error(accounts, "minh.pv", PASSWORD, client="203.0.113.9")
    # ... while another client may still log that user in.
    assert accounts.login("minh.pv", PASSWORD, client="198.51.100.2")
    clock.advance(300)
    assert accounts.login("minh.pv", PASSWORD, client="203.0.113.9")


def test_success_clears_the_counters(accounts):
    for _ in range(2):
        expect_login_error(accounts, "lan.nt", "wrong-password", client="10.0.0.1")
    accounts.login("lan.nt", PASSWORD, client="10.0.0.1")
    for _ in range(2):
        expect_login_error(accounts, "lan.nt", "wrong-password", client="10.0.0.1")
    assert accounts.login("lan.nt", PASSWORD, client="10.0.0.1")  # 2 + 2 failures, never 3 in a row


def test_failures_older_than_the_window_are_forgotten(accounts, clock):
    for _ in range(2):
        expect_login_error(accounts, "lan.nt", "wrong-password")
    clock.advance(301)
    expect_login_error(accounts, "lan.nt", "wrong-password")
    assert expect_login_error(accounts, "lan.nt", "wrong-password") == WRONG_CREDENTIALS  # only 2 in the window
    assert accounts.login("lan.nt", PASSWORD)


def test_user_name_case_does_not_dodge_the_lockout(accounts):
    for name in ("lan.nt", "LAN.NT", " Lan.Nt "):
        expect_login_error(accounts, name, "wrong-password")
    assert "Too many" in expect_login_error(accounts, "lan.nt", PASSWORD)


def test_constructor_checks_its_settings(db_path):
    for kwargs, field in (
        ({"session_ttl_s": 0}, "session_ttl_s"), ({"max_failures": 0}, "max_failures"), ({"lockout_s": -1}, "lockout_s"),
    ):
        with pytest.raises(ValueError, match=f"^{field}:"):
            Accounts(db_path, **kwargs)


# ---------------------------------------------------------------------- rate limit


def test_rate_limiter_allows_per_minute_then_refuses_then_allows(clock):
    limiter = RateLimiter(3, clock=clock)
    for _ in range(3):
        assert limiter.check("1.2.3.4") == 0.0
        clock.advance(5)
    wait = limiter.check("1.2.3.4")  # t=15; first request at t=0
    assert wait == pytest.approx(45)
    assert limiter.check("1.2.3.4") == pytest.approx(45)  # a refusal is not counted
    clock.advance(wait)
    assert limiter.check("1.2.3.4") == 0.0
    assert limiter.check("1.2.3.4") > 0  # the window still holds the t=5 and t=10 requests and this one


def test_rate_limiter_keys_are_independent(clock):
    limiter = RateLimiter(1, clock=clock)
    assert limiter.check("a") == 0.0
    assert limiter.check("a") > 0
    assert limiter.check("b") == 0.0


def test_rate_limiter_forgets_idle_keys(clock):
    limiter = RateLimiter(2, clock=clock)
    for i in range(100):
        limiter.check(f"client-{i}")
    assert len(limiter) == 100
    clock.advance(61)
    limiter.check("new")
    assert len(limiter) == 1


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_rate_limiter_checks_per_minute(bad):
    with pytest.raises(ValueError, match="^per_minute:"):
        RateLimiter(bad)
