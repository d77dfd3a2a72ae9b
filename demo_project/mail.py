"""E-mail settings for Django 5.2/6.0 (``EMAIL_BACKEND``) and 6.1+ (``MAILERS``; the old
settings are deprecated there and may not be combined with it)."""

import django


def mail_backend(backend: str) -> dict:
    if django.VERSION >= (6, 1):
        return {"MAILERS": {"default": {"BACKEND": backend}}}
    return {"EMAIL_BACKEND": backend}
