# Loaded by tests/api/schemathesis.test.ts (SCHEMATHESIS_HOOKS). Prometheus remote write bodies are
# opaque bytes (snappy-compressed protobuf), and so are tus PATCH bodies
# (application/offset+octet-stream): send the generated binary as is, like octet-stream.
import schemathesis

schemathesis.serializer.alias(
    [
        "application/x-protobuf",
        "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        "application/offset+octet-stream",
    ],
    "application/octet-stream",
)
