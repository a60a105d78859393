"""Start-up checks of the deployment settings (Django's system-check framework, and the WSGI entry)."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

SECRET_KEY_MISSING = (
    "SECRET_KEY is not set and DEBUG is off: the server will not run on a known key. Set SECRET_KEY "
    'to a long random value (python -c "import secrets; print(secrets.token_urlsafe(50))"), '
    "or DEBUG=1 for local development only."
)


def secret_key_missing() -> bool:
    # Django raises on reading an empty SECRET_KEY (since 3.2, on first use rather than at start).
    try:
        return not settings.SECRET_KEY
    except ImproperlyConfigured:
        return True


def require_secret_key() -> None:
    """Refuse to serve without a secret key: sessions and CSRF tokens would be unusable or forgeable."""
    if secret_key_missing():
        raise ImproperlyConfigured(SECRET_KEY_MISSING)


@register(Tags.security, deploy=True)
def check_secret_key_set(app_configs, **kwargs) -> list[Error]:
    """`check --deploy` names the missing key as an error (Django's own W009 is only a warning).

    Not an ordinary check: those run before every command, and the command-line tools that sign
    nothing (migrate, imports, exports) must run without a key."""
    return [Error(SECRET_KEY_MISSING, id="leadscoring.E001")] if secret_key_missing() else []
