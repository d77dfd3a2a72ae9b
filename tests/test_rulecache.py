"""leadfollow.rulecache: rules kept per process, checked against a shared token; one cache
round trip per request for every token."""

import json

import pytest
from django.core.cache import cache, caches
from django.core.signals import request_finished, request_started
from rest_framework.test import APIClient

from leadfollow import rulecache
from leadfollow.models import Lead
from tests.factories import ScoringRuleFactory, make_api_key

pytestmark = pytest.mark.django_db

JO = {"name": "Jo Meyer", "email": "jo@example.com"}


@pytest.fixture
def client(db, rep):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_api_key('ads')[1]}")
    return api


def post(client, body):
    response = client.post("/api/leads/", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    return Lead.objects.get(pk=response.json()["id"])


@pytest.fixture
def rule_reads(monkeypatch):
    """The calls of the cache backend that read rule tokens: (method, keys)."""
    backend = caches["default"]
    seen, inside = [], []

    def recording(method):
        original = getattr(backend, method)

        def call(keys, *args, **kwargs):
            listed = [keys] if isinstance(keys, str) else list(keys)
            if not inside and any(key.startswith("leadfollow:rules:") for key in listed):
                seen.append((method, sorted(listed)))
            inside.append(method)  # a local cache's get_many calls its get: one trip
            try:
                return original(keys, *args, **kwargs)
            finally:
                inside.pop()

        return call

    for method in ("get", "get_many"):
        monkeypatch.setattr(backend, method, recording(method))
    return seen


def test_an_api_intake_reads_every_rule_token_in_one_cache_round_trip(client, rule_reads):
    post(client, JO)  # warm: tokens made, rules loaded
    rule_reads.clear()
    post(client, {**JO, "email": "kim@example.com"})
    # Its key, scoring, routing (twice) and webhooks each ask for their token: one read.
    assert rule_reads == [("get_many", sorted(rulecache._key(n) for n in rulecache.NAMES))]


def test_a_rule_another_process_added_counts_from_the_next_request(client):
    assert post(client, JO).score == 0
    stale = rulecache._local["scoring"]
    ScoringRuleFactory(field_path="source", value="ads", points=15)
    # As in another process: it still holds the rules it read before the change, and the
    # shared token is what that change left there.
    rulecache._local["scoring"] = stale
    assert post(client, {**JO, "email": "kim@example.com"}).score == 15


def test_outside_a_request_each_use_reads_the_shared_token(client):
    post(client, JO)  # a request came and went in this thread
    for token in ("one", "two"):
        cache.set(rulecache._key("scoring"), token)
        assert rulecache._token("scoring") == token


def test_within_a_request_tokens_are_read_once_until_a_rule_changes_in_it():
    request_started.send(sender=None)
    try:
        before = rulecache._token("scoring")
        cache.set(rulecache._key("scoring"), "changed elsewhere meanwhile")
        assert rulecache._token("scoring") == before  # the request keeps its start's rules
        rulecache._new_token("scoring")  # this request changed a scoring rule
        assert rulecache._token("scoring") not in (before, "changed elsewhere meanwhile")
    finally:
        request_finished.send(sender=None)
    cache.set(rulecache._key("scoring"), "after the request")
    assert rulecache._token("scoring") == "after the request"


def test_a_cache_that_keeps_nothing_reads_the_rules_every_time_without_warning(
    client, settings, caplog
):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    ScoringRuleFactory(field_path="source", value="ads", points=15)
    with caplog.at_level("WARNING", logger="leadfollow.rulecache"):
        assert post(client, JO).score == 15
        assert rulecache._token("scoring") is None
    assert not caplog.records
