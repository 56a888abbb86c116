"""A person's data across apps: export (right of access) and erasure (GDPR).

Both combine apps, so they live in ``crm`` (which may import from every app).
Each app contributes through two plain lists: ``export.EXPORT_SECTIONS`` and
``erasure.ERASE_STEPS``:

- ``EXPORT_SECTIONS``: ``(key, function(lead) -> JSON-ready value)``; the key
  is a top-level key of the export. List-valued sections are counted in the
  audit event.
- ``ERASE_STEPS``: ``function(*, lead, now) -> dict[str, int]`` run in the
  erase transaction with the lead locked; the counts go into the audit event.

The handoff sections export the lead's handoffs, their events, contact
attempts and sales outcomes; its erase step blanks their free text (SDR and
sales feedback, attempt notes), which may describe the person, and keeps the
rows, whose counts, times and reasons the reports need. The scoring sections
export the lead's scores with their breakdowns and the score history; its
erase step takes the matched values (a job title, an attribute) out of the
breakdowns. Leads merged into this one are the same person: they are
exported with it and erased with it.

Outside the lead's rows, a full database dump would still show the person in
two places, and erasure reaches both: the stored CSV files of imports (the
person's records are blanked in place, cell by cell, so line numbers and row
counts stay; the job's rejected rows and notes that name the e-mail are
blanked too), and the admin's change log (its ``object_repr`` is the lead's
name). Audit rows hold ids, codes and counts only and stay as they are.

Copies the person leaves in other systems' data are reached too: external
ids of touchpoints built from their address or name, an account made from
their own domain, stage reasons a person typed, and error messages of failed
tasks (``leads.erasure`` describes the rules).
"""
