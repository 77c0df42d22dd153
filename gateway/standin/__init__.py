"""A local stand-in for the Anthropic API and for Ollama.

Real HTTP, faithful streams, simulated prompt caching and billing, and
scriptable latency and faults, for the test suite, the benchmarks and a
demo run without an API key. It imports nothing from Django, so tests can
use it without a database.

- :func:`build_app` returns the ASGI application.
- :class:`StandinServer` runs it on a free port in a background thread.
- ``python manage.py run_standin`` or ``python -m gateway.standin`` runs it
  in the foreground.
"""

from gateway.standin.app import StandinApp, build_app
from gateway.standin.server import StandinServer, run_standin
from gateway.standin.state import StandinOptions

__all__ = ["StandinApp", "StandinOptions", "StandinServer", "build_app", "run_standin"]
