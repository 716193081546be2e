"""The Odoo sandbox: a standalone server that answers like Odoo 17.0 or 19.0.

What stripe-mock is to Stripe: real HTTP, real XML-RPC / JSON-RPC / JSON-2,
the recorded expense workflows and faults, SQLite persistence, a latency model
and fault injection. Run it with ``python -m integrations.odoo.sandbox`` (see
``docs/odoo-sandbox.md``) or from tests with ``testing.run_sandbox``.

Pure standard library (no Django): the package must stay importable without
settings.
"""
