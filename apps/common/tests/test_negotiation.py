"""The API's content negotiation picks what DRF's own would, for every Accept header and format."""

import pytest
from django.http import Http404
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from apps.common.negotiation import ApiContentNegotiation

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "text/html",
    "application/json; indent=4",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "application/*",
    "application/xml",
    "",
]


def _choice(negotiation, request, renderers, suffix):
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
    except NotAcceptable:
        return "406"
    except Http404:
        return "404"
    return type(renderer), media_type


@given(
    accept=st.sampled_from(ACCEPTS) | st.text(max_size=40),
    query_format=st.sampled_from([None, "json", "api", "xml", ""]),
    suffix=st.sampled_from([None, "json", "api"]),
    browsable=st.booleans(),
)
def test_it_chooses_the_renderer_and_media_type_drf_s_negotiation_chooses(accept, query_format, suffix, browsable):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    query = {} if query_format is None else {"format": query_format}
    request = Request(APIRequestFactory().get("/orders", query, **headers))
    renderers = [JSONRenderer(), BrowsableAPIRenderer()] if browsable else [JSONRenderer()]

    assert _choice(ApiContentNegotiation(), request, renderers, suffix) == _choice(
        DefaultContentNegotiation(), request, renderers, suffix
    )


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_an_api_client_s_request_is_answered_without_ranking_the_renderers(accept, monkeypatch):
    monkeypatch.setattr(DefaultContentNegotiation, "select_renderer", lambda *args: pytest.fail("ranked"))
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().post("/orders", **headers))

    renderer, media_type = ApiContentNegotiation().select_renderer(request, [JSONRenderer(), BrowsableAPIRenderer()])

    assert (type(renderer), media_type) == (JSONRenderer, "application/json")
