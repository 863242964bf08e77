"""The browsable API, for a developer at a browser."""

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API, whose raw-data form keeps what was sent when the answer is an error.

    DRF fills the form afresh on every page, so a body refused with a 400 (a typo in the
    JSON, a quantity too large) was gone from it, to be typed again in full.
    """

    def get_raw_data_form(self, data, view, method, request):
        form = super().get_raw_data_form(data, view, method, request)
        response = self.renderer_context.get("response")
        raw_body = getattr(request, "raw_body", None)
        if form is not None and raw_body and method == request.method and response.status_code >= 400:
            form.initial = {
                "_content_type": request.content_type,
                "_content": raw_body.decode(request.parser_context["encoding"], errors="replace"),
            }
        return form
