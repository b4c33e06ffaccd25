"""Base URLs of the Yandex Cloud services we call.

Yandex runs installations on other hosts (regional and private clouds), and tests point every
service at one simulator, so each base URL is configurable; paths (``/compute/v1/...``) are fixed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

CANONICAL_IAM_TOKENS_URL = "https://iam.api.cloud.yandex.net/iam/v1/tokens"


@dataclass(frozen=True, slots=True)
class YandexEndpoints:
    iam: str = "https://iam.api.cloud.yandex.net"
    resource_manager: str = "https://resource-manager.api.cloud.yandex.net"
    compute: str = "https://compute.api.cloud.yandex.net"
    vpc: str = "https://vpc.api.cloud.yandex.net"
    storage: str = "https://storage.api.cloud.yandex.net"
    mdb: str = "https://mdb.api.cloud.yandex.net"
    kubernetes: str = "https://mks.api.cloud.yandex.net"
    monitoring: str = "https://monitoring.api.cloud.yandex.net"
    billing: str = "https://billing.api.cloud.yandex.net"

    def __post_init__(self) -> None:
        for f in fields(self):
            url = getattr(self, f.name)
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"endpoint {f.name!r} must be an http(s) URL")
            object.__setattr__(self, f.name, url.rstrip("/"))

    @classmethod
    def single(cls, base_url: str) -> YandexEndpoints:
        """Every service behind one host, as the simulator serves them."""
        return cls(**{f.name: base_url for f in fields(cls)})

    @classmethod
    def from_mapping(cls, overrides: Mapping[str, str] | None) -> YandexEndpoints:
        """Defaults with a connection's overrides applied; ``{"*": url}`` overrides them all."""
        overrides = dict(overrides or {})
        base = cls.single(overrides.pop("*")) if "*" in overrides else cls()
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown Yandex Cloud endpoint(s): {', '.join(sorted(unknown))}")
        return replace(base, **overrides)

    @property
    def iam_tokens_url(self) -> str:
        return f"{self.iam}/iam/v1/tokens"
