"""Where the lake lives: root normalisation and storage options shared by tables and blobs.

One set of options — the object_store/deltalake ``AWS_*`` keys — configures both the Delta tables
(deltalake, polars) and the blob store (s3fs), so a deployment states its S3 endpoint and credentials once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

#: Storage-option keys understood for S3 (case-insensitive, as in object_store).
S3_OPTION_KEYS = (
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
)


def normalise_root(root: object, owner: str) -> str:
    """Return ``root`` as an absolute local path or ``s3://bucket[/prefix]`` without a trailing slash.

    ``owner`` names the caller in error messages (e.g. ``"Lake.root"``).
    """
    if not isinstance(root, str) or not root.strip():
        raise ValueError(f"{owner} must be a non-empty local path or s3:// URI, got {root!r}")
    root = root.strip()
    root = root.removeprefix("file://")
    if "://" in root:
        scheme, _, rest = root.partition("://")
        if scheme != "s3":
            raise ValueError(f"{owner} {root!r}: only local paths and s3:// URIs are supported")
        if not rest.strip("/"):
            raise ValueError(f"{owner} {root!r} names no bucket")
        return "s3://" + rest.strip("/")
    return os.path.abspath(os.path.expanduser(root))


def describe_location(root: str, options: Mapping[str, str] | None) -> str:
    """``root`` for messages: a local directory as is, an S3 root with the endpoint it is reached through."""
    if not root.startswith("s3://"):
        return root
    endpoint = {k.upper(): v for k, v in (options or {}).items()}.get("AWS_ENDPOINT_URL")
    return f"{root} ({endpoint or 'AWS S3'})"


def validate_storage_options(options: object, owner: str) -> dict[str, str] | None:
    """Copy ``options`` into a plain ``dict[str, str]`` (or ``None``), refusing non-string entries."""
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise TypeError(f"{owner} must be a mapping of strings, got {type(options).__name__}")
    bad = sorted(str(k) for k, v in options.items() if not isinstance(k, str) or not isinstance(v, str))
    if bad:
        raise ValueError(f"{owner}: keys and values must be strings; bad entries: {bad}")
    return dict(options)


def s3_storage_options(
    *,
    endpoint_url: str,
    access_key_id: str,
    secret_access_key: str,
    region: str = "us-east-1",
    allow_http: bool | None = None,
) -> dict[str, str]:
    """Build the storage options :class:`~physworld_core.lake.Lake` and ``BlobStore`` expect for S3.

    No locking provider is configured: delta-rs 1.x commits to S3 with conditional puts
    (``If-None-Match: *``), which AWS S3 and SeaweedFS enforce. ``allow_http`` defaults to whether
    ``endpoint_url`` is plain ``http://`` (SeaweedFS on a private network or in tests); object_store refuses
    plain HTTP unless told.
    """
    for label, value in (
        ("endpoint_url", endpoint_url),
        ("access_key_id", access_key_id),
        ("secret_access_key", secret_access_key),
        ("region", region),
    ):
        if not isinstance(value, str) or not value:
            raise ValueError(f"s3_storage_options: {label} must be a non-empty string, got {value!r}")
    if allow_http is None:
        allow_http = endpoint_url.startswith("http://")
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ALLOW_HTTP": "true" if allow_http else "false",
        "AWS_ACCESS_KEY_ID": access_key_id,
        "AWS_SECRET_ACCESS_KEY": secret_access_key,
        "AWS_REGION": region,
    }


def s3fs_kwargs(options: Mapping[str, str] | None) -> dict[str, Any]:
    """Translate ``AWS_*`` storage options into ``s3fs.S3FileSystem`` keyword arguments.

    Listing caches are off and the fsspec instance cache is skipped: blobs are written by several processes
    and a cached "absent" answer would make dedupe re-upload, while a shared instance is not fork-safe.
    Options not given fall back to botocore's usual environment/credential chain.
    """
    upper = {k.upper(): v for k, v in (options or {}).items()}
    kwargs: dict[str, Any] = {"use_listings_cache": False, "skip_instance_cache": True}
    endpoint = upper.get("AWS_ENDPOINT_URL") or upper.get("AWS_ENDPOINT")
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    if "AWS_ACCESS_KEY_ID" in upper:
        kwargs["key"] = upper["AWS_ACCESS_KEY_ID"]
    if "AWS_SECRET_ACCESS_KEY" in upper:
        kwargs["secret"] = upper["AWS_SECRET_ACCESS_KEY"]
    if upper.get("AWS_SESSION_TOKEN"):
        kwargs["token"] = upper["AWS_SESSION_TOKEN"]
    region = upper.get("AWS_REGION") or upper.get("AWS_DEFAULT_REGION")
    if region:
        kwargs["client_kwargs"] = {"region_name": region}
    return kwargs
