"""Pure translation between the OpenAI Chat Completions and Anthropic Messages APIs.

Nothing here does I/O or touches Django: each function maps parsed JSON to
parsed JSON (or to the bytes of a stream), so the views and services can call
it on every request and the tests can exercise it without a database.

- ``openai_request``: validate an OpenAI request and build the Anthropic one.
- ``openai_response``: turn an Anthropic message into an OpenAI completion.
- ``openai_stream``: turn Anthropic stream events into OpenAI chunks.
"""
