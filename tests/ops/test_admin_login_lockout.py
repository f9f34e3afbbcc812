"""The admin login is rate limited (django-axes): after CURIO_ADMIN_LOGIN_FAILURE_LIMIT (5) failed logins in a row
for one username from one address, that pair is locked out (429, the lockout page) for the cool-off
(CURIO_ADMIN_LOGIN_COOLOFF_MINUTES, 15), even with the right password. API tokens never touch it."""
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import F
from django.http import HttpRequest
from django.test import Client

pytestmark = pytest.mark.django_db

USERNAME, PASSWORD = "boss", "right-horse-battery-staple"
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def admin_user():
    return User.objects.create_superuser(USERNAME, password=PASSWORD)


def log_in(client: Client, password: str, username: str = USERNAME):
    return client.post(LOGIN, {"username": username, "password": password})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_defaults_are_five_failures_and_fifteen_minutes():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_wrong_passwords_lock_the_login_then_the_right_one_is_refused_until_the_cool_off(admin_user):
    browser = Client()
    for attempt in range(1, settings.AXES_FAILURE_LIMIT):
        answer = log_in(browser, f"wrong-{attempt}")
        assert answer.status_code == 200 and b"Please enter the correct username and password" in answer.content
    for attempt in (5, 6):  # the fifth failure locks; the sixth is refused as well
        answer = log_in(browser, f"wrong-{attempt}")
        assert answer.status_code == 429, attempt
        assert b"Too many login attempts" in answer.content
        assert "Content-Security-Policy" in answer  # the lockout page is a page like the others

    answer = log_in(browser, PASSWORD)
    assert answer.status_code == 429 and not logged_in(browser)

    # The same username from another address is not locked (username + address), so a guesser elsewhere
    # cannot lock the merchandiser out of their own desk.
    desk = Client(REMOTE_ADDR="10.0.0.7")
    assert log_in(desk, PASSWORD).status_code == 302 and logged_in(desk)

    # After the cool-off the right password works again, and the count starts over.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(minutes=1))
    answer = log_in(browser, PASSWORD)
    assert answer.status_code == 302 and answer["Location"] == "/admin/" and logged_in(browser)
    assert not AccessAttempt.objects.filter(username=USERNAME, ip_address="127.0.0.1").exists()


def test_a_success_before_the_limit_resets_the_count(admin_user):
    browser = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(browser, "wrong").status_code == 200
    assert log_in(browser, PASSWORD).status_code == 302
    browser.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(browser, "wrong").status_code == 200
    assert log_in(browser, PASSWORD).status_code == 302 and logged_in(browser)


def test_api_tokens_are_not_admin_logins(admin_user, write_api):
    """Bad API tokens answer 401 and are not counted as login failures; a locked admin login leaves the API alone."""
    guesser = Client()
    for n in range(settings.AXES_FAILURE_LIMIT + 2):
        answer = guesser.get("/api/v1/popular/", HTTP_AUTHORIZATION=f"Token wrong-{n}")
        assert answer.status_code == 401
    assert not AccessAttempt.objects.exists()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(guesser, "wrong")
    assert log_in(guesser, PASSWORD).status_code == 429
    assert write_api.get("/api/v1/popular/").status_code == 200


def test_force_login_and_login_with_a_request_still_work_for_tests(admin_user):
    """Tests log in with force_login (no password, no authenticate; the session's backend is ModelBackend), or
    with client.login(request=HttpRequest(), ...): axes watches logins through a request, and refuses a bare
    client.login(username=..., password=...) with AxesBackendRequestParameterRequired."""
    browser = Client()
    browser.force_login(admin_user)
    assert browser.get("/admin/").status_code == 200
    assert browser.session["_auth_user_backend"] == "django.contrib.auth.backends.ModelBackend"
    other = Client()
    assert other.login(request=HttpRequest(), username=USERNAME, password=PASSWORD)
    assert other.get("/admin/").status_code == 200
