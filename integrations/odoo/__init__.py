"""The Odoo connector (pure Python, no Django).

Entry points for the Django side:

- :class:`integrations.odoo.client.OdooClient` / ``OdooConfig`` — the wire, per external system;
- :func:`integrations.odoo.importer.import_master_data` / ``import_all`` — master data;
- :func:`integrations.odoo.employees.export_employees` — employees Odoo lacks;
- :func:`integrations.odoo.posting.post_expenses` — batched, idempotent posting;
- :func:`integrations.odoo.readback.read_back` — what Odoo posted and paid, by reference;
- :class:`integrations.odoo.binder.Binder` — the protocol a Binding table implements.

Errors are the families of :mod:`integrations.errors`; data crosses as the
frozen dataclasses of :mod:`integrations.odoo.types`.
"""
