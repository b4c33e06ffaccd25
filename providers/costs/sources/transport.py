"""HTTP for non-JSON answers (S3 XML and object bodies, CBR XML), on our HttpClient's rules.

``RawHttpClient`` goes through HttpClient's own retry loop (timeouts, the retry policy of
``providers.adapters.retry``, redaction and call counting); it only returns the response itself
instead of decoded JSON, optionally streamed, and reads S3's XML error envelope for messages.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from providers.adapters.base import ProviderResponseError
from providers.adapters.http import HttpClient


def parse_untrusted_xml(data: bytes, what: str) -> ET.Element:
    """Parse XML from the network. S3 and the CBR never send a DTD, so any DTD is refused: that
    rules out entity expansion and external entities (defusedxml's default policy, without the
    dependency)."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ProviderResponseError(f"{what}: the XML answer declares a DTD; refused")
    try:
        return ET.fromstring(data)  # noqa: S314 -- DTDs refused above
    except ET.ParseError as exc:
        raise ProviderResponseError(f"{what}: the answer is not well-formed XML ({exc})") from None


def local_name(tag: str) -> str:
    """'{http://s3.amazonaws.com/doc/2006-03-01/}Key' -> 'Key'."""
    return tag.rpartition("}")[2]


class RawHttpClient(HttpClient):
    def request_raw(
        self,
        method: str,
        url: str,
        *,
        headers: Callable[[], dict[str, str]] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send a request, retrying transient failures; returns a response with status < 300.

        ``headers`` is called before every attempt, so each attempt is signed afresh (a SigV4
        signature carries its own timestamp)."""
        what = f"{method} {urlsplit(url).path}"
        return self._send(
            what,
            lambda: self.session.request(
                method,
                url,
                headers=headers() if headers else None,
                timeout=self.timeout,
                stream=stream,
            ),
        )

    @staticmethod
    def error_detail(response: requests.Response) -> tuple[object, str]:
        """(code, message) from S3's ``<Error><Code/><Message/></Error>``, else HttpClient's."""
        body = response.content or b""
        if body.lstrip().startswith(b"<"):
            try:
                root = parse_untrusted_xml(body, "error")
            except ProviderResponseError:
                return None, ""
            fields = {local_name(child.tag): (child.text or "") for child in root}
            return fields.get("Code"), fields.get("Message", "")[:500]
        return HttpClient.error_detail(response)
