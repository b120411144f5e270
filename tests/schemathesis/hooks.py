"""Schemathesis hooks for Berth's API run (tests/it/openapi.rs loads them through
SCHEMATHESIS_HOOKS): request bodies of type application/x-tar (image build contexts and
`docker save` archives) made as real tars, and some that are not, so the engine is asked both."""

import io
import tarfile

import schemathesis
from hypothesis import strategies as st


def _tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


_SAMPLES = [
    # A build context that builds without a registry.
    _tar([("Dockerfile", b"FROM scratch\nCOPY hello /hello\n"), ("hello", b"hi\n")]),
    # A build context whose Dockerfile does not parse.
    _tar([("Dockerfile", b"NOT A DOCKERFILE\n")]),
    # A tar with neither a Dockerfile nor a manifest.
    _tar([("readme.txt", b"nothing to see\n")]),
    # An empty body.
    b"",
]

schemathesis.openapi.media_type(
    "application/x-tar",
    st.sampled_from(_SAMPLES) | st.binary(max_size=512),
)
