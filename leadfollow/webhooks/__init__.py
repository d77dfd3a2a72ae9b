"""Signed outbound webhooks for lead events (Standard Webhooks format).

- ``events``: which lifecycle change is which event, the payload, the delivery rows;
- ``delivery``: the django-q2 task that sends one delivery, retries, auto-disabling;
- ``signing``: Standard Webhooks signatures (sign, and verify for receivers and tests);
- ``outbound``: the one HTTP client for URLs managers or reps typed (SSRF-safe).
"""
