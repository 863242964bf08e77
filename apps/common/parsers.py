"""The API's request parser."""

import io

from rest_framework import parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, keeping the body it read as ``request.raw_body``.

    The stream can be read once; the browsable API shows the body again in its form
    after a 400 (apps.common.renderers), even one that is not JSON at all.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        request = (parser_context or {}).get("request")
        if request is not None:
            request.raw_body = body
        return super().parse(io.BytesIO(body), media_type, parser_context)
