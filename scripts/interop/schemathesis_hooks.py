"""Schemathesis hooks for ena (loaded by run_schemathesis.py through SCHEMATHESIS_HOOKS): a serializer for
the one request media type it does not know, `application/entity-statement+jwt` (a compact JWS, sent as
text)."""
import schemathesis


@schemathesis.serializer("application/entity-statement+jwt")
def entity_statement(ctx, value):
    return value if isinstance(value, bytes) else str(value).encode()
